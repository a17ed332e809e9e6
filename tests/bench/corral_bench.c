/*
 * corral-bench - single-row infer latency and throughput through corrald,
 * next to two baselines measured in the same run:
 *
 *   in-process   the linear plugin's infer() called directly (no IPC)
 *   nng relay    a bare nng REQ/REP echo behind one relay process
 *                (nng_device): the same two hops as client -> corrald ->
 *                worker, with no corral code
 *   corral       libcorral -> corrald -> corral-worker (seccomp) -> back
 *
 * Each at concurrency 1 and 16 (threads, one socket each). Prints p50/p99
 * latency, throughput, and the ratios corral / relay.
 *
 *   corral-bench [--requests N] CORRALD LINEAR_SO MODEL_VERSION_DIR
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <corral/client.h>
#include <corral/plugin.h>

#include "harness.h"

#define MAX_THREADS 16

static const double row[4] = {5.1, 3.5, 1.4, 0.2};
static const int64_t row_shape[2] = {1, 4};

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

typedef struct stats {
	double p50, p99, rps;
} stats;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static stats summarize(double *lat, size_t n, double elapsed_us)
{
	qsort(lat, n, sizeof *lat, cmp_double);
	return (stats){lat[n / 2], lat[(size_t)(n * 0.99)], n / (elapsed_us / 1e6)};
}

/* ---------------------------------------------------------- in-process --- */

struct outbuf {
	double data[64];
	int64_t label[16];
};

static void *bench_alloc(corral_infer_ctx *ctx, const char *name,
    corral_dtype dtype, uint32_t ndim, const int64_t *shape)
{
	struct outbuf *o = (struct outbuf *)ctx;
	return dtype == CORRAL_DT_INT64 ? (void *)o->label : (void *)o->data;
}

static void bench_log(int level, const char *msg)
{
}

static stats bench_in_process(const char *so, const char *dir, size_t n)
{
	void *lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	corral_plugin_entry_fn entry;
	*(void **)&entry = lib ? dlsym(lib, CORRAL_PLUGIN_ENTRY_NAME) : NULL;
	if (entry == NULL) {
		fprintf(stderr, "corral-bench: cannot load %s\n", so);
		exit(1);
	}
	const corral_plugin *p = entry();
	corral_host_api host = {.struct_size = sizeof host, .output_alloc = bench_alloc,
	    .log = bench_log};
	corral_load_args args = {sizeof args, "iris", 2, dir, NULL, 0};
	void *model;
	char err[256];
	if (p->load(&host, &args, &model, err, sizeof err) != 0) {
		fprintf(stderr, "corral-bench: load: %s\n", err);
		exit(1);
	}
	corral_tensor in = {"input", CORRAL_DT_FP64, 2, row_shape, row, sizeof row};
	struct outbuf out;
	double *lat = malloc(n * sizeof *lat);
	double t0 = now_us();
	for (size_t i = 0; i < n; i++) {
		double s = now_us();
		p->infer(model, (corral_infer_ctx *)&out, &in, 1, err, sizeof err);
		lat[i] = now_us() - s;
	}
	stats st = summarize(lat, n, now_us() - t0);
	free(lat);
	p->unload(model);
	return st;
}

/* ------------------------------------------------------ threaded runs --- */

typedef struct run {
	size_t per_thread;
	double *lat; /* threads * per_thread */
	const char *url;
	const void *payload;
	size_t payload_len;
	int failures;
	pthread_mutex_t mu;
} run;

typedef struct worker_arg {
	run *r;
	int index;
} worker_arg;

static void *echo_client(void *arg)
{
	worker_arg *a = arg;
	run *r = a->r;
	nng_socket s;
	if (nng_req0_open(&s) != 0 || nng_dial(s, r->url, NULL, 0) != 0) {
		fprintf(stderr, "corral-bench: dial %s failed\n", r->url);
		exit(1);
	}
	for (size_t i = 0; i < r->per_thread; i++) {
		double t = now_us();
		nng_msg *m;
		nng_msg_alloc(&m, 0);
		nng_msg_append(m, r->payload, r->payload_len);
		if (nng_sendmsg(s, m, 0) != 0 || nng_recvmsg(s, &m, 0) != 0) {
			r->failures++;
			continue;
		}
		nng_msg_free(m);
		r->lat[a->index * r->per_thread + i] = now_us() - t;
	}
	nng_close(s);
	return NULL;
}

