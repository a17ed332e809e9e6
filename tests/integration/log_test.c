/*
 * log_test - corrald's structured log (log_format: json, log_file) under
 * a real daemon: every line is one JSON object with time, level and msg;
 * a worker's events carry its model, version and pid; a request retried
 * after its worker was killed under it carries the client's request id;
 * and SIGHUP opens the log file again after it was moved away (rotation).
 * It also checks that /readyz turns 503 as soon as a SIGTERM starts the
 * drain, while a request in flight still finishes.
 *
 *   log_test CORRALD MISBEHAVE_SO
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test.h"

static harness h;
static char log_path[256];

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A request that sleeps 1500 ms in the "slow" model's worker. */
static void *slow_request(void *arg)
{
	corral_client *c = harness_client(&h, false);
	double x[2] = {-3, 1500};
	int64_t shape[1] = {2};
	corral_tensor t = {"x", CORRAL_DT_FP64, 1, shape, x, sizeof x};
	corral_result *r = NULL;
	corral_error err;
	*(corral_status *)arg = corral_infer(c, "slow", 0, &t, 1, NULL, 0, &r, &err);
	corral_result_free(r);
	corral_client_close(c);
	return NULL;
}

/* The pid of the "slow" worker that has a request outstanding, from status. */
static pid_t busy_worker(corral_client *c)
{
	char *text = NULL;
	corral_error err;
	pid_t pid = 0;
	if (corral_get_status(c, "slow", &text, &err) != CORRAL_OK)
		return 0;
	json_t *root = json_loads(text, 0, NULL), *w;
	free(text);
	size_t i;
	json_array_foreach(json_object_get(json_array_get(json_object_get(root, "models"), 0),
			       "workers"), i, w)
		if (json_integer_value(json_object_get(w, "outstanding")) > 0)
			pid = (pid_t)json_integer_value(json_object_get(w, "pid"));
	json_decref(root);
	return pid;
}

typedef struct findings {
	int lines, bad;          /* lines read, lines that are not proper JSON */
	bool ready_with_fields;  /* "... ready" with model, version and pid */
	bool ended_with_pid;     /* the killed worker's end, with its pid */
	bool retry_with_id;      /* the retry line, with a request_id */
	bool reopened;           /* "log file opened again" */
} findings;

static void read_log(const char *path, pid_t killed, findings *f)
{
	memset(f, 0, sizeof *f);
	FILE *in = fopen(path, "r");
	char line[4096];
	while (in && fgets(line, sizeof line, in)) {
		f->lines++;
		json_t *o = json_loads(line, 0, NULL);
		const char *msg = json_string_value(json_object_get(o, "msg"));
		const char *model = json_string_value(json_object_get(o, "model"));
		json_int_t pid = json_integer_value(json_object_get(o, "pid"));
		if (o == NULL || msg == NULL || !json_is_string(json_object_get(o, "time")) ||
		    !json_is_string(json_object_get(o, "level"))) {
			f->bad++;
			json_decref(o);
			continue;
		}
		if (strstr(msg, " ready (worker pid") && model && pid > 0 &&
		    json_integer_value(json_object_get(o, "version")) == 1)
			f->ready_with_fields = true;
		if (killed > 0 && pid == killed && strstr(msg, "ended (crash"))
			f->ended_with_pid = true;
		if (strstr(msg, "retrying a request") &&
		    json_is_string(json_object_get(o, "request_id")) && model &&
		    strcmp(model, "slow") == 0)
			f->retry_with_id = true;
		f->reopened = f->reopened || strstr(msg, "log file opened again");
		json_decref(o);
	}
	if (in)
		fclose(in);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: log_test CORRALD MISBEHAVE_SO\n");
		return 2;
	}
	harness_init(&h);
	char yaml[700], extra[600];
	snprintf(yaml, sizeof yaml, "plugin: %s\ninstances: 2\n", argv[2]);
	harness_write(&h, "slow/config.yaml", yaml);
	harness_write(&h, "slow/1/README", "sleeps on request\n");
	snprintf(log_path, sizeof log_path, "%s/corrald.jsonl", h.dir);
	snprintf(extra, sizeof extra, "log_format: json\nlog_file: %s\n", log_path);
	harness_start(&h, argv[1], extra);
	corral_client *c = harness_client(&h, false);

	/* a request in flight when its worker is killed: retried, logged
	 * with its request id */
	corral_status st = CORRAL_E_INTERNAL;
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, slow_request, &st) == 0);
	pid_t victim = 0;
	for (int i = 0; i < 100 && victim == 0; i++) {
		sleep_ms(20);
		victim = busy_worker(c);
	}
	REQUIRE(victim > 0 && kill(victim, SIGKILL) == 0);
	pthread_join(t, NULL);
	CHECK_INT(st, CORRAL_OK);

	findings f;
	read_log(log_path, victim, &f);
	printf("log: %d lines, %d not JSON\n", f.lines, f.bad);
	CHECK_MSG(f.lines > 5 && f.bad == 0, "every line is a JSON object with time, level, msg");
	CHECK_MSG(f.ready_with_fields, "a READY line carries model, version and pid");
	CHECK_MSG(f.ended_with_pid, "the killed worker's end carries its pid");
	CHECK_MSG(f.retry_with_id, "the retried request's line carries its request_id");

	/* rotation: move the file away, SIGHUP, the daemon writes a new one */
	char moved[300];
	snprintf(moved, sizeof moved, "%s.1", log_path);
	REQUIRE(rename(log_path, moved) == 0);
	REQUIRE(kill(h.pid, SIGHUP) == 0);
	for (int i = 0; i < 100 && access(log_path, F_OK) != 0; i++)
		sleep_ms(20);
	read_log(log_path, 0, &f);
	CHECK_MSG(f.reopened && f.bad == 0, "after SIGHUP the log goes to a new file");

	/* readiness during shutdown: 200, then 503 once the drain starts */
	CHECK(harness_wait_state(c, "slow", 1, "READY", 10000));
	CHECK_INT(harness_http_get(h.http_port, "/readyz", NULL), 200);
	REQUIRE(pthread_create(&t, NULL, slow_request, &st) == 0);
	for (int i = 0; i < 100 && busy_worker(c) == 0; i++)
		sleep_ms(20);
	REQUIRE(kill(h.pid, SIGTERM) == 0);
	sleep_ms(100);
	CHECK_INT(harness_http_get(h.http_port, "/readyz", NULL), 503);
	CHECK_INT(harness_http_get(h.http_port, "/healthz", NULL), 200);
	pthread_join(t, NULL);
	CHECK_INT(st, CORRAL_OK);

	corral_client_close(c);
	if (test_failed_) {
		char cmd[700];
		snprintf(cmd, sizeof cmd, "cat '%s' '%s' >&2", moved, log_path);
		if (system(cmd) != 0)
			fprintf(stderr, "(no log)\n");
	}
	harness_cleanup(&h);
	TEST_MAIN_END();
}
