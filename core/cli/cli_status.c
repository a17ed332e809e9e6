/*
 * cli_status.c - `corral status [MODEL]`: each model version's state, its
 * worker, how its workers ended (by cause), its limits and the sandbox
 * layers its worker reported; --json prints the daemon's reply as JSON.
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void status_usage(FILE *f)
{
	fputs(
	    "Usage: corral status [--json] [MODEL]\n"
	    "\n"
	    "Show, for every served model version (or MODEL's only): its state,\n"
	    "requests waiting for a worker, each worker (state, restarts, pid,\n"
	    "uptime, requests served and outstanding, memory, last exit, next\n"
	    "restart), how many workers were started\n"
	    "and how each ended, counted by cause (clean_exit,\n"
	    "sandbox_violation, out_of_memory, cpu_limit, request_timeout,\n"
	    "crash, start_failure), the last exit, its limits, and each\n"
	    "sandbox layer its worker reported (on or off, and why), with the\n"
	    "plugin's extra syscalls. First, the daemon's own layers.\n"
	    "\n"
	    "Options:\n"
	    "  --json        print the daemon's reply as JSON\n"
	    "  --url URL, --timeout MS  as for 'corral --help'\n"
	    "  -h, --help    show this help\n"
	    "\n"
	    "Exit status: 0 shown; 1 the daemon failed or MODEL is unknown;\n"
	    "2 bad arguments.\n",
	    f);
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static long long num(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static void print_version(const json_t *v)
{
	printf("%s %lld: %s, user %s, %lld started, %lld waiting\n", str(v, "name"),
	    num(v, "version"), str(v, "state"), str(v, "user"), num(v, "starts"),
	    num(v, "waiting"));
	size_t i;
	const json_t *w;
	json_array_foreach(json_object_get(v, "workers"), i, w) {
		printf("  worker %lld: %s, %lld restarts", num(w, "instance"), str(w, "state"),
		    num(w, "restarts"));
		if (json_object_get(w, "pid"))
			printf(", pid %lld, up %.1f s, %lld served, %lld outstanding, memory %lld "
			       "bytes", num(w, "pid"), num(w, "uptime_ms") / 1000.0,
			    num(w, "served"), num(w, "outstanding"), num(w, "memory_bytes"));
		if (json_object_get(w, "restart_in_ms"))
			printf(", restart in %lld ms", num(w, "restart_in_ms"));
		printf("\n");
		if (json_object_get(w, "last_exit"))
			printf("    last exit: %s\n", str(w, "last_exit"));
	}
	const char *key;
	const json_t *val;
	printf("  exits:");
	json_object_foreach((json_t *)json_object_get(v, "exits"), key, val)
		printf(" %s %lld", key, (long long)json_integer_value(val));
	printf("\n");
	if (json_object_get(v, "last_exit"))
		printf("  last exit: %s\n", str(v, "last_exit"));
	printf("  limits:");
	json_object_foreach((json_t *)json_object_get(v, "limits"), key, val)
		printf(" %s %lld", key, (long long)json_integer_value(val));
	printf("\n");
	const json_t *sb = json_object_get(v, "sandbox");
	json_object_foreach((json_t *)sb, key, val) {
		if (json_is_string(val)) {
			printf("  %s: %s\n", key, json_string_value(val));
			continue;
		}
		printf("  %s:", key); /* extra_syscalls */
		const json_t *e;
		json_array_foreach(val, i, e)
			printf(" %s", json_string_value(e));
		printf("%s\n", json_array_size(val) ? "" : " none");
	}
}

int cli_status(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_JSON = CLI_OPT_COMMAND };
	static const struct option longopts[] = {
		CLI_SHARED_OPTIONS,
		{"json", no_argument, NULL, OPT_JSON},
		{NULL, 0, NULL, 0},
	};
	bool as_json = false;
	int opt;
	optind = 0;
	while ((opt = cli_getopt(ctx, "status", argc, argv, ":h", longopts)) != -1) {
		switch (opt) {
		case 'h': status_usage(stdout); return CLI_EXIT_OK;
		case OPT_JSON: as_json = true; break;
		default: return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("status", "unexpected argument '%s'", argv[optind + 1]);
	const char *model = optind < argc ? argv[optind] : NULL;

	corral_client *c = NULL;
	corral_error err = {0};
	char *text = NULL;
	int rc = cli_connect(ctx, &c);
	if (rc == CLI_EXIT_OK) {
		corral_status st = corral_get_status(c, model, &text, &err);
		if (st != CORRAL_OK)
			rc = cli_status_error(st, &err);
	}
	corral_client_close(c);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (as_json) {
		printf("%s\n", text);
		free(text);
		return CLI_EXIT_OK;
	}
	json_t *root = json_loads(text, 0, NULL);
	free(text);
	const json_t *dmn = json_object_get(root, "daemon");
	printf("corrald pid %lld\n  identity: %s\n  cgroups: %s\n", num(dmn, "pid"),
	    str(dmn, "identity"), str(dmn, "cgroups"));
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(root, "models"), i, v)
		print_version(v);
	json_decref(root);
	return CLI_EXIT_OK;
}