static void *corral_client_thread(void *arg)
{
	worker_arg *a = arg;
	run *r = a->r;
	corral_client *c;
	corral_error err;
	if (corral_client_open(&c, r->url, &err) != CORRAL_OK) {
		fprintf(stderr, "corral-bench: %s\n", err.message);
		exit(1);
	}
	corral_tensor in = {"input", CORRAL_DT_FP64, 2, row_shape, row, sizeof row};
	for (size_t i = 0; i < r->per_thread; i++) {
		double t = now_us();
		corral_result *res;
		if (corral_infer(c, "iris", 0, &in, 1, NULL, 0, &res, &err) != CORRAL_OK) {
			pthread_mutex_lock(&r->mu);
			r->failures++;
			pthread_mutex_unlock(&r->mu);
			continue;
		}
		corral_result_free(res);
		r->lat[a->index * r->per_thread + i] = now_us() - t;
	}
	corral_client_close(c);
	return NULL;
}

static stats run_threads(void *(*fn)(void *), run *r, int threads, size_t total)
{
	r->per_thread = total / (size_t)threads;
	r->lat = calloc(r->per_thread * threads, sizeof *r->lat);
	r->failures = 0;
	pthread_mutex_init(&r->mu, NULL);
	pthread_t t[MAX_THREADS];
	worker_arg args[MAX_THREADS];
	double t0 = now_us();
	for (int i = 0; i < threads; i++) {
		args[i] = (worker_arg){r, i};
		pthread_create(&t[i], NULL, fn, &args[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double elapsed = now_us() - t0;
	if (r->failures)
		fprintf(stderr, "corral-bench: %d failed requests\n", r->failures);
	stats st = summarize(r->lat, r->per_thread * threads, elapsed);
	free(r->lat);
	return st;
}

/* ------------------------------------------------- the bare nng relay --- */

/* Run this program again as `corral-bench ROLE A B`, dying with us. A
 * fresh exec, because nng may not be used across fork. */
static pid_t spawn_child(const char *role, const char *a, const char *b)
{
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl("/proc/self/exe", "corral-bench", role, a, b ? b : "", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* One REP socket answering each message with itself, one at a time: what
 * a corral worker does, minus corral. */
static void echo_server(const char *url, const char *unused)
{
	nng_socket s;
	if (nng_rep0_open(&s) != 0 || nng_listen(s, url, NULL, 0) != 0)
		_exit(1);
	for (;;) {
		nng_msg *m;
		if (nng_recvmsg(s, &m, 0) != 0)
			_exit(0);
		if (nng_sendmsg(s, m, 0) != 0)
			nng_msg_free(m);
	}
}

/* nng's own forwarding device between a raw REP front and a raw REQ back:
 * what corrald does between client and worker, minus corral. */
static void relay_server(const char *front_url, const char *back_url)
{
	nng_socket front, back;
	if (nng_rep0_open_raw(&front) != 0 || nng_req0_open_raw(&back) != 0 ||
	    nng_listen(front, front_url, NULL, 0) != 0 ||
	    nng_dial(back, back_url, NULL, 0) != 0)
		_exit(1);
	nng_device(front, back);
	_exit(0);
}

/* The request corral sends for one row, so the relay moves the same bytes. */
static size_t corral_like_payload(unsigned char *buf, size_t cap)
{
	/* Shape of a libcorral infer request; exact bytes matter less than
	 * the size, which is what the transport sees. */
	static const char text[] =
	    "\x85\xa1v\x01\xa2id\x01\xa2op\xa5infer\xa5model\xa4iris\xa6inputs\x91"
	    "\x84\xa4name\xa5input\xa8" "datatype\xa4" "FP64\xa5shape\x92\x01\x04"
	    "\xa4" "data\xc4\x20";
	size_t n = sizeof text - 1;
	if (n + sizeof row > cap)
		return 0;
	memcpy(buf, text, n);
	memcpy(buf + n, row, sizeof row);
	return n + sizeof row;
}

/* ---------------------------------------------------------------- main --- */

static void print_row(const char *what, int conc, stats s)
{
	printf("%-24s %5d %10.2f %10.2f %12.0f\n", what, conc, s.p50, s.p99, s.rps);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--echo") == 0)
		echo_server(argv[2], NULL);
	if (argc == 4 && strcmp(argv[1], "--relay") == 0)
		relay_server(argv[2], argv[3]);
	size_t total = 20000;
	int argi = 1;
	if (argc > 2 && strcmp(argv[1], "--requests") == 0) {
		total = strtoul(argv[2], NULL, 10);
		argi = 3;
	}
	if (argc - argi != 3) {
		fprintf(stderr, "usage: corral-bench [--requests N] CORRALD LINEAR_SO IRIS_VERSION_DIR\n");
		return 2;
	}
	const char *corrald = argv[argi], *so = argv[argi + 1], *vdir = argv[argi + 2];
	signal(SIGPIPE, SIG_IGN);

	harness h;
	harness_init(&h);
	char cfg[512];
	snprintf(cfg, sizeof cfg, "plugin: %s\n", so);
	harness_write(&h, "iris/config.yaml", cfg);
	harness_link(&h, "iris/1", vdir);
	harness_start(&h, corrald, "log_level: warn\n");

	char echo_url[128], relay_url[128];
	snprintf(echo_url, sizeof echo_url, "ipc://%s/echo.sock", h.dir);
	snprintf(relay_url, sizeof relay_url, "ipc://%s/relay.sock", h.dir);
	pid_t echo = spawn_child("--echo", echo_url, NULL);
	usleep(100000);
	pid_t relay = spawn_child("--relay", relay_url, echo_url);
	usleep(200000);

	unsigned char payload[256];
	run echo_run = {.url = relay_url, .payload = payload,
	    .payload_len = corral_like_payload(payload, sizeof payload)};
	run corral_run = {.url = h.ipc_url};

	printf("corral-bench: single-row infer, iris (4 features, 3 classes), %zu requests per run\n\n",
	    total);
	printf("%-24s %5s %10s %10s %12s\n", "path", "conc", "p50 us", "p99 us", "req/s");
	stats inproc = bench_in_process(so, vdir, total * 5);
	print_row("in-process infer", 1, inproc);

	int concs[2] = {1, 16};
	stats echo_st[2], corral_st[2];
	for (int k = 0; k < 2; k++) {
		/* warm both paths, then measure */
		run_threads(echo_client, &echo_run, concs[k], 200 * (size_t)concs[k]);
		echo_st[k] = run_threads(echo_client, &echo_run, concs[k], total);
		print_row("nng echo via relay", concs[k], echo_st[k]);
		run_threads(corral_client_thread, &corral_run, concs[k], 200 * (size_t)concs[k]);
		corral_st[k] = run_threads(corral_client_thread, &corral_run, concs[k], total);
		print_row("corral infer", concs[k], corral_st[k]);
	}
	printf("\nratios (corral / nng relay baseline):\n");
	for (int k = 0; k < 2; k++)
		printf("  concurrency %2d: p50 x%.2f  p99 x%.2f  throughput x%.2f\n", concs[k],
		    corral_st[k].p50 / echo_st[k].p50, corral_st[k].p99 / echo_st[k].p99,
		    corral_st[k].rps / echo_st[k].rps);
	printf("  p50 at concurrency 1, corral minus relay: %+.1f us"
	       " (the model's own infer, in process: %.2f us)\n",
	    corral_st[0].p50 - echo_st[0].p50, inproc.p50);

	kill(relay, SIGKILL);
	kill(echo, SIGKILL);
	waitpid(relay, NULL, 0);
	waitpid(echo, NULL, 0);
	harness_cleanup(&h);
	return 0;
}
