/*
 * supervision_test - worker supervision under a real corrald: a crash loop
 * ends FAILED after the restart intensity with its backoff in the log and
 * readiness false for that model only; instances share the work; a full
 * queue answers OVERLOADED; a client's deadline is kept without killing a
 * worker that answers; a hung worker is replaced; an idle worker frozen
 * with SIGSTOP misses its heartbeat and is replaced; kill -9 of a random
 * worker of two retryable models every 100 ms for 20 s costs them no
 * request (plain builds; see test_chaos); and SIGTERM lets a request in
 * flight finish.
 *
 *   supervision_test CORRALD MISBEHAVE_SO EXAMPLE_REPO
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test.h"

#define CHAOS_MS 20000
#define CHAOS_KILL_EVERY_MS 100

static harness h;

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* misbehave: x = {cmd, arg}; -3 sleeps arg ms, -1 aborts. */
static corral_status mb_call(corral_client *c, const char *model, double cmd, double arg,
    corral_error *err)
{
	double x[2] = {cmd, arg};
	int64_t shape[1] = {2};
	corral_tensor t = {"x", CORRAL_DT_FP64, 1, shape, x, sizeof x};
	corral_result *r = NULL;
	corral_status st = corral_infer(c, model, 0, &t, 1, NULL, 0, &r, err);
	corral_result_free(r);
	return st;
}

static corral_status linear_call(corral_client *c, const char *model, corral_error *err)
{
	static const double iris[4] = {5.1, 3.5, 1.4, 0.2};
	static const double churn[4] = {12, 70.5, 1, 3};
	int64_t shape[2] = {1, 4};
	corral_tensor t = {"input", CORRAL_DT_FP64, 2, shape,
	    strcmp(model, "iris") == 0 ? iris : churn, sizeof iris};
	corral_result *r = NULL;
	corral_status st = corral_infer(c, model, 0, &t, 1, NULL, 0, &r, err);
	corral_result_free(r);
	return st;
}

static void setup_repo(const char *mb, const char *example)
{
	char yaml[1024], target[600];
	/* Restarts quick and many: the chaos below kills ten workers a second. */
	static const char *const chaos_restart =
	    "instances: 2\n"
	    "restart: {delay_ms: 20, max_delay_ms: 200, intensity: 100, period_ms: 5000}\n";
	static const char *const linear_models[] = {"iris", "churn"};
	for (int i = 0; i < 2; i++) {
		char rel[64];
		snprintf(yaml, sizeof yaml, "plugin: linear\n%s", chaos_restart);
		snprintf(rel, sizeof rel, "%s/config.yaml", linear_models[i]);
		harness_write(&h, rel, yaml);
		snprintf(rel, sizeof rel, "%s/1", linear_models[i]);
		snprintf(target, sizeof target, "%s/%s/1", example, linear_models[i]);
		harness_link(&h, rel, target);
	}
	snprintf(yaml, sizeof yaml,
	    "plugin: %s\ninstances: 2\nmax_queue: 1\nretryable: false\n"
	    "request_timeout_ms: 5000\n", mb);
	harness_write(&h, "slow/config.yaml", yaml);
	harness_write(&h, "slow/1/README", "sleeps on request\n");
	snprintf(yaml, sizeof yaml,
	    "plugin: %s\nrequest_timeout_ms: 800\nretryable: false\n"
	    "restart: {delay_ms: 20, max_delay_ms: 20}\n", mb);
	harness_write(&h, "hang/config.yaml", yaml);
	harness_write(&h, "hang/1/README", "hangs on request\n");
	snprintf(yaml, sizeof yaml,
	    "plugin: %s\nparameters: {crash_load: \"1\"}\n"
	    "restart: {delay_ms: 50, max_delay_ms: 400, intensity: 4, period_ms: 60000}\n", mb);
	harness_write(&h, "crashy/config.yaml", yaml);
	harness_write(&h, "crashy/1/README", "aborts at load\n");
}

/* ------------------------------------------------------- crash loop --- */

static bool model_ready(corral_client *c, const char *model)
{
	bool live = false, ready = false;
	corral_error err;
	return corral_model_health(c, model, &live, &ready, &err) == CORRAL_OK && live && ready;
}

