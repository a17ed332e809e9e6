/*
 * cli_control.c - the control commands. `corral promote`, `rollback`,
 * `set-traffic` and `shadow` change which version serves requests that
 * name none, and which one shadows it; they print the model's routing as
 * JSON. `corral load`, `unload` and `reload` change which versions are
 * served; they print the changes as JSON. Each needs the daemon's admin
 * token: --token-file FILE (its first line), else $CORRAL_ADMIN_TOKEN.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void control_usage(FILE *f, const char *cmd)
{
	if (strcmp(cmd, "promote") == 0)
		fputs("Usage: corral promote [--token-file FILE] MODEL VERSION\n\n"
		      "Make VERSION (READY) the default: requests that name no version go\n"
		      "to it. The old default becomes the rollback target; a canary ends.\n",
		    f);
	else if (strcmp(cmd, "shadow") == 0)
		fputs("Usage: corral shadow [--token-file FILE] MODEL VERSION PERCENT\n\n"
		      "Also send PERCENT (0-100) of the requests the default version answers\n"
		      "to VERSION (READY): its answers are compared with the default's and\n"
		      "never returned; 'corral status MODEL' shows the counts. VERSION 0\n"
		      "or PERCENT 0 stops it.\n",
		    f);
	else if (strcmp(cmd, "load") == 0)
		fputs("Usage: corral load [--token-file FILE] MODEL [VERSION]\n\n"
		      "Serve VERSION of MODEL (a folder in the repository), on top of the\n"
		      "version policy and across restarts. Without VERSION, read MODEL's\n"
		      "folder again (a new model folder too) and serve what its policy picks.\n"
		      "New versions start; they take traffic once READY.\n",
		    f);
	else if (strcmp(cmd, "unload") == 0)
		fputs("Usage: corral unload [--token-file FILE] MODEL [VERSION]\n\n"
		      "Stop serving VERSION (not one the routing names), or the whole\n"
		      "MODEL: it takes no new requests, finishes the ones it has, and its\n"
		      "workers stop. Kept across restarts.\n",
		    f);
	else if (strcmp(cmd, "reload") == 0)
		fputs("Usage: corral reload [--token-file FILE] [MODEL]\n\n"
		      "Read the model repository again (only MODEL's folder, when given):\n"
		      "new model and version folders are served, versions the policy no\n"
		      "longer picks are unloaded once a newer one is READY (blue/green).\n",
		    f);
	else if (strcmp(cmd, "validate") == 0)
		fputs("Usage: corral validate [--token-file FILE] MODEL VERSION\n\n"
		      "Run VERSION's validation gate now: score its validation set\n"
		      "(validation.csv) and compare with the default version and the\n"
		      "thresholds in validation.yaml. A version that fails takes no traffic\n"
		      "that names no version; one that passes may. Exit status 0 passed,\n"
		      "1 failed or refused.\n",
		    f);
	else if (strcmp(cmd, "rollback") == 0)
		fputs("Usage: corral rollback [--token-file FILE] MODEL\n\n"
		      "Make the previous default version the default again, in one step.\n",
		    f);
	else
		fputs("Usage: corral set-traffic [--token-file FILE] MODEL VERSION=WEIGHT...\n\n"
		      "Split requests that name no version over the versions by weight,\n"
		      "e.g. 1=90 2=10 (a canary). No VERSION=WEIGHT ends the split.\n",
		    f);
	fputs("\nThe daemon's admin token comes from --token-file FILE (its first\n"
	      "line), else from $CORRAL_ADMIN_TOKEN. load, unload and reload print\n"
	      "the changes as JSON; the others print the model's routing.\n\n"
	      "Options:\n"
	      "  --token-file FILE         the admin token\n"
	      "  --url URL, --timeout MS  as for 'corral --help'\n"
	      "  -h, --help               show this help\n\n"
	      "Exit status: 0 done; 1 refused or failed; 2 bad arguments.\n",
	    f);
}

/* The token: FILE's first line, else $CORRAL_ADMIN_TOKEN, else NULL. */
static char *read_token(const char *file)
{
	if (file == NULL) {
		const char *env = getenv("CORRAL_ADMIN_TOKEN");
		return env ? strdup(env) : NULL;
	}
	FILE *f = fopen(file, "r");
	char line[512];
	if (f == NULL || fgets(line, sizeof line, f) == NULL) {
		if (f)
			fclose(f);
		return NULL;
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	return strdup(line);
}

/* VERSION=WEIGHT */
static int parse_weight(const char *s, int64_t *version, int64_t *weight)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (v <= 0 || *end != '=')
		return -1;
	const char *digits = end + 1;
	long long w = strtoll(digits, &end, 10);
	if (w < 0 || end == digits || *end != '\0')
		return -1;
	*version = v;
	*weight = w;
	return 0;
}

