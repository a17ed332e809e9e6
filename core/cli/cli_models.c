/*
 * cli_models.c - `corral models [--json]`: the served model versions.
 */
#include "cli.h"

#include <stdbool.h>
#include <stdio.h>

#include "cli_output.h"

static void models_usage(FILE *f)
{
	fputs(
	    "Usage: corral models [--json]\n"
	    "\n"
	    "List the model versions the daemon serves, one line each, in the\n"
	    "columns NAME VERSION STATE DEFAULT LAST ERROR. STATE is STARTING,\n"
	    "READY, CRASHED or FAILED; DEFAULT is yes for the version served\n"
	    "when a request names none; LAST ERROR says why its last worker\n"
	    "ended, if one did.\n"
	    "\n"
	    "Options:\n"
	    "  --json        print {\"models\": [{\"name\", \"version\", \"state\",\n"
	    "                \"default\", \"last_error\"?}, ...]} instead of the table\n"
	    "  --url URL, --timeout MS  as for 'corral --help'\n"
	    "  -h, --help    show this help\n"
	    "\n"
	    "Exit status: 0 success, 1 the server or the connection failed,\n"
	    "2 bad arguments.\n",
	    f);
}

enum { MODELS_OPT_JSON = CLI_OPT_COMMAND };

int cli_models(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_SHARED_OPTIONS,
		{"json", no_argument, NULL, MODELS_OPT_JSON},
		{NULL, 0, NULL, 0},
	};
	corral_client *c = NULL;
	corral_model_list *list = NULL;
	corral_error err = {0};
	corral_status st;
	bool as_json = false;
	int opt, rc;

	optind = 0;
	while ((opt = cli_getopt(ctx, "models", argc, argv, ":h",
	    longopts)) != -1) {
		switch (opt) {
		case 'h':
			models_usage(stdout);
			return CLI_EXIT_OK;
		case MODELS_OPT_JSON:
			as_json = true;
			break;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("models", "unexpected argument '%s'",
		    argv[optind]);

	rc = cli_connect(ctx, &c);
	if (rc != CLI_EXIT_OK)
		return rc;
	st = corral_list_models(c, &list, &err);
	corral_client_close(c);
	if (st != CORRAL_OK)
		return cli_status_error(st, &err);

	rc = CLI_EXIT_OK;
	if (as_json) {
		json_t *doc = cli_models_json(list);
		if (!doc) {
			fputs("corral: out of memory\n", stderr);
			rc = CLI_EXIT_FAIL;
		} else if (cli_print_json(stdout, doc, JSON_INDENT(2)) != 0) {
			rc = CLI_EXIT_FAIL;
		}
		json_decref(doc);
	} else {
		cli_models_table(stdout, list);
	}
	corral_model_list_free(list);
	return rc;
}
