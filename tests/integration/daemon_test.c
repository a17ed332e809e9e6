/*
 * daemon_test - a real corrald, real confined workers, libcorral over ipc
 * and tcp: serving, confinement, crashes, restarts, deadlines, isolation
 * between models, bad input and shutdown.
 *
 *   daemon_test CORRALD MISBEHAVE_SO EXAMPLE_REPO
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "harness.h"
#include "test.h"

static harness h;
static char *misbehave_so;

/* ------------------------------------------------------------- helpers --- */

static corral_status mb_call(corral_client *c, const double *x, int64_t n,
    corral_result **r, corral_error *err)
{
	int64_t shape[1] = {n};
	corral_tensor t = {"x", CORRAL_DT_FP64, 1, shape, x, (size_t)n * 8};
	return corral_infer(c, "misbehave", 0, &t, 1, NULL, 0, r, err);
}

static double out_at(const corral_tensor *t, size_t i)
{
	double v;
	memcpy(&v, (const char *)t->data + i * 8, 8);
	return v;
}

static corral_status iris_call(corral_client *c, int64_t version, corral_result **r,
    corral_error *err)
{
	static const double row[4] = {5.1, 3.5, 1.4, 0.2};
	int64_t shape[2] = {1, 4};
	corral_tensor t = {"input", CORRAL_DT_FP64, 2, shape, row, sizeof row};
	return corral_infer(c, "iris", version, &t, 1, NULL, 0, r, err);
}

/* iris answers correctly right now (used to show isolation). */
static bool iris_ok(corral_client *c)
{
	corral_result *r;
	corral_error err;
	if (iris_call(c, 0, &r, &err) != CORRAL_OK) {
		fprintf(stderr, "iris failed: %s\n", err.message);
		return false;
	}
	const corral_tensor *p = corral_result_find(r, "probabilities");
	bool ok = p && p->nbytes == 24 &&
	    fabs(out_at(p, 0) + out_at(p, 1) + out_at(p, 2) - 1) < 1e-12;
	corral_result_free(r);
	return ok;
}

static void setup_repo(const char *example_repo)
{
	char target[512], yaml[512];
	harness_write(&h, "iris/config.yaml", "plugin: linear\nversion_policy: {all: true}\n");
	snprintf(target, sizeof target, "%s/iris/1", example_repo);
	harness_link(&h, "iris/1", target);
	snprintf(target, sizeof target, "%s/iris/2", example_repo);
	harness_link(&h, "iris/2", target);
	/* the same model, refusing NaN and infinite inputs */
	harness_write(&h, "strict/config.yaml", "plugin: linear\nnon_finite: reject\n");
	harness_link(&h, "strict/1", target);

	snprintf(yaml, sizeof yaml,
	    "plugin: %s\nrequest_timeout_ms: 1500\nparameters:\n  threads: 3\n"
	    /* crashes on purpose, many times: each reported as it happened,
	     * each followed by a quick restart */
	    "retryable: false\n"
	    "restart: {delay_ms: 50, max_delay_ms: 100, intensity: 100, period_ms: 60000}\n",
	    misbehave_so);
	harness_write(&h, "misbehave/config.yaml", yaml);
	harness_write(&h, "misbehave/1/README", "no files needed\n");

	snprintf(yaml, sizeof yaml, "plugin: %s\nparameters:\n  fail_load: 1\n", misbehave_so);
	harness_write(&h, "broken/config.yaml", yaml);
	harness_write(&h, "broken/1/README", "load fails on purpose\n");

	harness_write(&h, "noplugin/config.yaml", "plugin: /nonexistent/plugin.so\n");
	harness_write(&h, "noplugin/1/README", "the plugin does not exist\n");

	/* A model whose config is broken is skipped; the rest still serve. */
	harness_write(&h, "badconfig/config.yaml", "plugin: linear\nno_such_key: 1\n");
	harness_write(&h, "badconfig/1/README", "\n");
}

/* --------------------------------------------------------------- tests --- */

