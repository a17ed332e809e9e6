/*
 * cli_main.c - `corral [--url URL] [--timeout MS] COMMAND ...`: the options
 * shared by every command, and the dispatch to one.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	cli_command_fn *fn;
} main_commands[] = {
	{"infer", cli_infer},
	{"metadata", cli_metadata},
	{"models", cli_models},
	{"health", cli_health},
	{"status", cli_status},
	{"batch", cli_batch},
	{"baseline", cli_baseline},
	{"feedback", cli_feedback},
	{"export-log", cli_export_log},
	{"promote", cli_control},
	{"load", cli_control},
	{"unload", cli_control},
	{"reload", cli_control},
	{"validate", cli_control},
	{"rollback", cli_control},
	{"set-traffic", cli_control},
	{"shadow", cli_control},
};

static void main_usage(FILE *f)
{
	fputs(
	    "Usage: corral [--url URL] [--timeout MS] COMMAND [ARGS...]\n"
	    "       corral --help | --version\n"
	    "\n"
	    "Talk to a corrald daemon.\n"
	    "\n"
	    "Commands:\n"
	    "  infer MODEL [FILE|-]  run MODEL on rows of numbers (JSON or CSV)\n"
	    "  metadata MODEL        show a model's inputs and outputs\n"
	    "  models                list the served model versions\n"
	    "  health                show whether the daemon is live and ready\n"
	    "  status [MODEL]        show workers, exits by cause, limits, sandbox\n"
	    "  batch MODEL FILE -o OUT   score a CSV or JSON-lines file of any size\n"
	    "  baseline DIR TRAIN.csv    write a version's drift baseline (offline)\n"
	    "  feedback ID VALUE...      the ground truth of a logged prediction\n"
	    "  export-log MODEL [-o OUT] the prediction log as CSV (offline)\n"
	    "  promote MODEL VERSION make VERSION the default (admin token)\n"
	    "  rollback MODEL        back to the previous default (admin token)\n"
	    "  set-traffic MODEL V=W...  split traffic by weight (admin token)\n"
	    "  shadow MODEL V PERCENT    mirror traffic to V, compare (admin token)\n"
	    "  load MODEL [VERSION]      serve a version or model (admin token)\n"
	    "  unload MODEL [VERSION]    drain and stop it (admin token)\n"
	    "  reload [MODEL]            read the repository again (admin token)\n"
	    "  validate MODEL VERSION    run a version's validation gate (admin token)\n"
	    "\n"
	    "Options (also accepted after COMMAND):\n"
	    "  --url URL     the daemon's address, ipc://PATH or tcp://HOST:PORT\n"
	    "                (default: $CORRAL_URL, else " CORRAL_DEFAULT_URL ")\n"
	    "  --timeout MS  each request's deadline, sent with an infer (the daemon\n"
	    "                answers DEADLINE_EXCEEDED then); default 30000\n"
	    "  -h, --help    show this help; 'corral COMMAND --help' for one command\n"
	    "  --version     show corral's version\n"
	    "\n"
	    "Exit status: 0 success, 1 the server or the connection failed,\n"
	    "2 bad arguments or input.\n",
	    f);
}

enum { MAIN_OPT_VERSION = CLI_OPT_COMMAND };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_SHARED_OPTIONS,
		{"version", no_argument, NULL, MAIN_OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	const char *env = getenv("CORRAL_URL");
	cli_ctx ctx = {
		.url = env && env[0] ? env : CORRAL_DEFAULT_URL,
	};
	cli_command_fn *fn = NULL;
	const char *cmd;
	int c, rc;

	optind = 0;
	/* '+': stop at the command; its options are its own. */
	while ((c = cli_getopt(&ctx, NULL, argc, argv, "+:h", longopts)) != -1) {
		switch (c) {
		case 'h':
			main_usage(stdout);
			return CLI_EXIT_OK;
		case MAIN_OPT_VERSION:
			printf("corral %s\n", CORRAL_CLI_VERSION);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		main_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	cmd = argv[optind];
	for (size_t i = 0; i < sizeof main_commands / sizeof *main_commands;
	    i++)
		if (strcmp(cmd, main_commands[i].name) == 0)
			fn = main_commands[i].fn;
	if (!fn)
		return cli_usage_error(NULL, "unknown command '%s'", cmd);
	rc = fn(&ctx, argc - optind, argv + optind);
	/* Output that could not be written (a full disk) is a failure; the
	 * commands leave saying so to this one place. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("corral: cannot write the output");
		rc = CLI_EXIT_FAIL;
	}
	return rc;
}
