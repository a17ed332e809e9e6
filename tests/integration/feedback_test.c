/*
 * feedback_test - the prediction log and feedback under a real corrald:
 * infer replies carry a prediction id (none with `log: false`); feedback
 * with the ground truth makes /metrics report the accuracy, precision,
 * recall and F1 of a classifier (a softmax, and a logistic one judged at
 * its threshold) and the MAE and RMSE of a regressor, over the window and
 * in total, as this test computes them; every refusal has its code; the
 * retention removes old rows (feedback for them: PREDICTION_NOT_FOUND);
 * ids go on after a restart; `corral export-log` writes the labelled rows;
 * sampling, age retention and a log turned off.
 *
 *   feedback_test CORRALD CORRAL_CLI EXAMPLE_REPO
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>

#include "harness.h"
#include "test.h"

static harness h;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void copy_model(const char *example, const char *from, const char *to,
    const char *config)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s' && cp -rL '%s/%s' '%s/%s/1'", h.repo, to,
	    example, from, h.repo, to);
	REQUIRE(system(cmd) == 0);
	char path[160];
	snprintf(path, sizeof path, "%s/config.yaml", to);
	harness_write(&h, path, config);
}

/* One infer of n rows of 'input'; the prediction id (0: none), and the
 * value of output `name` at [row][k] into out (width values a row). */
static int64_t infer(corral_client *c, const char *model, const double *x, int64_t n,
    int64_t cols, const char *name, double *out, int width)
{
	int64_t shape[2] = {n, cols};
	corral_tensor t = {"input", CORRAL_DT_FP64, 2, shape, x, (size_t)(n * cols) * 8};
	corral_result *r = NULL;
	corral_error err;
	REQUIRE(corral_infer(c, model, 0, &t, 1, NULL, 0, &r, &err) == CORRAL_OK);
	const corral_tensor *o = corral_result_find(r, name);
	REQUIRE(o != NULL && o->dtype == CORRAL_DT_FP64);
	memcpy(out, o->data, (size_t)(n * width) * 8); /* reply data need not be aligned */
	int64_t id = corral_result_prediction_id(r);
	corral_result_free(r);
	return id;
}

/* One infer of a single 4-value row asking for output `only`; its
 * prediction id. */
static int64_t infer_only(corral_client *c, const char *model, const double *x,
    const char *only)
{
	int64_t shape[2] = {1, 4};
	corral_tensor t = {"input", CORRAL_DT_FP64, 2, shape, x, 4 * sizeof *x};
	corral_result *r = NULL;
	corral_error err;
	REQUIRE(corral_infer(c, model, 0, &t, 1, &only, 1, &r, &err) == CORRAL_OK);
	int64_t id = corral_result_prediction_id(r);
	corral_result_free(r);
	return id;
}

static corral_status feedback(corral_client *c, int64_t id, const double *truth, size_t n,
    json_t **reply, corral_error *err)
{
	char *text = NULL;
	corral_status st = corral_feedback(c, id, truth, n, &text, err);
	if (reply != NULL)
		*reply = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	return st;
}

/* The value of the series `name{labels}` in /metrics; NAN when absent. */
static double metric(const char *name, const char *labels)
{
	char *text = NULL;
	CHECK_INT(harness_http_get(h.http_port, "/metrics", &text), 200);
	char series[256];
	snprintf(series, sizeof series, "\n%s%s%s%s ", name, labels[0] ? "{" : "", labels,
	    labels[0] ? "}" : "");
	const char *at = text ? strstr(text, series) : NULL;
	double v = at ? strtod(at + strlen(series), NULL) : NAN;
	free(text);
	return v;
}

static double perf_metric(const char *name, const char *model, const char *window)
{
	char labels[160];
	snprintf(labels, sizeof labels, "model=\"%s\",version=\"1\",window=\"%s\"", model, window);
	return metric(name, labels);
}

/* Macro precision, recall and F1 over the classes met; of class 1 when
 * only 0 and 1 are (what docs/monitoring.md promises). */
