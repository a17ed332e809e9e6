/*
 * metrics_test - corrald's HTTP listener under a real daemon and a real
 * Prometheus server: the health endpoints answer 200 (and /readyz 503
 * while a model has no READY worker); /metrics counts exactly the
 * requests sent, by version and status, with a duration histogram, and
 * passes `promtool check metrics`; Prometheus, started with the scrape
 * config from configs/prometheus/, scrapes corrald, and its HTTP API
 * gives back the request count and a median latency that matches the
 * one the test measured, and the shipped alerting rules raise
 * CorralVersionFailed for the version that cannot load.
 *
 * Every query of the shipped Grafana dashboard is also run against that
 * Prometheus, which must accept it.
 *
 *   metrics_test CORRALD EXAMPLE_REPO CONFIGS_DIR
 */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test.h"

#define OK_REQUESTS 300

static harness h;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* One infer on iris with `cols` features; returns the status. */
static corral_status infer(corral_client *c, const char *model, int cols)
{
	static const double row[5] = {5.1, 3.5, 1.4, 0.2, 0};
	int64_t shape[2] = {1, cols};
	corral_tensor t = {"input", CORRAL_DT_FP64, 2, shape, row, sizeof(double) * (size_t)cols};
	corral_result *r = NULL;
	corral_error err;
	corral_status st = corral_infer(c, model, 0, &t, 1, NULL, 0, &r, &err);
	corral_result_free(r);
	return st;
}

/* The value of the series that `line` starts (exactly) in text, or NAN. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return NAN;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* ---------------------------------------------------------- prometheus --- */

static pid_t prom_pid;
static int prom_port;

/* Start Prometheus on configs/prometheus/prometheus.yml with corrald's
 * port as its target and a 1 s scrape interval. */
static void start_prometheus(const char *shipped)
{
	FILE *in = fopen(shipped, "r");
	REQUIRE(in != NULL);
	char path[256], line[512], target[64];
	snprintf(path, sizeof path, "%s/prometheus.yml", h.dir);
	snprintf(target, sizeof target, "127.0.0.1:%d", h.http_port);
	FILE *out = fopen(path, "w");
	REQUIRE(out != NULL);
	while (fgets(line, sizeof line, in)) {
		char *at = strstr(line, "127.0.0.1:9750");
		if (strstr(line, "scrape_interval:"))
			fputs("  scrape_interval: 1s\n", out);
		else if (strstr(line, "evaluation_interval:"))
			fputs("  evaluation_interval: 1s\n", out);
		else if (at != NULL)
			fprintf(out, "%.*s%s%s", (int)(at - line), line, target, at + 14);
		else
			fputs(line, out);
	}
	fclose(in);
	fclose(out);
	/* the alerting rules the config names, beside it */
	char cmd[700];
	snprintf(cmd, sizeof cmd, "cp \"$(dirname '%s')/corral-alerts.yml\" '%s/'", shipped, h.dir);
	REQUIRE(system(cmd) == 0);
	prom_port = harness_free_port();
	char listen[64], tsdb[256], cfg_arg[300];
	snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", prom_port);
	snprintf(tsdb, sizeof tsdb, "--storage.tsdb.path=%s/tsdb", h.dir);
	snprintf(cfg_arg, sizeof cfg_arg, "--config.file=%s", path);
	prom_pid = fork();
	if (prom_pid == 0) {
		char log[256];
		snprintf(log, sizeof log, "%s/prometheus.log", h.dir);
		if (freopen(log, "w", stderr) == NULL || freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execlp("prometheus", "prometheus", cfg_arg, tsdb, listen, (char *)NULL);
		_exit(127);
	}
	REQUIRE(prom_pid > 0);
}

static void stop_prometheus(void)
{
	if (prom_pid > 0) {
		kill(prom_pid, SIGTERM);
		waitpid(prom_pid, NULL, 0);
		prom_pid = 0;
	}
}

/* Percent-encode s for a query string. */
static void urlencode(const char *s, char *out, size_t n)
{
	size_t o = 0;
	for (; *s && o + 4 < n; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-_.~", ch))
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, n - o, "%%%02X", ch);
	}
	out[o] = '\0';
}

/* The first value of an instant query, or NAN (no answer, no result). */
static double prom_query(const char *promql)
{
	char enc[3072], path[3200];
	urlencode(promql, enc, sizeof enc);
	snprintf(path, sizeof path, "/api/v1/query?query=%s", enc);
	char *body = NULL;
	int status = harness_http_get(prom_port, path, &body);
	double v = NAN;
	json_t *root = status == 200 && body ? json_loads(body, 0, NULL) : NULL;
	json_t *first = json_array_get(json_object_get(json_object_get(root, "data"), "result"), 0);
	const char *text = json_string_value(json_array_get(json_object_get(first, "value"), 1));
	if (text != NULL)
		v = strtod(text, NULL);
	json_decref(root);
	free(body);
	return v;
}

