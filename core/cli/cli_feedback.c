/*
 * cli_feedback.c - `corral feedback ID VALUE...`: the ground truth of a
 * prediction the daemon logged (docs/monitoring.md).
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void feedback_usage(FILE *f)
{
	fputs(
	    "Usage: corral feedback PREDICTION_ID VALUE [VALUE...]\n"
	    "\n"
	    "Give the ground truth of a prediction the daemon logged: the\n"
	    "prediction_id of its infer reply ('corral infer' prints it) and one\n"
	    "value per row of that request, a class index (0, 1, ...) for a\n"
	    "classifier. The daemon stores it in its prediction log ('corral\n"
	    "export-log') and counts it in the answering version's accuracy or\n"
	    "error metrics. Prints the daemon's reply:\n"
	    "  {\"counted\": true, \"model\": ..., \"prediction_id\": N, \"rows\": N,\n"
	    "   \"version\": N}\n"
	    "(counted is false when the prediction cannot be judged: its request\n"
	    "asked for other outputs, or its version is not served any more).\n"
	    "\n"
	    "Options (before PREDICTION_ID, so that a VALUE may be negative):\n"
	    "  --url URL, --timeout MS  as for 'corral --help'\n"
	    "  -h, --help    show this help\n"
	    "\n"
	    "Exit status: 0 stored; 1 refused (PREDICTION_NOT_FOUND: the log never\n"
	    "had that id or no longer holds it; FAILED_PRECONDITION: it has its\n"
	    "truth already, or the log is off) or the connection failed; 2 bad\n"
	    "arguments.\n",
	    f);
}

int cli_feedback(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_SHARED_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int opt;
	optind = 0;
	/* '+': options end at PREDICTION_ID, so a negative VALUE is a value */
	while ((opt = cli_getopt(ctx, "feedback", argc, argv, "+:h", longopts)) != -1) {
		switch (opt) {
		case 'h':
			feedback_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind < 2)
		return cli_usage_error("feedback", "needs PREDICTION_ID and at least one VALUE");
	long long id;
	if (cli_parse_decimal(argv[optind], 1, INT64_MAX, &id) != 0)
		return cli_usage_error("feedback", "PREDICTION_ID must be a positive integer, "
		    "not '%s'", argv[optind]);
	size_t n = (size_t)(argc - optind - 1);
	double *truth = malloc(n * sizeof *truth);
	if (truth == NULL) {
		fputs("corral: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = argv[optind + 1 + i];
		char *end;
		errno = 0;
		truth[i] = strtod(s, &end);
		if (end == s || *end != '\0' || errno != 0 || !isfinite(truth[i])) {
			free(truth);
			return cli_usage_error("feedback", "VALUE '%s' is not a finite number", s);
		}
	}
	corral_client *c = NULL;
	corral_error err = {0};
	char *reply = NULL;
	int rc = cli_connect(ctx, &c);
	if (rc == CLI_EXIT_OK) {
		corral_status st = corral_feedback(c, id, truth, n, &reply, &err);
		if (st != CORRAL_OK)
			rc = cli_status_error(st, &err);
		else
			printf("%s\n", reply);
	}
	free(reply);
	free(truth);
	corral_client_close(c);
	return rc;
}
