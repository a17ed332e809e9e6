/*
 * cli.h - the `corral` command: what cli_main.c shares with the commands.
 */
#ifndef CORRAL_CLI_H
#define CORRAL_CLI_H

#include <getopt.h>
#include <stdint.h>

#include <corral/client.h>

#ifndef CORRAL_CLI_VERSION
#define CORRAL_CLI_VERSION "unknown" /* set by core/cli/CMakeLists.txt */
#endif

/* Exit statuses, the same for every command (docs/cli.md). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1  /* the server or the connection failed */
#define CLI_EXIT_USAGE 2 /* bad arguments or bad input */

/* Options every command takes, before or after its name. */
typedef struct cli_ctx {
	const char *url; /* never NULL */
	int timeout_ms;  /* 0: the library's default */
} cli_ctx;

/* A command: argv[0] is its name. Returns an exit status. */
typedef int cli_command_fn(cli_ctx *ctx, int argc, char **argv);

cli_command_fn cli_infer, cli_metadata, cli_models, cli_health, cli_status,
    cli_control, cli_batch, cli_baseline, cli_export_log, cli_feedback;

/* getopt_long values of the shared options; commands number theirs from
 * CLI_OPT_COMMAND up. */
enum {
	CLI_OPT_URL = 0x100,
	CLI_OPT_TIMEOUT,
	CLI_OPT_COMMAND,
	CLI_OPT_ERROR = -2, /* cli_getopt printed a usage error */
};

#define CLI_SHARED_OPTIONS                                          \
	{"help", no_argument, NULL, 'h'},                           \
	{"url", required_argument, NULL, CLI_OPT_URL},              \
	{"timeout", required_argument, NULL, CLI_OPT_TIMEOUT}

/*
 * getopt_long over argv for command `cmd` (NULL: corral itself), applying
 * --url and --timeout to ctx. `shortopts` must start with ':' (after any
 * '+') and `longopts` must include CLI_SHARED_OPTIONS. Returns the next
 * other option, -1 when there are none left (optind is then the first
 * operand), or CLI_OPT_ERROR after printing a usage error. Set optind to 0
 * before the first call for a new argv.
 */
int cli_getopt(cli_ctx *ctx, const char *cmd, int argc, char **argv,
    const char *shortopts, const struct option *longopts);

/* Print "corral: MESSAGE" and a hint to --help; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print "corral: CODE_NAME: message"; returns CLI_EXIT_FAIL. */
int cli_status_error(corral_status st, const corral_error *err);

/* A decimal integer in [min, max], nothing else (no sign, no spaces):
 * 0, or -1 leaving *out alone. */
int cli_parse_decimal(const char *s, long long min, long long max, long long *out);

/* Parse a model version (0 = the default version) for --version. */
int cli_parse_version(const char *cmd, const char *s, int64_t *out);

/* Open a client for ctx; on failure print why and return CLI_EXIT_FAIL. */
int cli_connect(const cli_ctx *ctx, corral_client **out);

#endif /* CORRAL_CLI_H */
