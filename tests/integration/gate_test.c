/*
 * gate_test - the validation gate under a real corrald: two new versions
 * carry the same validation set, labelled by the serving version 1. The
 * one with version 1's weights passes and becomes the default; the one
 * with other weights regresses against the default, is kept out of
 * traffic (requests naming no version never reach it, promote is
 * refused), and status and the log say why; `validate` runs the check
 * again on demand.
 *
 *   gate_test CORRALD EXAMPLE_REPO
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "harness.h"
#include "test.h"

#define TOKEN "gate-test-admin-token-0123456789"
#define ROWS 200

static harness h;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void row(int i, double x[4])
{
	x[0] = 4.3 + (i * 37 % 36) * 0.1;
	x[1] = 2.0 + (i * 11 % 24) * 0.1;
	x[2] = 1.0 + (i * 53 % 59) * 0.1;
	x[3] = 0.1 + (i * 7 % 25) * 0.1;
}

/* Which version answers a request naming none. */
static int64_t served_by(corral_client *c)
{
	double x[4];
	row(1, x);
	int64_t shape[2] = {1, 4};
	corral_tensor t = {"input", CORRAL_DT_FP64, 2, shape, x, sizeof x};
	corral_result *r = NULL;
	corral_error err;
	int64_t v = corral_infer(c, "gated", 0, &t, 1, NULL, 0, &r, &err) == CORRAL_OK
	    ? corral_result_model_version(r) : 0;
	corral_result_free(r);
	return v;
}

/* The validation state and report of gated/v from status. */
static void gate_of(corral_client *c, int64_t v, char *state, char *report, size_t n)
{
	char *text = NULL;
	corral_error err;
	state[0] = report[0] = '\0';
	if (corral_get_status(c, "gated", &text, &err) != CORRAL_OK)
		return;
	json_t *root = json_loads(text, 0, NULL), *mv;
	free(text);
	size_t i;
	json_array_foreach(json_object_get(root, "models"), i, mv)
		if (json_integer_value(json_object_get(mv, "version")) == v) {
			json_t *g = json_object_get(mv, "validation");
			snprintf(state, 32, "%s", json_string_value(json_object_get(g, "state")) ?: "");
			snprintf(report, n, "%s", json_string_value(json_object_get(g, "report")) ?: "");
		}
	json_decref(root);
}

