/*
 * cli_health.c - `corral health`: is the daemon live, and ready?
 */
#include "cli.h"

#include <stdbool.h>
#include <stdio.h>

static void health_usage(FILE *f)
{
	fputs(
	    "Usage: corral health [MODEL]\n"
	    "\n"
	    "Print whether the daemon is live (it answers) and ready (every\n"
	    "model version it serves, or MODEL's only, has a READY worker):\n"
	    "  live: true|false\n"
	    "  ready: true|false\n"
	    "\n"
	    "Options:\n"
	    "  --url URL, --timeout MS  as for 'corral --help'\n"
	    "  -h, --help    show this help\n"
	    "\n"
	    "Exit status: 0 ready; 1 not ready, or not live (the error is on\n"
	    "standard error); 2 bad arguments.\n",
	    f);
}

int cli_health(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_SHARED_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	corral_client *c = NULL;
	corral_error err = {0};
	corral_status st;
	bool live = false, ready = false;
	int opt, rc;

	optind = 0;
	while ((opt = cli_getopt(ctx, "health", argc, argv, ":h",
	    longopts)) != -1) {
		switch (opt) {
		case 'h':
			health_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("health", "unexpected argument '%s'",
		    argv[optind + 1]);
	const char *model = optind < argc ? argv[optind] : NULL;

	rc = cli_connect(ctx, &c);
	if (rc == CLI_EXIT_OK) {
		st = corral_model_health(c, model, &live, &ready, &err);
		if (st != CORRAL_OK) {
			/* No answer: not live, whatever the call left. */
			rc = cli_status_error(st, &err);
			live = ready = false;
		}
	}
	corral_client_close(c);
	printf("live: %s\nready: %s\n", live ? "true" : "false",
	    ready ? "true" : "false");
	if (rc != CLI_EXIT_OK)
		return rc;
	return live && ready ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