static void expected_classes(const int *pred, const int *truth, int n, double out[4])
{
	int tp[3] = {0}, fp[3] = {0}, fn[3] = {0}, right = 0, highest = 0;
	for (int i = 0; i < n; i++) {
		if (pred[i] == truth[i]) {
			right++;
			tp[truth[i]]++;
		} else {
			fp[pred[i]]++;
			fn[truth[i]]++;
		}
		highest = pred[i] > highest ? pred[i] : highest;
		highest = truth[i] > highest ? truth[i] : highest;
	}
	double p = 0, r = 0, f = 0;
	int met = 0;
	for (int k = highest <= 1 ? 1 : 0; k <= highest; k++) {
		if (highest > 1 && tp[k] + fp[k] + fn[k] == 0)
			continue;
		double pk = tp[k] + fp[k] ? (double)tp[k] / (tp[k] + fp[k]) : 0;
		double rk = tp[k] + fn[k] ? (double)tp[k] / (tp[k] + fn[k]) : 0;
		p += pk;
		r += rk;
		f += pk + rk > 0 ? 2 * pk * rk / (pk + rk) : 0;
		met++;
	}
	out[0] = (double)right / n;
	out[1] = p / met;
	out[2] = r / met;
	out[3] = f / met;
}

static void check_classifier(const char *model, const char *window, const int *pred,
    const int *truth, int n)
{
	double want[4];
	expected_classes(pred, truth, n, want);
	static const char *const names[4] = {"corral_feedback_accuracy_ratio",
	    "corral_feedback_precision_ratio", "corral_feedback_recall_ratio",
	    "corral_feedback_f1_ratio"};
	for (int k = 0; k < 4; k++)
		CHECK_MSG(fabs(perf_metric(names[k], model, window) - want[k]) < 1e-5,
		    "%s %s %s: %g, want %g", names[k], model, window,
		    perf_metric(names[k], model, window), want[k]);
}

static int argmax3(const double *p)
{
	return p[1] > p[0] ? (p[2] > p[1] ? 2 : 1) : (p[2] > p[0] ? 2 : 0);
}