/* Wait up to timeout_ms for promql to give `want` (within tol). */
static double prom_wait(const char *promql, double want, double tol, int timeout_ms)
{
	long long end = harness_now_ms() + timeout_ms;
	double v;
	while (!((v = prom_query(promql)) >= want - tol && v <= want + tol) &&
	       harness_now_ms() < end)
		sleep_ms(250);
	return v;
}

/* s with every `from` replaced by `to`, into out. */
static void replace_all(const char *s, const char *from, const char *to, char *out, size_t n)
{
	size_t o = 0, fl = strlen(from);
	while (*s && o + 1 < n) {
		if (strncmp(s, from, fl) == 0) {
			o += (size_t)snprintf(out + o, n - o, "%s", to);
			s += fl;
		} else {
			out[o++] = *s++;
		}
		if (o >= n)
			o = n - 1;
	}
	out[o] = '\0';
}

/* Every target of the Grafana dashboard is a query Prometheus accepts
 * (its variables set to all models and a 1 m rate window). */
static void check_dashboard(const char *path)
{
	json_error_t jerr;
	json_t *dash = json_load_file(path, 0, &jerr);
	CHECK_MSG(dash != NULL, "%s: %s", path, jerr.text);
	size_t i, j, queries = 0, accepted = 0;
	json_t *panel, *target;
	json_array_foreach(json_object_get(dash, "panels"), i, panel)
		json_array_foreach(json_object_get(panel, "targets"), j, target) {
			const char *expr = json_string_value(json_object_get(target, "expr"));
			char a[1024], b[1024], enc[3072], q[3200];
			replace_all(expr ? expr : "", "$model", ".*", a, sizeof a);
			replace_all(a, "$__rate_interval", "1m", b, sizeof b);
			urlencode(b, enc, sizeof enc);
			snprintf(q, sizeof q, "/api/v1/query?query=%s", enc);
			int status = harness_http_get(prom_port, q, NULL);
			queries++;
			accepted += status == 200;
			if (status != 200)
				fprintf(stderr, "dashboard query refused (%d): %s\n", status, b);
		}
	json_decref(dash);
	printf("Grafana dashboard: %zu of %zu queries accepted by Prometheus\n", accepted, queries);
	CHECK_MSG(queries >= 10 && accepted == queries, "the dashboard's queries are valid");
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: metrics_test CORRALD EXAMPLE_REPO CONFIGS_DIR\n");
		return 2;
	}
	char shipped[512], dashboard[512];
	snprintf(shipped, sizeof shipped, "%s/prometheus/prometheus.yml", argv[3]);
	snprintf(dashboard, sizeof dashboard, "%s/grafana/corral-dashboard.json", argv[3]);
	harness_init(&h);
	char target[600];
	harness_write(&h, "iris/config.yaml", "plugin: linear\n");
	snprintf(target, sizeof target, "%s/iris/1", argv[2]);
	harness_link(&h, "iris/1", target);
	/* a model whose only version cannot load: never ready */
	harness_write(&h, "broken/config.yaml", "plugin: linear\n");
	harness_write(&h, "broken/1/model.json", "{ not a model");
	harness_start(&h, argv[1], NULL);
	corral_client *c = harness_client(&h, false);

	/* health: live; not ready while "broken" has no READY worker */
	CHECK_INT(harness_http_get(h.http_port, "/healthz", NULL), 200);
	CHECK_INT(harness_http_get(h.http_port, "/v2/health/live", NULL), 200);
	CHECK(harness_wait_state(c, "broken", 1, "FAILED", 10000));
	CHECK_INT(harness_http_get(h.http_port, "/readyz", NULL), 503);
	CHECK_INT(harness_http_get(h.http_port, "/v2/health/ready", NULL), 503);
	CHECK_INT(harness_http_get(h.http_port, "/nope", NULL), 404);

	/* Prometheus first, so that it sees the counters rise */
	start_prometheus(shipped);
	CHECK_MSG(prom_wait("up{job=\"corrald\"}", 1, 0, 30000) == 1, "Prometheus scrapes corrald");

	/* the shipped alerting rules are loaded and evaluated: the FAILED
	 * version raises CorralVersionFailed (pending for its first minute) */
	bool alerted = false;
	for (long long end = harness_now_ms() + 20000; !alerted && harness_now_ms() < end;
	     sleep_ms(250)) {
		char *alerts = NULL;
		if (harness_http_get(prom_port, "/api/v1/alerts", &alerts) == 200 && alerts)
			alerted = strstr(alerts, "\"CorralVersionFailed\"") &&
			    strstr(alerts, "\"model\":\"broken\"");
		free(alerts);
	}
	CHECK_MSG(alerted, "Prometheus raises CorralVersionFailed for the broken model");

	/* traffic: OK requests timed here, wrong shapes, unknown models */
	static double rtt[OK_REQUESTS];
	int ok = 0;
	for (int i = 0; i < OK_REQUESTS; i++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		ok += infer(c, "iris", 4) == CORRAL_OK;
		clock_gettime(CLOCK_MONOTONIC, &b);
		rtt[i] = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	}
	CHECK_INT(ok, OK_REQUESTS);
	for (int i = 0; i < 5; i++) {
		corral_status st = infer(c, "iris", 5);
		CHECK_INT(st, CORRAL_E_FEATURE_COUNT_MISMATCH);
	}
	for (int i = 0; i < 3; i++)
		CHECK_INT(infer(c, "nope", 4), CORRAL_E_MODEL_NOT_FOUND);
	qsort(rtt, OK_REQUESTS, sizeof *rtt, cmp_double);
	double p50 = rtt[OK_REQUESTS / 2];

	/* /metrics counts exactly that */
	char *text = NULL;
	CHECK_INT(harness_http_get(h.http_port, "/metrics", &text), 200);
	REQUIRE(text != NULL);
	CHECK_NEAR(sample(text, "corral_requests_total{model=\"iris\",version=\"1\",code=\"OK\"}"),
	    OK_REQUESTS, 0);
	CHECK_NEAR(sample(text,
		       "corral_requests_total{model=\"iris\",version=\"1\",code=\"FEATURE_COUNT_MISMATCH\"}"),
	    5, 0);
	CHECK_NEAR(sample(text, "corral_requests_unrouted_total{code=\"MODEL_NOT_FOUND\"}"), 3, 0);
	CHECK_NEAR(sample(text, "corral_request_duration_seconds_count{model=\"iris\",version=\"1\"}"),
	    OK_REQUESTS + 5, 0);
	/* a worker answered the OK ones (corrald refused the others before
	 * any worker saw them): their queue and infer parts add up to no
	 * more than the whole */
	CHECK_NEAR(sample(text, "corral_request_infer_seconds_count{model=\"iris\",version=\"1\"}"),
	    OK_REQUESTS, 0);
	CHECK_NEAR(sample(text, "corral_request_queue_seconds_count{model=\"iris\",version=\"1\"}"),
	    OK_REQUESTS, 0);
	double whole = sample(text, "corral_request_duration_seconds_sum{model=\"iris\",version=\"1\"}");
	double parts = sample(text, "corral_request_infer_seconds_sum{model=\"iris\",version=\"1\"}") +
	    sample(text, "corral_request_queue_seconds_sum{model=\"iris\",version=\"1\"}");
	CHECK_MSG(parts > 0 && parts <= whole + 1e-6, "queue %g + infer <= whole %g", parts, whole);
	CHECK_NEAR(sample(text, "corral_model_ready{model=\"broken\",version=\"1\"}"), 0, 0);
	CHECK_NEAR(sample(text, "corral_workers{model=\"iris\",version=\"1\",state=\"READY\"}"), 1, 0);
	CHECK_NEAR(sample(text,
		       "corral_worker_exits_total{model=\"broken\",version=\"1\",cause=\"start_failure\"}"),
	    1, 0);

	/* promtool agrees with the format */
	char path[256];
	snprintf(path, sizeof path, "%s/metrics.txt", h.dir);
	FILE *f = fopen(path, "w");
	REQUIRE(f != NULL && fputs(text, f) >= 0 && fclose(f) == 0);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "promtool check metrics < '%s'", path);
	CHECK_INT(system(cmd), 0);
	free(text);

	/* and Prometheus's own view of the traffic */
	double n = prom_wait("sum(corral_requests_total{model=\"iris\",code=\"OK\"})", OK_REQUESTS,
	    0, 15000);
	CHECK_MSG(n == OK_REQUESTS, "Prometheus counted %g OK requests of %d", n, OK_REQUESTS);
	double q = prom_query("histogram_quantile(0.5, sum by (le) "
			      "(corral_request_duration_seconds_bucket{model=\"iris\"}))");
	printf("median latency: %.0f us measured by the client, %.0f us by Prometheus\n",
	    p50 * 1e6, q * 1e6);
	/* The server's time is inside the client's round trip; the buckets
	 * (100, 250, 500 us ...) bound how close the estimate can be. */
	CHECK_MSG(q > 0 && q <= p50 * 2.5 && q >= p50 / 10,
	    "Prometheus's median %.0f us matches the client's %.0f us", q * 1e6, p50 * 1e6);

	check_dashboard(dashboard);
	stop_prometheus();
	corral_client_close(c);
	if (test_failed_) {
		harness_dump_log(&h);
		snprintf(cmd, sizeof cmd, "tail -20 '%s/prometheus.log' >&2", h.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "(no Prometheus log)\n");
	}
	harness_cleanup(&h);
	TEST_MAIN_END();
}