static void test_models_and_health(corral_client *c)
{
	char buf[32];
	CHECK_STR(harness_state(c, "iris", 1, buf, sizeof buf), "READY");
	CHECK_STR(harness_state(c, "iris", 2, buf, sizeof buf), "READY");
	CHECK_STR(harness_state(c, "misbehave", 1, buf, sizeof buf), "READY");
	CHECK_STR(harness_state(c, "broken", 1, buf, sizeof buf), "FAILED");
	CHECK_STR(harness_state(c, "noplugin", 1, buf, sizeof buf), "FAILED");
	CHECK_STR(harness_state(c, "badconfig", 1, buf, sizeof buf), "");
	corral_model_list *l;
	REQUIRE(corral_list_models(c, &l, NULL) == CORRAL_OK);
	for (size_t i = 0; i < l->count; i++) {
		const char *le = l->entries[i].last_error;
		if (strcmp(l->entries[i].name, "broken") == 0)
			CHECK_MSG(le && strstr(le, "asked to fail at load"), "broken: %s", le ? le : "-");
		if (strcmp(l->entries[i].name, "iris") == 0)
			CHECK_MSG(le == NULL, "iris has no last error: %s", le ? le : "-");
	}
	corral_model_list_free(l);

	bool live = false, ready = true;
	CHECK_INT(corral_health(c, &live, &ready, NULL), CORRAL_OK);
	CHECK(live);
	CHECK(!ready); /* broken and noplugin never serve: readiness says so */

	corral_result *r;
	corral_error err;
	CHECK_INT(mb_call(c, (double[]){1}, 1, &r, &err), CORRAL_OK);
	corral_result_free(r);
	int64_t shape[1] = {1};
	corral_tensor t = {"x", CORRAL_DT_FP64, 1, shape, (double[]){1}, 8};
	CHECK_INT(corral_infer(c, "broken", 0, &t, 1, NULL, 0, &r, &err), CORRAL_E_UNAVAILABLE);
	CHECK_MSG(strstr(err.message, "asked to fail at load") != NULL, "%s", err.message);
	CHECK_INT(corral_infer(c, "noplugin", 0, &t, 1, NULL, 0, &r, &err), CORRAL_E_UNAVAILABLE);
	CHECK_MSG(strstr(err.message, "plugin could not be loaded") != NULL, "%s", err.message);
}

static void test_serving(corral_client *c)
{
	corral_result *r;
	corral_error err;
	CHECK_INT(iris_call(c, 0, &r, &err), CORRAL_OK);
	REQUIRE(r != NULL);
	CHECK_INT(corral_result_model_version(r), 2);
	CHECK_INT(corral_result_output_count(r), 2);
	const corral_tensor *label = r ? corral_result_find(r, "label") : NULL;
	CHECK(label && label->dtype == CORRAL_DT_INT64 && label->ndim == 1 && label->shape[0] == 1);
	corral_result_free(r);
	CHECK_INT(iris_call(c, 1, &r, &err), CORRAL_OK);
	REQUIRE(r != NULL);
	CHECK_INT(corral_result_model_version(r), 1);
	corral_result_free(r);
	CHECK_INT(iris_call(c, 3, &r, &err), CORRAL_E_VERSION_NOT_FOUND);

	corral_metadata *m;
	CHECK_INT(corral_get_metadata(c, "iris", 0, &m, &err), CORRAL_OK);
	REQUIRE(m != NULL);
	CHECK_STR(m->plugin, "linear");
	CHECK_INT(m->n_inputs, 1);
	CHECK_STR(m->inputs[0].name, "input");
	CHECK_INT(m->inputs[0].shape[0], -1);
	CHECK_INT(m->inputs[0].shape[1], 4);
	corral_metadata_free(m);
	CHECK_INT(corral_get_metadata(c, "nope", 0, &m, &err), CORRAL_E_MODEL_NOT_FOUND);
}

/* NaN or an infinity in an input: a model whose config says non_finite:
 * reject answers NON_FINITE_INPUT naming where, before any worker sees it;
 * the default passes it on to the model (whose plugin may refuse it). */