int cli_control(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_TOKEN_FILE = CLI_OPT_COMMAND };
	static const struct option longopts[] = {
		CLI_SHARED_OPTIONS,
		{"token-file", required_argument, NULL, OPT_TOKEN_FILE},
		{NULL, 0, NULL, 0},
	};
	const char *cmd = argv[0], *token_file = NULL;
	int opt;
	optind = 0;
	while ((opt = cli_getopt(ctx, cmd, argc, argv, ":h", longopts)) != -1) {
		switch (opt) {
		case 'h': control_usage(stdout, cmd); return CLI_EXIT_OK;
		case OPT_TOKEN_FILE: token_file = optarg; break;
		default: return CLI_EXIT_USAGE;
		}
	}
	bool promote = strcmp(cmd, "promote") == 0, rollback = strcmp(cmd, "rollback") == 0;
	bool shadow = strcmp(cmd, "shadow") == 0;
	bool load = strcmp(cmd, "load") == 0, unload = strcmp(cmd, "unload") == 0;
	bool reload = strcmp(cmd, "reload") == 0, validate = strcmp(cmd, "validate") == 0;
	int operands = argc - optind;
	if ((operands < 1 && !reload) || ((promote || validate) && operands != 2) ||
	    (rollback && operands != 1) || (shadow && operands != 3) ||
	    ((load || unload) && operands > 2) || (reload && operands > 1))
		return cli_usage_error(cmd, "wrong number of arguments");
	const char *model = operands > 0 ? argv[optind] : NULL;
	int64_t version = 0, versions[16], weights[16];
	size_t n = 0;
	if ((promote || shadow || validate || ((load || unload) && operands == 2)) &&
	    cli_parse_version(cmd, argv[optind + 1], &version) != CLI_EXIT_OK)
		return CLI_EXIT_USAGE;
	int percent = 0;
	if (shadow) {
		char *end;
		long p = strtol(argv[optind + 2], &end, 10);
		if (*end != '\0' || end == argv[optind + 2] || p < 0 || p > 100)
			return cli_usage_error(cmd, "PERCENT is an integer from 0 to 100");
		percent = (int)p;
	}
	bool weighted = strcmp(cmd, "set-traffic") == 0;
	for (int i = optind + 1; weighted && i < argc; i++) {
		if (n == 16 || parse_weight(argv[i], &versions[n], &weights[n]) != 0)
			return cli_usage_error(cmd, "'%s' is not VERSION=WEIGHT (at most 16)",
			    argv[i]);
		n++;
	}
	char *token = read_token(token_file);
	if (token == NULL)
		return cli_usage_error(cmd, "no admin token: use --token-file FILE or "
		    "set CORRAL_ADMIN_TOKEN");

	corral_client *c = NULL;
	corral_error err = {0};
	char *routing = NULL;
	bool passed = false;
	int rc = cli_connect(ctx, &c);
	if (rc == CLI_EXIT_OK) {
		corral_client_set_token(c, token);
		corral_status st = promote ? corral_promote(c, model, version, &routing, &err)
		    : rollback ? corral_rollback(c, model, &routing, &err)
		    : shadow   ? corral_shadow(c, model, version, percent, &routing, &err)
		    : load     ? corral_load(c, model, version, &routing, &err)
		    : unload   ? corral_unload(c, model, version, &routing, &err)
		    : reload   ? corral_reload(c, model, &routing, &err)
		    : validate ? corral_validate(c, model, version, &passed, &routing, &err)
			       : corral_set_traffic(c, model, versions, weights, n, &routing, &err);
		if (st != CORRAL_OK)
			rc = cli_status_error(st, &err);
		else
			printf("%s\n", routing);
		if (st == CORRAL_OK && validate && !passed)
			rc = CLI_EXIT_FAIL;
	}
	corral_client_close(c);
	free(routing);
	free(token);
	return rc;
}
