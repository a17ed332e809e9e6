/*
 * cli_metadata.c - `corral metadata MODEL [--version N]`: a model's
 * signature as JSON.
 */
#include "cli.h"

#include <stdio.h>

#include "cli_output.h"

static void metadata_usage(FILE *f)
{
	fputs(
	    "Usage: corral metadata MODEL [--version N]\n"
	    "\n"
	    "Print MODEL's signature as JSON: {\"name\", \"version\", \"plugin\",\n"
	    "\"plugin_version\", \"inputs\": [...], \"outputs\": [...]}, each input\n"
	    "and output {\"name\", \"datatype\", \"shape\"} with -1 for a dimension\n"
	    "of any size.\n"
	    "\n"
	    "Options:\n"
	    "  --version N   the model version (default: the default version)\n"
	    "  --url URL, --timeout MS  as for 'corral --help'\n"
	    "  -h, --help    show this help\n"
	    "\n"
	    "Exit status: 0 success, 1 the server or the connection failed,\n"
	    "2 bad arguments.\n",
	    f);
}

enum { METADATA_OPT_VERSION = CLI_OPT_COMMAND };

int cli_metadata(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_SHARED_OPTIONS,
		{"version", required_argument, NULL, METADATA_OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	corral_client *c = NULL;
	corral_metadata *meta = NULL;
	corral_error err = {0};
	corral_status st;
	const char *model;
	int64_t version = 0;
	json_t *doc;
	int opt, rc;

	optind = 0;
	while ((opt = cli_getopt(ctx, "metadata", argc, argv, ":h",
	    longopts)) != -1) {
		switch (opt) {
		case 'h':
			metadata_usage(stdout);
			return CLI_EXIT_OK;
		case METADATA_OPT_VERSION:
			rc = cli_parse_version("metadata", optarg, &version);
			if (rc != CLI_EXIT_OK)
				return rc;
			break;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("metadata", "which model? (corral "
		    "metadata MODEL)");
	if (optind + 1 < argc)
		return cli_usage_error("metadata", "unexpected argument '%s'",
		    argv[optind + 1]);
	model = argv[optind];

	rc = cli_connect(ctx, &c);
	if (rc != CLI_EXIT_OK)
		return rc;
	st = corral_get_metadata(c, model, version, &meta, &err);
	corral_client_close(c);
	if (st != CORRAL_OK)
		return cli_status_error(st, &err);

	doc = cli_metadata_json(meta);
	corral_metadata_free(meta);
	if (!doc) {
		fputs("corral: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	rc = cli_print_json(stdout, doc, JSON_INDENT(2)) == 0 ?
	    CLI_EXIT_OK : CLI_EXIT_FAIL;
	json_decref(doc);
	return rc;
}