static void test_non_finite(corral_client *c)
{
	double row[8] = {5.1, 3.5, 1.4, 0.2, 6.0, NAN, 1.0, 0.5};
	int64_t shape[2] = {2, 4};
	corral_tensor t = {"input", CORRAL_DT_FP64, 2, shape, row, sizeof row};
	corral_result *r = NULL;
	corral_error err;
	CHECK_INT(corral_infer(c, "strict", 0, &t, 1, NULL, 0, &r, &err),
	    CORRAL_E_NON_FINITE_INPUT);
	CHECK_MSG(strstr(err.message, "NaN at row 2, column 2") != NULL, "where: %s", err.message);
	row[5] = INFINITY;
	CHECK_INT(corral_infer(c, "strict", 0, &t, 1, NULL, 0, &r, &err),
	    CORRAL_E_NON_FINITE_INPUT);
	/* passed on: the linear plugin's own check refuses it */
	CHECK_INT(corral_infer(c, "iris", 0, &t, 1, NULL, 0, &r, &err), CORRAL_E_INVALID_ARGUMENT);
	CHECK_MSG(strstr(err.message, "rejects") == NULL, "the plugin answered: %s", err.message);
	row[5] = 3.0;
	CHECK_INT(corral_infer(c, "strict", 0, &t, 1, NULL, 0, &r, &err), CORRAL_OK);
	corral_result_free(r);
}

/* Another process that dials the workers' sockets is refused: it receives
 * no request, and every request still reaches its real worker. */
static void test_rogue_connections(corral_client *c)
{
	char dir[256];
	snprintf(dir, sizeof dir, "%s/run/workers", h.dir);
	nng_socket rogue[16];
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL && n < 16) {
		if (e->d_name[0] != 'w') /* w<N>/s.sock: one folder per worker */
			continue;
		char url[600];
		snprintf(url, sizeof url, "ipc://%s/%s/s.sock", dir, e->d_name);
		REQUIRE(nng_rep0_open(&rogue[n]) == 0);
		nng_dial(rogue[n], url, NULL, NNG_FLAG_NONBLOCK);
		n++;
	}
	if (d)
		closedir(d);
	CHECK_MSG(n >= 3, "found %d worker sockets", n);
	usleep(300000);
	corral_client_set_timeout(c, 3000);
	int ok = 0;
	for (int i = 0; i < 20; i++) {
		corral_result *r = NULL;
		corral_error err;
		ok += iris_ok(c);
		ok += mb_call(c, (double[]){1}, 1, &r, &err) == CORRAL_OK;
		corral_result_free(r);
	}
	CHECK_INT(ok, 40);
	for (int i = 0; i < n; i++) {
		nng_msg *m;
		CHECK_MSG(nng_recvmsg(rogue[i], &m, NNG_FLAG_NONBLOCK) == NNG_EAGAIN,
		    "the rogue socket %d received nothing", i);
		nng_close(rogue[i]);
	}
	corral_client_set_timeout(c, 20000);
}

/* Every thread of every serving worker is under a seccomp filter. */
static void test_confined_threads(void)
{
	pid_t pids[16];
	int n = harness_workers(&h, pids, 16);
	CHECK_MSG(n == 4, "4 serving workers (iris 1, iris 2, strict, misbehave), got %d", n);
	int threads = 0, confined = 0;
	for (int i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/task", (int)pids[i]);
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char spath[384], line[256];
			snprintf(spath, sizeof spath, "%s/%s/status", path, e->d_name);
			FILE *f = fopen(spath, "r");
			while (f && fgets(line, sizeof line, f))
				if (strncmp(line, "Seccomp:", 8) == 0) {
					threads++;
					confined += atoi(line + 8) == 2;
				}
			if (f)
				fclose(f);
		}
		if (d)
			closedir(d);
	}
	CHECK_MSG(threads >= 6 && confined == threads,
	    "%d of %d worker threads in seccomp filter mode", confined, threads);
}

/* File access is refused with EACCES, not by killing the worker. */
static void test_file_access_refused(corral_client *c)
{
	corral_result *r;
	corral_error err;
	CHECK_INT(mb_call(c, (double[]){-4}, 1, &r, &err), CORRAL_OK);
	if (r && corral_result_find(r, "y")) {
		CHECK_INT(out_at(corral_result_find(r, "y"), 0), EACCES);
		corral_result_free(r);
	}
	CHECK_INT(mb_call(c, (double[]){-6}, 1, &r, &err), CORRAL_E_MODEL_ERROR);
	CHECK_STR(err.message, "asked to fail");
}

/* fork() answers EPERM: the worker keeps serving (the plugin then
 * answers 2 * x as usual). */