static void test_crash_loop(corral_client *c)
{
	CHECK_MSG(harness_wait_state(c, "crashy", 1, "FAILED", 15000), "crashy ends FAILED");
	corral_model_list *l = NULL;
	corral_error err;
	REQUIRE(corral_list_models(c, &l, &err) == CORRAL_OK);
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->entries[i].name, "crashy") == 0)
			CHECK_MSG(l->entries[i].last_error &&
				strstr(l->entries[i].last_error, "crash loop: 4 restarts"),
			    "last_error names the crash loop: %s",
			    l->entries[i].last_error ? l->entries[i].last_error : "(none)");
	corral_model_list_free(l);
	CHECK_MSG(!model_ready(c, "crashy"), "crashy is not ready");
	CHECK_MSG(model_ready(c, "iris") && model_ready(c, "slow"), "the others are ready");
	bool live = false, ready = true;
	CHECK_INT(corral_health(c, &live, &ready, &err), CORRAL_OK);
	CHECK_MSG(live && !ready, "the daemon as a whole is live, not ready");
	CHECK_INT(mb_call(c, "crashy", 1, 0, &err), CORRAL_E_UNAVAILABLE);

	/* The backoff schedule, from the log: 4 restarts, each about twice
	 * the one before (+-20% jitter), then FAILED. */
	FILE *f = fopen(h.log, "r");
	REQUIRE(f != NULL);
	char line[1024];
	long delays[8];
	int n = 0;
	bool failed_logged = false;
	while (fgets(line, sizeof line, f)) {
		const char *p = strstr(line, "model crashy version 1 instance 0: restart ");
		int k;
		long ms;
		if (p && sscanf(p, "model crashy version 1 instance 0: restart %d in %ld ms",
			     &k, &ms) == 2 && n < 8)
			delays[n++] = ms;
		failed_logged = failed_logged ||
		    strstr(line, "crashy version 1: FAILED: crash loop") != NULL;
	}
	fclose(f);
	CHECK_MSG(n == 4 && failed_logged, "4 restarts logged (%d), then FAILED (%d)", n,
	    failed_logged);
	printf("crash loop backoff (ms):");
	for (int i = 0; i < n; i++)
		printf(" %ld", delays[i]);
	printf("\n");
	for (int i = 1; i < n; i++)
		CHECK_MSG(delays[i] >= delays[i - 1] && delays[i] <= 400 * 12 / 10,
		    "backoff grows, capped: %ld after %ld", delays[i], delays[i - 1]);
	CHECK_MSG(n < 1 || (delays[0] >= 40 && delays[0] <= 60), "first backoff ~50 ms: %ld",
	    n ? delays[0] : 0L);
}

/* -------------------------------------------- instances and queueing --- */

typedef struct slow_call {
	double sleep_ms;
	int timeout_ms;
	corral_status st;
	long long ms;
	char why[600];
} slow_call;

static void *slow_thread(void *arg)
{
	slow_call *s = arg;
	corral_client *c = harness_client(&h, false);
	if (s->timeout_ms)
		corral_client_set_timeout(c, s->timeout_ms);
	corral_error err;
	long long t0 = harness_now_ms();
	s->st = mb_call(c, "slow", -3, s->sleep_ms, &err);
	s->ms = harness_now_ms() - t0;
	snprintf(s->why, sizeof s->why, "%s", s->st == CORRAL_OK ? "" : err.message);
	corral_client_close(c);
	return NULL;
}

/* Two slow requests on two instances run side by side; with both busy and
 * one more queued (max_queue 1), a fourth is OVERLOADED at once. */
