/*
 * drift_test - input drift under a real corrald: `corral baseline` writes
 * a version's baseline from a training CSV; served rows drawn like the
 * training rows keep every feature's PSI under the threshold (0.2); rows
 * whose first feature is shifted raise that feature's PSI above it (and
 * only that one), in /metrics and as a log line.
 *
 *   drift_test CORRALD CORRAL_CLI EXAMPLE_REPO
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "test.h"

#define FEATURES 4

static harness h;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Feature j of a training-like row: uniform on [j + 1, j + 3). */
static double draw(unsigned *seed, int j)
{
	return j + 1 + 2.0 * rand_r(seed) / ((double)RAND_MAX + 1);
}

/* n requests of 64 rows; feature 0 moved by `shift`. */
static void send_rows(corral_client *c, unsigned seed, int n, double shift)
{
	double rows[64 * FEATURES];
	int64_t shape[2] = {64, FEATURES};
	for (int k = 0; k < n; k++) {
		for (int r = 0; r < 64; r++)
			for (int j = 0; j < FEATURES; j++)
				rows[r * FEATURES + j] = draw(&seed, j) + (j == 0 ? shift : 0);
		corral_tensor t = {"input", CORRAL_DT_FP64, 2, shape, rows, sizeof rows};
		corral_result *res = NULL;
		corral_error err;
		CHECK_INT(corral_infer(c, "watched", 0, &t, 1, NULL, 0, &res, &err), CORRAL_OK);
		corral_result_free(res);
	}
}

/* Each feature's PSI from /metrics (NAN when it is not there). */
static void psi(double out[FEATURES])
{
	char *text = NULL;
	CHECK_INT(harness_http_get(h.http_port, "/metrics", &text), 200);
	for (int j = 0; j < FEATURES; j++) {
		char series[128];
		snprintf(series, sizeof series,
		    "corral_drift_psi{model=\"watched\",version=\"1\",feature=\"f%d\"} ", j);
		const char *at = text ? strstr(text, series) : NULL;
		out[j] = at ? strtod(at + strlen(series), NULL) : NAN;
	}
	free(text);
}

static bool log_has(const char *needle)
{
	FILE *f = fopen(h.log, "r");
	char line[2048];
	bool found = false;
	while (f && !found && fgets(line, sizeof line, f))
		found = strstr(line, needle) != NULL;
	if (f)
		fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: drift_test CORRALD CORRAL_CLI EXAMPLE_REPO\n");
		return 2;
	}
	harness_init(&h);
	/* a copy of a linear version (the baseline is written into it) */
	char cmd[2048], train[256];
	harness_write(&h, "watched/config.yaml", "plugin: linear\n");
	snprintf(cmd, sizeof cmd, "cp -rL '%s/iris/1' '%s/watched/1'", argv[3], h.repo);
	REQUIRE(system(cmd) == 0);
	snprintf(train, sizeof train, "%s/train.csv", h.dir);
	FILE *f = fopen(train, "w");
	REQUIRE(f != NULL);
	fputs("f0,f1,f2,f3\n", f);
	unsigned seed = 1;
	for (int r = 0; r < 5000; r++)
		for (int j = 0; j < FEATURES; j++)
			fprintf(f, "%.4f%c", draw(&seed, j), j + 1 == FEATURES ? '\n' : ',');
	fclose(f);
	snprintf(cmd, sizeof cmd, "'%s' baseline '%s/watched/1' '%s'", argv[2], h.repo, train);
	CHECK_INT(system(cmd), 0);

	harness_start(&h, argv[1], "drift_interval_ms: 200\ndrift_threshold: 0.2\n");
	corral_client *c = harness_client(&h, false);

	/* like the training rows: no drift */
	double p[FEATURES];
	send_rows(c, 7, 40, 0);
	sleep_ms(500);
	psi(p);
	printf("unshifted: PSI %.4f %.4f %.4f %.4f\n", p[0], p[1], p[2], p[3]);
	for (int j = 0; j < FEATURES; j++)
		CHECK_MSG(p[j] >= 0 && p[j] < 0.2, "feature f%d: PSI %g under 0.2", j, p[j]);
	CHECK(!log_has("input drift"));

	/* feature 0 shifted by half its range: drift there, not elsewhere */
	for (int round = 0; round < 5; round++) {
		send_rows(c, 100 + (unsigned)round, 20, 1.0);
		sleep_ms(250);
	}
	psi(p);
	printf("shifted:   PSI %.4f %.4f %.4f %.4f\n", p[0], p[1], p[2], p[3]);
	CHECK_MSG(p[0] > 0.2, "feature f0: PSI %g over 0.2", p[0]);
	for (int j = 1; j < FEATURES; j++)
		CHECK_MSG(p[j] >= 0 && p[j] < 0.2, "feature f%d: PSI %g under 0.2", j, p[j]);
	CHECK_MSG(log_has("input drift on feature f0"), "the drift is logged");
	CHECK(!log_has("input drift on feature f1"));

	corral_client_close(c);
	if (test_failed_)
		harness_dump_log(&h);
	harness_cleanup(&h);
	TEST_MAIN_END();
}