static void test_fork_refused(corral_client *c)
{
	corral_result *r = NULL;
	corral_error err;
	corral_status st = mb_call(c, (double[]){-7}, 1, &r, &err);
	CHECK_MSG(st == CORRAL_OK, "fork refused, worker serving: %s: %s",
	    corral_status_name(st), err.message);
	corral_result_free(r);
}

/* A command that ends the worker: the request is answered with
 * WORKER_CRASHED naming the cause, iris is untouched, misbehave comes back. */
static void crash_and_recover(corral_client *c, double cmd, const char *cause)
{
	corral_result *r = NULL;
	corral_error err;
	corral_status st = mb_call(c, &cmd, 1, &r, &err);
	CHECK_MSG(st == CORRAL_E_WORKER_CRASHED, "command %g: %s: %s", cmd,
	    corral_status_name(st), err.message);
	CHECK_MSG(strstr(err.message, cause) != NULL, "cause '%s' in '%s'", cause, err.message);
	CHECK(iris_ok(c));
	CHECK_MSG(harness_wait_state(c, "misbehave", 1, "READY", 10000),
	    "misbehave restarted after '%s'", cause);
	st = mb_call(c, (double[]){21}, 1, &r, &err);
	CHECK_MSG(st == CORRAL_OK, "after '%s': %s: %s", cause, corral_status_name(st),
	    err.message);
	if (r && corral_result_find(r, "y")) {
		CHECK_INT(out_at(corral_result_find(r, "y"), 0), 42);
		corral_result_free(r);
	}
}

struct slow_arg {
	harness *h;
	double ms;
	corral_status st;
	corral_error err;
};

static void *slow_request(void *arg)
{
	struct slow_arg *a = arg;
	corral_client *c = harness_client(a->h, false);
	corral_result *r = NULL;
	a->st = mb_call(c, (double[]){-3, a->ms}, 2, &r, &a->err);
	corral_result_free(r);
	corral_client_close(c);
	return NULL;
}

/* A model busy for 1.2 s does not slow another model down: 20 requests to
 * iris take a few ms, far from the ~1.1 s they would wait if blocked. */
static void test_slow_model_isolated(corral_client *c)
{
	struct slow_arg a = {&h, 1200, -1, {0}};
	pthread_t t;
	pthread_create(&t, NULL, slow_request, &a);
	usleep(100000);
	long long t0 = harness_now_ms();
	int ok = 0;
	for (int i = 0; i < 20; i++)
		ok += iris_ok(c);
	long long took = harness_now_ms() - t0;
	pthread_join(t, NULL);
	CHECK_INT(ok, 20);
	CHECK_MSG(took < 800, "20 iris requests took %lld ms while misbehave slept", took);
	CHECK_INT(a.st, CORRAL_OK);
}

/* Past the model's request_timeout_ms (1500) the client gets
 * DEADLINE_EXCEEDED instead of waiting. */
static void test_deadline(void)
{
	struct slow_arg a = {&h, 2500, -1, {0}};
	long long t0 = harness_now_ms();
	slow_request(&a);
	long long took = harness_now_ms() - t0;
	CHECK_INT(a.st, CORRAL_E_DEADLINE_EXCEEDED);
	CHECK_MSG(took >= 1400 && took < 2400, "deadline reply after %lld ms", took);
	usleep(1200000); /* let the worker finish its sleep */
}

/* kill -9 of a worker with several requests in flight: each one is
 * answered at once, none hangs. */
static void test_kill_with_requests_in_flight(corral_client *c)
{
	struct slow_arg a[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct slow_arg){&h, 1200, -1, {0}};
		pthread_create(&t[i], NULL, slow_request, &a[i]);
	}
	usleep(200000);
	pid_t pids[16];
	int n = harness_workers(&h, pids, 16);
	pid_t victim = 0;
	for (int i = 0; i < n; i++) {
		char path[64], cmd[512] = "";
		snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pids[i]);
		FILE *f = fopen(path, "r");
		size_t len = f ? fread(cmd, 1, sizeof cmd - 1, f) : 0;
		if (f)
			fclose(f);
		for (size_t k = 0; k < len; k++)
			if (cmd[k] == '\0')
				cmd[k] = ' ';
		if (strstr(cmd, "--model misbehave"))
			victim = pids[i];
	}
	REQUIRE(victim > 0);
	long long t0 = harness_now_ms();
	kill(victim, SIGKILL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	long long took = harness_now_ms() - t0;
	for (int i = 0; i < 4; i++) {
		CHECK_INT(a[i].st, CORRAL_E_WORKER_CRASHED);
		CHECK_MSG(strstr(a[i].err.message, "signal 9") != NULL, "%s", a[i].err.message);
	}
	CHECK_MSG(took < 1000, "in-flight requests answered %lld ms after the kill", took);
	CHECK(harness_wait_state(c, "misbehave", 1, "READY", 10000));
}