static void copy_version(const char *example, int iris_v, int v)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "cp -rL '%s/iris/%d' '%s/gated/%d.tmp'", example, iris_v,
	    h.repo, v);
	REQUIRE(system(cmd) == 0);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: gate_test CORRALD EXAMPLE_REPO\n");
		return 2;
	}
	harness_init(&h);
	harness_write(&h, "gated/config.yaml", "plugin: linear\nversion_policy: {all: true}\n");
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "cp -rL '%s/iris/1' '%s/gated/1'", argv[2], h.repo);
	REQUIRE(system(cmd) == 0);
	char path[300];
	snprintf(path, sizeof path, "%s/admin.token", h.dir);
	FILE *f = fopen(path, "w");
	REQUIRE(f != NULL && fputs(TOKEN "\n", f) >= 0 && fclose(f) == 0);
	chmod(path, 0600);
	char extra[400];
	snprintf(extra, sizeof extra, "admin_token_file: %s\n", path);
	harness_start(&h, argv[1], extra);
	corral_client *c = harness_client(&h, false);
	corral_client_set_token(c, TOKEN);

	/* the validation set: ROWS rows, labelled by version 1 */
	double x[ROWS * 4];
	for (int i = 0; i < ROWS; i++)
		row(i, &x[i * 4]);
	int64_t shape[2] = {ROWS, 4};
	corral_tensor t = {"input", CORRAL_DT_FP64, 2, shape, x, sizeof x};
	corral_result *r = NULL;
	corral_error err;
	REQUIRE(corral_infer(c, "gated", 1, &t, 1, NULL, 0, &r, &err) == CORRAL_OK);
	const corral_tensor *label = corral_result_find(r, "label");
	REQUIRE(label != NULL && label->dtype == CORRAL_DT_INT64);
	char set[300];
	snprintf(set, sizeof set, "%s/validation.csv", h.dir);
	f = fopen(set, "w");
	REQUIRE(f != NULL);
	fputs("sepal_length,sepal_width,petal_length,petal_width,label\n", f);
	for (int i = 0; i < ROWS; i++) {
		int64_t l; /* reply data need not be aligned */
		memcpy(&l, (const char *)label->data + 8 * i, 8);
		fprintf(f, "%.1f,%.1f,%.1f,%.1f,%lld\n", x[i * 4], x[i * 4 + 1], x[i * 4 + 2],
		    x[i * 4 + 3], (long long)l);
	}
	fclose(f);
	corral_result_free(r);

	/* version 2: other weights; version 3: version 1's; both gated */
	copy_version(argv[2], 2, 2);
	copy_version(argv[2], 1, 3);
	for (int v = 2; v <= 3; v++) {
		snprintf(cmd, sizeof cmd, "cp '%s' '%s/gated/%d.tmp/' && printf 'metric: accuracy\\n"
		    "output: label\\nthreshold: 0.5\\nmax_regression: 0.0\\n' > "
		    "'%s/gated/%d.tmp/validation.yaml' && mv '%s/gated/%d.tmp' '%s/gated/%d'",
		    set, h.repo, v, h.repo, v, h.repo, v, h.repo, v);
		REQUIRE(system(cmd) == 0);
	}
	CHECK_INT(corral_reload(c, "gated", NULL, &err), CORRAL_OK);

	char s2[32], s3[32], r2[512], r3[512];
	long long end = harness_now_ms() + 20000;
	do {
		sleep_ms(100);
		gate_of(c, 2, s2, r2, sizeof r2);
		gate_of(c, 3, s3, r3, sizeof r3);
	} while ((strcmp(s2, "pending") == 0 || strcmp(s3, "pending") == 0 || !s2[0] || !s3[0]) &&
		 harness_now_ms() < end);
	printf("version 2: %s: %s\nversion 3: %s: %s\n", s2, r2, s3, r3);
	CHECK_MSG(strcmp(s3, "passed") == 0, "version 3's gate: %s", s3);
	CHECK_MSG(strcmp(s2, "failed") == 0, "version 2's gate: %s", s2);
	/* the default then was 1, or 3 if 3 had already passed: both score 1 */
	CHECK_MSG(strstr(r2, "regressed") && (strstr(r2, "default version 1: 1 (") ||
						 strstr(r2, "default version 3: 1 (")),
	    "version 2's report names the regression against the default: %s", r2);
	CHECK_MSG(strstr(r3, "accuracy 1 on 200 rows"), "version 3: %s", r3);

	/* traffic naming no version goes to the passed version, never to 2 */
	int from3 = 0;
	for (int i = 0; i < 50; i++)
		from3 += served_by(c) == 3;
	CHECK_INT(from3, 50);
	CHECK_INT(corral_promote(c, "gated", 2, NULL, &err), CORRAL_E_FAILED_PRECONDITION);
	CHECK_MSG(strstr(err.message, "validation failed") != NULL, "why: %s", err.message);
	/* a request naming version 2 still reaches it (that is how it is checked) */
	REQUIRE(corral_infer(c, "gated", 2, &t, 1, NULL, 0, &r, &err) == CORRAL_OK);
	corral_result_free(r);

	/* on demand */
	bool passed = false;
	char *report = NULL;
	CHECK_INT(corral_validate(c, "gated", 3, &passed, &report, &err), CORRAL_OK);
	CHECK_MSG(passed, "version 3 passes again: %s", report ? report : err.message);
	free(report);
	CHECK_INT(corral_validate(c, "gated", 2, &passed, NULL, &err), CORRAL_OK);
	CHECK(!passed);
	CHECK_INT(corral_validate(c, "gated", 1, &passed, NULL, &err), CORRAL_E_FAILED_PRECONDITION);
	corral_client *anon = harness_client(&h, false);
	CHECK_INT(corral_validate(anon, "gated", 3, &passed, NULL, &err), CORRAL_E_UNAUTHENTICATED);
	corral_client_close(anon);

	/* /metrics: 0 for the failed gate, 1 for the passed one */
	char *text = NULL;
	CHECK_INT(harness_http_get(h.http_port, "/metrics", &text), 200);
	CHECK_MSG(text && strstr(text, "corral_validation_passed{model=\"gated\",version=\"2\"} 0") &&
		strstr(text, "corral_validation_passed{model=\"gated\",version=\"3\"} 1") &&
		!strstr(text, "corral_validation_passed{model=\"gated\",version=\"1\"}"),
	    "corral_validation_passed per gated version");
	free(text);

	/* and the log says it */
	FILE *log = fopen(h.log, "r");
	char line[2048];
	bool logged = false;
	while (log && fgets(line, sizeof line, log))
		logged = logged || strstr(line, "version 2: validation failed: kept out of traffic");
	if (log)
		fclose(log);
	CHECK_MSG(logged, "the failed gate is logged");

	corral_client_close(c);
	if (test_failed_)
		harness_dump_log(&h);
	harness_cleanup(&h);
	TEST_MAIN_END();
}