static void test_instances_and_queue(void)
{
	slow_call calls[4] = {{.sleep_ms = 500}, {.sleep_ms = 500}, {.sleep_ms = 500},
	    {.sleep_ms = 500}};
	pthread_t t[4];
	long long t0 = harness_now_ms();
	for (int i = 0; i < 4; i++) {
		REQUIRE(pthread_create(&t[i], NULL, slow_thread, &calls[i]) == 0);
		sleep_ms(60); /* in order: two running, one queued, one over */
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	long long total = harness_now_ms() - t0;
	printf("slow: %s %lld ms, %s %lld ms, %s %lld ms, %s %lld ms; all in %lld ms\n",
	    corral_status_name(calls[0].st), calls[0].ms, corral_status_name(calls[1].st),
	    calls[1].ms, corral_status_name(calls[2].st), calls[2].ms,
	    corral_status_name(calls[3].st), calls[3].ms, total);
	CHECK_MSG(calls[0].st == CORRAL_OK && calls[1].st == CORRAL_OK &&
		calls[0].ms < 800 && calls[1].ms < 800,
	    "the first two run side by side on the two instances");
	CHECK_MSG(calls[2].st == CORRAL_OK && calls[2].ms >= 700,
	    "the third waits in the queue, then runs");
	CHECK_MSG(calls[3].st == CORRAL_E_OVERLOADED && calls[3].ms < 300,
	    "the fourth is OVERLOADED at once");
}

/* A client's own short deadline: DEADLINE_EXCEEDED at that deadline, and
 * the worker, which answers in the end, is not killed for it. */
static void test_client_deadline(corral_client *c)
{
	slow_call s = {.sleep_ms = 600, .timeout_ms = 200};
	slow_thread(&s);
	CHECK_MSG(s.st == CORRAL_E_DEADLINE_EXCEEDED && s.ms < 600,
	    "client deadline 200 ms: %s after %lld ms", corral_status_name(s.st), s.ms);
	sleep_ms(600);
	char *text = NULL;
	corral_error err;
	REQUIRE(corral_get_status(c, "slow", &text, &err) == CORRAL_OK);
	CHECK_MSG(strstr(text, "\"request_timeout\": 0") != NULL,
	    "no slow worker was killed for a client's deadline");
	free(text);
}

/* A worker that hangs is killed at the model's deadline and replaced;
 * another model serves all along. */
static void test_hung_worker(corral_client *c)
{
	corral_error err;
	long long t0 = harness_now_ms();
	corral_status st = mb_call(c, "hang", -3, 1e9, &err);
	long long ms = harness_now_ms() - t0;
	CHECK_MSG(st == CORRAL_E_DEADLINE_EXCEEDED && ms < 1500,
	    "hang: %s after %lld ms", corral_status_name(st), ms);
	CHECK_INT(linear_call(c, "iris", &err), CORRAL_OK);
	CHECK_MSG(harness_wait_state(c, "hang", 1, "READY", 5000), "hang replaced");
	CHECK_INT(mb_call(c, "hang", 21, 0, &err), CORRAL_OK);
	char *text = NULL;
	REQUIRE(corral_get_status(c, "hang", &text, &err) == CORRAL_OK);
	CHECK_MSG(strstr(text, "\"request_timeout\": 1") != NULL, "counted as a request timeout");
	free(text);
}

/* The pid of model/1's first worker, and how many of its workers were
 * killed as hung, from `status`. */
static pid_t worker_pid(corral_client *c, const char *model, long long *hung)
{
	char *text = NULL;
	corral_error err;
	REQUIRE(corral_get_status(c, model, &text, &err) == CORRAL_OK);
	json_t *root = json_loads(text, 0, NULL);
	free(text);
	json_t *v = json_array_get(json_object_get(root, "models"), 0);
	json_t *w = json_array_get(json_object_get(v, "workers"), 0);
	pid_t pid = (pid_t)json_integer_value(json_object_get(w, "pid"));
	*hung = json_integer_value(json_object_get(json_object_get(v, "exits"), "hung"));
	json_decref(root);
	return pid;
}

/* A worker frozen while idle (SIGSTOP: no request would notice) misses
 * its heartbeat (heartbeat_ms 500 here) and is killed and replaced before
 * any request suffers. */
static void test_frozen_worker(corral_client *c)
{
	corral_error err;
	long long hung = 0, before = 0;
	pid_t pid = worker_pid(c, "iris", &before);
	REQUIRE(pid > 0 && kill(pid, SIGSTOP) == 0);
	long long t0 = harness_now_ms();
	pid_t now = pid;
	while (harness_now_ms() - t0 < 5000 && (now == pid || now == 0 || hung == before)) {
		sleep_ms(20);
		now = worker_pid(c, "iris", &hung);
	}
	long long ms = harness_now_ms() - t0;
	printf("a frozen idle worker was replaced after %lld ms\n", ms);
	CHECK_MSG(hung == before + 1 && now != pid && now > 0,
	    "the frozen worker was killed as hung (%lld) and replaced (pid %d -> %d)", hung,
	    (int)pid, (int)now);
	CHECK(harness_wait_state(c, "iris", 1, "READY", 5000));
	CHECK_INT(linear_call(c, "iris", &err), CORRAL_OK);
}

/* ------------------------------------------------------------ chaos --- */

static atomic_bool chaos_stop;
static atomic_long chaos_ok, chaos_err;

static void *chaos_client(void *arg)
{
	const char *model = arg;
	corral_client *c = harness_client(&h, false);
	corral_client_set_timeout(c, 10000);
	while (!atomic_load(&chaos_stop)) {
		corral_error err;
		corral_status st = linear_call(c, model, &err);
		if (st == CORRAL_OK) {
			atomic_fetch_add(&chaos_ok, 1);
		} else {
			atomic_fetch_add(&chaos_err, 1);
			fprintf(stderr, "chaos %s: %s: %s\n", model, corral_status_name(st),
			    err.message);
		}
	}
	corral_client_close(c);
	return NULL;
}

/* The pids of the workers of iris and churn, from `status`. */
static int chaos_targets(corral_client *c, pid_t *pids, int max)
{
	int n = 0;
	static const char *const models[] = {"iris", "churn"};
	for (int m = 0; m < 2; m++) {
		char *text = NULL;
		corral_error err;
		if (corral_get_status(c, models[m], &text, &err) != CORRAL_OK)
			continue;
		json_t *root = json_loads(text, 0, NULL);
		free(text);
		size_t i, k;
		json_t *v, *w;
		json_array_foreach(json_object_get(root, "models"), i, v)
			json_array_foreach(json_object_get(v, "workers"), k, w) {
				json_int_t pid = json_integer_value(json_object_get(w, "pid"));
				if (pid > 0 && n < max)
					pids[n++] = (pid_t)pid;
			}
		json_decref(root);
	}
	return n;
}

/*
 * On by default in plain builds (CORRAL_CHAOS=0 skips it, 20 s). Under
 * AddressSanitizer only with CORRAL_CHAOS=1: there, in about one run in
 * four, LeakSanitizer reports at corrald's exit a request message that
 * nng 1.5.2 itself lost (a worker killed while nng was writing to it:
 * stopping the connection's send leaves the message in nng's own aio),
 * which fails the drain check below. This run found two faults of nng
 * 1.5.2 that corrald now works around: closing a socket under an
 * operation on one of its contexts could panic, and a connection torn
 * down mid-send can leave nng's reaper waiting for ever (nng issue 1813),
 * after which every socket close hangs (sock_closer.h).
 */
static bool chaos_enabled(void)
{
	const char *env = getenv("CORRAL_CHAOS");
#if defined(__SANITIZE_ADDRESS__)
	return env != NULL && strcmp(env, "1") == 0;
#else
	return env == NULL || strcmp(env, "0") != 0;
#endif
}

static void test_chaos(corral_client *c)
{
	if (!chaos_enabled()) {
		printf("chaos: skipped (see the comment above test_chaos)\n");
		return;
	}
	static const char *const models[] = {"iris", "churn", "iris", "churn"};
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		REQUIRE(pthread_create(&t[i], NULL, chaos_client, (void *)models[i]) == 0);
	unsigned seed = (unsigned)time(NULL);
	int kills = 0;
	long long t0 = harness_now_ms();
	while (harness_now_ms() - t0 < CHAOS_MS) {
		pid_t pids[16];
		int n = chaos_targets(c, pids, 16);
		if (n > 0 && kill(pids[rand_r(&seed) % n], SIGKILL) == 0)
			kills++;
		sleep_ms(CHAOS_KILL_EVERY_MS);
	}
	atomic_store(&chaos_stop, true);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	long ok = atomic_load(&chaos_ok), bad = atomic_load(&chaos_err);
	printf("chaos: %d workers killed in %d s; %ld requests, %ld failed (%.3f%% succeeded)\n",
	    kills, CHAOS_MS / 1000, ok + bad, bad, ok + bad ? 100.0 * ok / (ok + bad) : 0);
	CHECK_MSG(kills >= CHAOS_MS / CHAOS_KILL_EVERY_MS / 2, "workers were killed (%d)", kills);
	CHECK_MSG(ok > 1000, "requests were served during the chaos (%ld)", ok);
	CHECK_MSG(bad == 0, "retryable models lost no request (%ld failed)", bad);
	/* and everything comes back */
	CHECK_MSG(harness_wait_state(c, "iris", 1, "READY", 10000) &&
		harness_wait_state(c, "churn", 1, "READY", 10000),
	    "iris and churn READY after the chaos");
}

/* -------------------------------------------------------- shutdown --- */

/* SIGTERM with a request in flight: it finishes, a new one is refused
 * UNAVAILABLE, and the daemon exits 0. */
static void test_drain(void)
{
	slow_call s = {.sleep_ms = 700};
	pthread_t t;
	corral_client *late = harness_client(&h, false);
	REQUIRE(pthread_create(&t, NULL, slow_thread, &s) == 0);
	sleep_ms(200);
	long long t0 = harness_now_ms();
	kill(h.pid, SIGTERM);
	sleep_ms(100);
	corral_error err;
	corral_status st = linear_call(late, "iris", &err);
	CHECK_MSG(st == CORRAL_E_UNAVAILABLE && strstr(err.message, "shutting down"),
	    "a request during the drain: %s: %s", corral_status_name(st), err.message);
	corral_client_close(late);
	pthread_join(t, NULL);
	CHECK_MSG(s.st == CORRAL_OK, "the request in flight finished: %s: %s",
	    corral_status_name(s.st), s.why);
	int status = 0;
	waitpid(h.pid, &status, 0);
	h.pid = 0;
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "corrald exited 0 after draining (status 0x%x, %lld ms)", status,
	    harness_now_ms() - t0);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: supervision_test CORRALD MISBEHAVE_SO EXAMPLE_REPO\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	harness_init(&h);
	setup_repo(argv[2], argv[3]);
	harness_start(&h, argv[1], "heartbeat_ms: 500\n");
	corral_client *c = harness_client(&h, false);

	test_crash_loop(c);
	test_instances_and_queue();
	test_client_deadline(c);
	test_hung_worker(c);
	test_frozen_worker(c);
	test_chaos(c);
	corral_client_close(c);
	test_drain();

	if (test_failed_)
		harness_dump_log(&h);
	harness_cleanup(&h);
	TEST_MAIN_END();
}