/* `corral export-log` of model into a file; its exit status, the CSV. */
static int export_log(const char *cli, const char *model, const char *flags, char **csv)
{
	char out[160], cmd[1200];
	snprintf(out, sizeof out, "%s/export.csv", h.dir);
	snprintf(cmd, sizeof cmd, "'%s' export-log %s --db '%s/run/predictions.db' %s -o '%s'",
	    cli, model, h.dir, flags, out);
	int rc = system(cmd);
	FILE *f = fopen(out, "r");
	*csv = calloc(1, 1 << 16);
	if (f != NULL) {
		size_t n = fread(*csv, 1, (1 << 16) - 1, f);
		(*csv)[n] = '\0';
		fclose(f);
	}
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: feedback_test CORRALD CORRAL_CLI EXAMPLE_REPO\n");
		return 2;
	}
	const char *corrald = argv[1], *cli = argv[2], *example = argv[3];
	harness_init(&h);
	copy_model(example, "iris/2", "iris",
	    "plugin: linear\nfeedback: {output: probabilities, window: 4}\n");
	copy_model(example, "churn/1", "churn",
	    "plugin: linear\nfeedback: {task: classification, output: probability, "
	    "threshold: 0.5}\n");
	copy_model(example, "house_price/1", "house", "plugin: linear\n");
	copy_model(example, "churn/1", "plain", "plugin: linear\n");
	/* a softmax over 300 classes: more than feedback judges */
	{
		static char json[40000];
		int n = snprintf(json, sizeof json, "{\"format\": \"corral-linear\", "
		    "\"format_version\": 1, \"link\": \"softmax\", \"coefficients\": [");
		for (int k = 0; k < 300; k++)
			n += snprintf(json + n, sizeof json - (size_t)n, "%s[%d, 0]", k ? ", " : "", k);
		n += snprintf(json + n, sizeof json - (size_t)n, "], \"intercepts\": [");
		for (int k = 0; k < 300; k++)
			n += snprintf(json + n, sizeof json - (size_t)n, "%s0", k ? ", " : "");
		snprintf(json + n, sizeof json - (size_t)n, "]}\n");
		harness_write(&h, "wide/1/model.json", json);
		harness_write(&h, "wide/config.yaml", "plugin: linear\n");
	}
	const char *config = "prediction_log: {max_rows: 60, flush_ms: 50}\n";
	harness_start(&h, corrald, config);
	corral_client *c = harness_client(&h, false);
	corral_error err;
	json_t *reply = NULL;

	/* iris, a softmax: ten rows, each its own request and prediction */
	int pred[10], truth[10];
	int64_t ids[10];
	for (int i = 0; i < 10; i++) {
		double x[4] = {4.5 + 0.35 * i, 3.4 - 0.15 * i, 1.2 + 0.55 * i, 0.2 + 0.2 * i};
		double p[3];
		ids[i] = infer(c, "iris", x, 1, 4, "probabilities", p, 3);
		CHECK_MSG(ids[i] > (i ? ids[i - 1] : 0), "prediction ids grow (%lld)",
		    (long long)ids[i]);
		pred[i] = argmax3(p);
		/* the first six right, the last four wrong: the window of 4 */
		truth[i] = i < 6 ? pred[i] : (pred[i] + 1 + i % 2) % 3;
	}
	for (int i = 0; i < 10; i++) {
		double t = truth[i];
		CHECK_INT(feedback(c, ids[i], &t, 1, &reply, &err), CORRAL_OK);
		CHECK(json_is_true(json_object_get(reply, "counted")));
		CHECK_STR(json_string_value(json_object_get(reply, "model")), "iris");
		CHECK_INT(json_integer_value(json_object_get(reply, "rows")), 1);
		json_decref(reply);
	}
	CHECK_INT(metric("corral_feedback_rows_total", "model=\"iris\",version=\"1\""), 10);
	check_classifier("iris", "total", pred, truth, 10);
	check_classifier("iris", "recent", pred + 6, truth + 6, 4);
	CHECK_NEAR(perf_metric("corral_feedback_accuracy_ratio", "iris", "recent"), 0, 1e-9);
	CHECK_NEAR(perf_metric("corral_feedback_accuracy_ratio", "iris", "total"), 0.6, 1e-9);
	/* a classifier has no error figures, a regressor no accuracy */
	CHECK(isnan(perf_metric("corral_feedback_mean_absolute_error", "iris", "total")));

	/* churn, logistic: class 1 at p >= 0.5; one each of TP, FP, FN, TN */
	double stay[4] = {60, 20, 0, 1}, leave[4] = {2, 110, 9, 0};
	int cpred[4], ctruth[4] = {1, 0, 1, 0};
	int64_t cids[4];
	for (int i = 0; i < 4; i++) {
		double p;
		cids[i] = infer(c, "churn", i < 2 ? leave : stay, 1, 4, "probability", &p, 1);
		cpred[i] = p >= 0.5;
	}
	CHECK(cpred[0] == 1 && cpred[1] == 1 && cpred[2] == 0 && cpred[3] == 0);
	for (int i = 0; i < 4; i++) {
		double t = ctruth[i];
		CHECK_INT(feedback(c, cids[i], &t, 1, NULL, &err), CORRAL_OK);
	}
	check_classifier("churn", "total", cpred, ctruth, 4);
	CHECK_NEAR(perf_metric("corral_feedback_precision_ratio", "churn", "total"), 0.5, 1e-9);

	/* the same through `corral feedback` */
	{
		double p;
		int64_t id = infer(c, "churn", stay, 1, 4, "probability", &p, 1);
		char cmd[600], out[160];
		snprintf(out, sizeof out, "%s/feedback.out", h.dir);
		snprintf(cmd, sizeof cmd, "'%s' --url '%s' feedback %lld 0 > '%s' 2>&1", cli,
		    h.ipc_url, (long long)id, out);
		CHECK_INT(system(cmd), 0);
		json_t *j = json_load_file(out, 0, NULL);
		CHECK(json_is_true(json_object_get(j, "counted")));
		CHECK_INT(json_integer_value(json_object_get(j, "prediction_id")), id);
		json_decref(j);
		int rc = system(cmd);
		CHECK_INT(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 1);
		FILE *f = fopen(out, "r");
		char line[512] = "";
		CHECK(f != NULL && fgets(line, sizeof line, f) != NULL);
		CHECK_MSG(strstr(line, "FAILED_PRECONDITION") != NULL, "%s", line);
		if (f)
			fclose(f);
	}

	/* house, a regressor: one request of three rows, truth off by 1, -2, 3 */
	double hx[9] = {1200, 3, 10, 2000, 4, 5, 800, 2, 40}, hp[3];
	int64_t hid = infer(c, "house", hx, 3, 3, "prediction", hp, 1);
	double two[2] = {1, 2};
	CHECK_INT(feedback(c, hid, two, 2, NULL, &err), CORRAL_E_INVALID_ARGUMENT);
	CHECK_MSG(strstr(err.message, "has 3 rows") != NULL, "%s", err.message);
	double ht[3] = {hp[0] + 1, hp[1] - 2, hp[2] + 3};
	CHECK_INT(feedback(c, hid, ht, 3, &reply, &err), CORRAL_OK);
	CHECK_INT(json_integer_value(json_object_get(reply, "rows")), 3);
	json_decref(reply);
	CHECK_NEAR(perf_metric("corral_feedback_mean_absolute_error", "house", "total"), 2, 1e-4);
	CHECK_NEAR(perf_metric("corral_feedback_root_mean_squared_error", "house", "recent"),
	    sqrt(14.0 / 3), 1e-4);

	/* promtool agrees with the format of the new series */
	{
		char *text = NULL, path[160], cmd[400];
		CHECK_INT(harness_http_get(h.http_port, "/metrics", &text), 200);
		snprintf(path, sizeof path, "%s/metrics.txt", h.dir);
		FILE *f = fopen(path, "w");
		REQUIRE(f != NULL && text != NULL && fputs(text, f) >= 0 && fclose(f) == 0);
		snprintf(cmd, sizeof cmd, "promtool check metrics < '%s'", path);
		CHECK_INT(system(cmd), 0);
		free(text);
	}

	/* refusals */
	double one = 1;
	CHECK_INT(feedback(c, hid, ht, 3, NULL, &err), CORRAL_E_FAILED_PRECONDITION);
	CHECK_MSG(strstr(err.message, "already has its ground truth") != NULL, "%s", err.message);
	CHECK_INT(feedback(c, 999999999, &one, 1, NULL, &err), CORRAL_E_PREDICTION_NOT_FOUND);
	CHECK_MSG(strstr(err.message, "no prediction 999999999 was logged") != NULL, "%s",
	    err.message);
	CHECK_INT(feedback(c, 0, &one, 1, NULL, &err), CORRAL_E_INVALID_ARGUMENT);
	double p3[3];
	double x[4] = {5.0, 3.0, 1.5, 0.2};
	int64_t iid = infer(c, "iris", x, 1, 4, "probabilities", p3, 3);
	double seven = 7, nan_ = NAN;
	CHECK_INT(feedback(c, iid, &seven, 1, NULL, &err), CORRAL_E_INVALID_ARGUMENT);
	CHECK_MSG(strstr(err.message, "class indexes 0 .. 2") != NULL, "%s", err.message);
	CHECK_INT(feedback(c, iid, &nan_, 1, NULL, &err), CORRAL_E_INVALID_ARGUMENT);
	CHECK_INT(feedback(c, iid, NULL, 0, NULL, &err), CORRAL_E_INVALID_ARGUMENT);

	/* a request that asked only for `label` lacks the judged output:
	 * its truth is stored, not counted */
	{
		int64_t id = infer_only(c, "iris", x, "label");
		double zero = 0;
		CHECK_INT(feedback(c, id, &zero, 1, &reply, &err), CORRAL_OK);
		CHECK(json_is_false(json_object_get(reply, "counted")));
		json_decref(reply);
		CHECK_INT(metric("corral_feedback_rows_total", "model=\"iris\",version=\"1\""), 10);
	}

	/* with no feedback config, the first output judges: a request that
	 * asked only for the integer label is a classifier's, one with every
	 * output (the probability first) reads as a regressor's, and is then
	 * stored, not counted (nor trusted as a class index) */
	{
		int64_t id = infer_only(c, "plain", leave, "label");
		double right = 1, huge = 1e15;
		CHECK_INT(feedback(c, id, &right, 1, &reply, &err), CORRAL_OK);
		CHECK(json_is_true(json_object_get(reply, "counted")));
		json_decref(reply);
		double pr;
		id = infer(c, "plain", leave, 1, 4, "probability", &pr, 1);
		CHECK_INT(feedback(c, id, &huge, 1, &reply, &err), CORRAL_OK);
		CHECK(json_is_false(json_object_get(reply, "counted")));
		json_decref(reply);
		CHECK_NEAR(perf_metric("corral_feedback_accuracy_ratio", "plain", "total"), 1, 0);
	}

	/* 300 classes: stored, not counted */
	{
		double wx[2] = {1, 0}, wp[300];
		int64_t id = infer(c, "wide", wx, 1, 2, "probabilities", wp, 300);
		double cls = 299;
		CHECK_INT(feedback(c, id, &cls, 1, &reply, &err), CORRAL_OK);
		CHECK(json_is_false(json_object_get(reply, "counted")));
		json_decref(reply);
		CHECK(isnan(perf_metric("corral_feedback_accuracy_ratio", "wide", "total")));
	}

	/* a client that asks not to be logged gets no id */
	corral_client *quiet = harness_client(&h, true);
	corral_client_set_logging(quiet, false);
	CHECK_INT(infer(quiet, "iris", x, 1, 4, "probabilities", p3, 3), 0);
	corral_client_close(quiet);

	/* `corral export-log`: the labelled rows of house, with their truth */
	char *csv = NULL;
	CHECK_INT(export_log(cli, "house", "--labelled", &csv), 0);
	CHECK_MSG(strncmp(csv, "prediction_id,time,model,version,row,input_0,input_1,input_2,"
			       "prediction,truth\n", 75) == 0, "header: %.200s", csv);
	int lines = 0;
	for (const char *p = csv; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	CHECK_INT(lines, 4);
	char want[64];
	snprintf(want, sizeof want, ",%.17g\n", ht[1]);
	CHECK_MSG(strstr(csv, want) != NULL, "row 1's truth %s in %s", want, csv);
	free(csv);

	/* retention: max_rows 60; 70 more predictions push the iris rows out */
	double hq[3];
	int64_t newest = 0;
	for (int i = 0; i < 70; i++)
		newest = infer(c, "house", hx, 1, 3, "prediction", hq, 1);
	/* ids were handed out 1, 2, 3...: all written, then trimmed */
	long long until = harness_now_ms() + 5000;
	while ((metric("corral_prediction_log_written_total", "") < (double)newest ||
		   metric("corral_prediction_log_rows", "") > 60) &&
	       harness_now_ms() < until)
		sleep_ms(50);
	CHECK_NEAR(metric("corral_prediction_log_rows", ""), 60, 0);
	CHECK(metric("corral_prediction_log_deleted_total", "") >= 10);
	CHECK_INT(feedback(c, iid, &one, 1, NULL, &err), CORRAL_E_PREDICTION_NOT_FOUND);
	CHECK_MSG(strstr(err.message, "the retention removed it") != NULL, "%s", err.message);

	/* a restart: ids go on, the log keeps what it had */
	int64_t last = infer(c, "house", hx, 1, 3, "prediction", hq, 1);
	corral_client_close(c);
	CHECK_INT(harness_stop(&h), 0);
	harness_start(&h, corrald, config);
	c = harness_client(&h, false);
	int64_t next = infer(c, "house", hx, 1, 3, "prediction", hq, 1);
	CHECK_MSG(next > last, "after a restart %lld follows %lld", (long long)next,
	    (long long)last);
	double t = hq[0] + 4;
	CHECK_INT(feedback(c, last, &t, 1, &reply, &err), CORRAL_OK);
	CHECK(json_is_true(json_object_get(reply, "counted")));
	json_decref(reply);
	CHECK_NEAR(perf_metric("corral_feedback_mean_absolute_error", "house", "total"), 4, 1e-4);
	corral_client_close(c);
	CHECK_INT(harness_stop(&h), 0);

	/* killed before its rows were written: their ids are not given again */
	harness_start(&h, corrald, "prediction_log: {flush_ms: 60000}\n");
	c = harness_client(&h, false);
	int64_t lost = infer(c, "house", hx, 1, 3, "prediction", hq, 1);
	corral_client_close(c);
	kill(h.pid, SIGKILL);
	harness_stop(&h);
	harness_start(&h, corrald, "prediction_log: {flush_ms: 60000}\n");
	c = harness_client(&h, false);
	int64_t after = infer(c, "house", hx, 1, 3, "prediction", hq, 1);
	CHECK_MSG(after > lost, "after a crash %lld follows %lld", (long long)after,
	    (long long)lost);
	CHECK_INT(feedback(c, lost, &t, 1, NULL, &err), CORRAL_E_PREDICTION_NOT_FOUND);
	CHECK_MSG(strstr(err.message, "stopped before writing it") != NULL, "%s", err.message);
	/* a feedback that comes before the flush has its row written first */
	CHECK_INT(feedback(c, after, &t, 1, NULL, &err), CORRAL_OK);
	corral_client_close(c);
	CHECK_INT(harness_stop(&h), 0);

	/* half sampled, rows older than a second deleted */
	harness_start(&h, corrald,
	    "prediction_log: {sample_rate: 0.5, max_age_s: 1, max_bytes: 2000}\n");
	c = harness_client(&h, false);
	int logged = 0;
	for (int i = 0; i < 200; i++)
		logged += infer(c, "house", hx, 1, 3, "prediction", hq, 1) > 0;
	/* 64 rows are over max_bytes: never logged */
	{
		double big[64 * 3], out[64];
		for (int i = 0; i < 64 * 3; i++)
			big[i] = hx[i % 9];
		int64_t any = 0;
		for (int i = 0; i < 10; i++)
			any |= infer(c, "house", big, 64, 3, "prediction", out, 1);
		CHECK_INT(any, 0);
		CHECK(metric("corral_prediction_log_skipped_total", "reason=\"too_large\"") >= 1);
	}
	CHECK_MSG(logged > 50 && logged < 150, "%d of 200 logged at sample_rate 0.5", logged);
	until = harness_now_ms() + 5000;
	while (metric("corral_prediction_log_rows", "") > 0 && harness_now_ms() < until)
		sleep_ms(100);
	CHECK_NEAR(metric("corral_prediction_log_rows", ""), 0, 0);
	CHECK(metric("corral_prediction_log_deleted_total", "") >= logged);
	corral_client_close(c);
	CHECK_INT(harness_stop(&h), 0);

	/* no log: no ids, and feedback says why */
	harness_start(&h, corrald, "prediction_log: {path: \"\"}\n");
	c = harness_client(&h, false);
	CHECK_INT(infer(c, "house", hx, 1, 3, "prediction", hq, 1), 0);
	CHECK_INT(feedback(c, next, &t, 1, NULL, &err), CORRAL_E_FAILED_PRECONDITION);
	CHECK_MSG(strstr(err.message, "prediction log is off") != NULL, "%s", err.message);
	CHECK(isnan(metric("corral_prediction_log_rows", "")));
	corral_client_close(c);
	CHECK_INT(harness_stop(&h), 0);

	/* a file that is not a prediction log stops corrald at start, saying so */
	{
		char path[200], cmd[1200], errlog[200];
		snprintf(path, sizeof path, "%s/garbage.db", h.dir);
		FILE *f = fopen(path, "w");
		REQUIRE(f != NULL && fputs("not a database, not at all, not even close\n", f) >= 0 &&
			fclose(f) == 0);
		snprintf(path, sizeof path, "%s/bad.yaml", h.dir);
		f = fopen(path, "w");
		REQUIRE(f != NULL);
		fprintf(f, "listen: [ipc://%s/bad.sock]\nmodel_repository: %s\nruntime_dir: %s/badrun\n"
			   "http_listen: \"\"\nprediction_log: {path: %s/garbage.db}\n",
		    h.dir, h.repo, h.dir, h.dir);
		fclose(f);
		snprintf(errlog, sizeof errlog, "%s/bad.log", h.dir);
		snprintf(cmd, sizeof cmd, "timeout 20 '%s' --config '%s' 2> '%s'", corrald, path,
		    errlog);
		int rc = system(cmd);
		CHECK_INT(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 1);
		char text[4096] = "";
		f = fopen(errlog, "r");
		if (f != NULL) {
			text[fread(text, 1, sizeof text - 1, f)] = '\0';
			fclose(f);
		}
		CHECK_MSG(strstr(text, "garbage.db: file is not a database") != NULL, "%s", text);
	}
	harness_cleanup(&h);
	TEST_MAIN_END();
}
