/*
 * cli_common.c - option parsing, errors and connecting, for every command.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("corral: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'corral%s%s --help'.\n", cmd ? " " : "",
	    cmd ? cmd : "");
	return CLI_EXIT_USAGE;
}

int cli_status_error(corral_status st, const corral_error *err)
{
	const char *msg = err ? err->message : "";
	int len = (int)strnlen(msg, sizeof err->message);

	if (len > 0)
		fprintf(stderr, "corral: %s: %.*s\n", corral_status_name(st),
		    len, msg);
	else
		fprintf(stderr, "corral: %s\n", corral_status_name(st));
	return CLI_EXIT_FAIL;
}

int cli_parse_decimal(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_version(const char *cmd, const char *s, int64_t *out)
{
	long long v;

	if (cli_parse_decimal(s, 0, INT64_MAX, &v) != 0)
		return cli_usage_error(cmd, "--version takes a model version "
		    "(a number, 0 for the default version), not '%s'", s);
	*out = v;
	return CLI_EXIT_OK;
}

int cli_getopt(cli_ctx *ctx, const char *cmd, int argc, char **argv,
    const char *shortopts, const struct option *longopts)
{
	opterr = 0; /* errors are reported below, in our own words */
	for (;;) {
		int c = getopt_long(argc, argv, shortopts, longopts, NULL);
		const char *arg = optind > 0 && optind <= argc ?
		    argv[optind - 1] : "";
		long long ms;

		switch (c) {
		case CLI_OPT_URL:
			if (optarg[0] == '\0') {
				cli_usage_error(cmd, "--url is empty");
				return CLI_OPT_ERROR;
			}
			ctx->url = optarg;
			break;
		case CLI_OPT_TIMEOUT:
			if (cli_parse_decimal(optarg, 1, INT_MAX, &ms) != 0) {
				cli_usage_error(cmd, "--timeout takes "
				    "milliseconds (a positive number), not "
				    "'%s'", optarg);
				return CLI_OPT_ERROR;
			}
			ctx->timeout_ms = (int)ms;
			break;
		case ':':
			cli_usage_error(cmd, "option '%s' needs a value", arg);
			return CLI_OPT_ERROR;
		case '?':
			if (optopt > 0 && optopt < 0x100)
				cli_usage_error(cmd, "unknown option '-%c'",
				    optopt);
			else
				cli_usage_error(cmd, "unknown option '%s'", arg);
			return CLI_OPT_ERROR;
		default:
			return c;
		}
	}
}

int cli_connect(const cli_ctx *ctx, corral_client **out)
{
	corral_error err = {0};
	corral_status st = corral_client_open(out, ctx->url, &err);

	if (st != CORRAL_OK)
		return cli_status_error(st, &err);
	if (ctx->timeout_ms > 0)
		corral_client_set_timeout(*out, ctx->timeout_ms);
	return CLI_EXIT_OK;
}