/* A reply over max_response_bytes (1 MiB here) fails that request alone:
 * the worker keeps serving, no restart. */
static void test_reply_too_large(corral_client *c)
{
	corral_result *r = NULL;
	corral_error err;
	pid_t before[16], after[16];
	int nb = harness_workers(&h, before, 16);
	CHECK_INT(mb_call(c, (double[]){-8, 200000}, 2, &r, &err), CORRAL_E_PAYLOAD_TOO_LARGE);
	CHECK_MSG(strstr(err.message, "max_response_bytes") != NULL, "%s", err.message);
	CHECK_INT(mb_call(c, (double[]){-8, 1000}, 2, &r, &err), CORRAL_OK);
	corral_result_free(r);
	int na = harness_workers(&h, after, 16);
	CHECK_INT(na, nb);
	for (int i = 0; i < na && i < nb; i++)
		CHECK_INT(after[i], before[i]);
}

/* Oversized requests are refused with their own code; the daemon goes on. */
static void test_payload_too_large(corral_client *c)
{
	size_t n = 100u << 20; /* 100 MiB of FP64 */
	double *x = calloc(n / 8, 8);
	REQUIRE(x != NULL);
	int64_t shape[1] = {(int64_t)(n / 8)};
	corral_tensor t = {"x", CORRAL_DT_FP64, 1, shape, x, n};
	corral_result *r;
	corral_error err;
	CHECK_INT(corral_infer(c, "misbehave", 0, &t, 1, NULL, 0, &r, &err),
	    CORRAL_E_PAYLOAD_TOO_LARGE);
	free(x);
	CHECK(iris_ok(c));
}

static void test_shutdown(void)
{
	pid_t pids[16];
	int n = harness_workers(&h, pids, 16);
	CHECK(n >= 3);
	int status = harness_stop(&h);
	CHECK_MSG(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "corrald exits 0 on SIGTERM (status %d)", status);
	for (int i = 0; i < n; i++)
		CHECK_MSG(kill(pids[i], 0) != 0, "worker %d gone after shutdown", (int)pids[i]);
	char path[256];
	struct stat st;
	snprintf(path, sizeof path, "%s/corral.sock", h.dir);
	CHECK_MSG(stat(path, &st) != 0, "client socket removed");
	snprintf(path, sizeof path, "%s/run/workers", h.dir);
	CHECK_MSG(stat(path, &st) != 0, "worker socket folder removed");
}

int main(int argc, char **argv)
{
	REQUIRE(argc == 4);
	misbehave_so = realpath(argv[2], NULL);
	char *example_repo = realpath(argv[3], NULL);
	REQUIRE(misbehave_so && example_repo);
	harness_init(&h);
	setup_repo(example_repo);
	harness_start(&h, argv[1], "restart_delay_ms: 100\nmax_response_bytes: 1048576\n");

	corral_client *ipc = harness_client(&h, false);
	corral_client *tcp = harness_client(&h, true);
	test_models_and_health(ipc);
	test_serving(ipc);
	test_serving(tcp);
	test_non_finite(ipc);
	test_confined_threads();
	test_rogue_connections(ipc);
	test_file_access_refused(ipc);
	crash_and_recover(ipc, -1, "signal 6");
	crash_and_recover(tcp, -2, "signal 11");
	crash_and_recover(ipc, -5, "sandbox violation: socket");
	test_fork_refused(ipc);
	test_slow_model_isolated(ipc);
	test_deadline();
	test_kill_with_requests_in_flight(ipc);
	test_payload_too_large(ipc);
	test_reply_too_large(ipc);
	corral_client_close(ipc);
	corral_client_close(tcp);
	test_shutdown();
	if (test_failed_)
		harness_dump_log(&h);
	harness_cleanup(&h);
	free(misbehave_so);
	free(example_repo);
	TEST_MAIN_END();
}
