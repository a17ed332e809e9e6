/*
 * corral-bench - infer latency and throughput through corrald, next to the
 * same plugin's infer() called in process, for each bundled plugin.
 *
 * For each plugin (linear, xgboost, onnx) it takes one model of the example
 * repository (iris, loan_default, and the first model served by `onnx`),
 * and for batches of 1 and 64 rows it measures:
 *
 *   in-process   the plugin's infer() called directly: the bench dlopens
 *                PLUGIN_DIR/<plugin>.so, loads the model with the
 *                parameters its config.yaml gives, and plays the host
 *                (concurrency 1: a plugin is never called concurrently)
 *   corral       the same request through libcorral -> corrald ->
 *                corral-worker (seccomp) -> back, at concurrency 1 and 16
 *                (threads, one client each; one worker per model)
 *   prediction log  (linear) the same corral requests logged (corrald's
 *                default: every answered infer) and sent with `log: false`
 *   nng relay    (linear, 1 row only) a bare nng REQ/REP echo behind one
 *                relay process (nng_device): the same two hops as client
 *                -> corrald -> worker, with no corral code
 *
 * It prints p50/p99 latency, requests/s and rows/s, and for each corral
 * row the ratios corral / in-process; then corral / nng relay.
 *
 *   corral-bench [--requests N] [--seconds S] [--onnx-model DIR]
 *                CORRALD PLUGIN_DIR MODEL_REPO
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <corral/client.h>
#include <corral/plugin.h>

#include "config.h" /* corrald's own reader of a model's config.yaml */
#include "harness.h"

#define MAX_THREADS 16
#define MAX_TENSORS 64
#define NAME_MAX_LEN 128
#define N_BATCHES 2

static const int64_t batches[N_BATCHES] = {1, 64};
static const int concs[2] = {1, 16};

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "corral-bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* -------------------------------------------------------------- stats --- */

typedef struct stats {
	size_t n;
	double p50, p99, rps;
	bool valid;
} stats;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static stats summarize(double *lat, size_t n, double elapsed_us)
{
	if (n == 0)
		return (stats){0};
	qsort(lat, n, sizeof *lat, cmp_double);
	return (stats){n, lat[n / 2], lat[(size_t)(n * 0.99)], n / (elapsed_us / 1e6), true};
}

/* ------------------------------------------------------- the test host --- */

/* One output tensor allocated by the plugin; the buffer is kept and reused
 * by later calls, as a worker does. */
typedef struct host_output {
	char name[NAME_MAX_LEN];
	corral_dtype dtype;
	uint32_t ndim;
	int64_t shape[CORRAL_MAX_DIMS];
	void *buf;
	size_t cap, nbytes;
} host_output;

/* What the bench hands a plugin as its corral_infer_ctx. */
typedef struct host_ctx {
	host_output out[MAX_TENSORS];
	size_t n;
} host_ctx;

/* Any output the ABI allows: a fixed-size datatype, at most
 * CORRAL_MAX_DIMS dimensions, no -1, each name once. */
static void *host_output_alloc(corral_infer_ctx *ctx, const char *name,
    corral_dtype dtype, uint32_t ndim, const int64_t *shape)
{
	host_ctx *c = (host_ctx *)ctx;
	size_t esize = corral_dtype_size(dtype);
	if (c == NULL || name == NULL || name[0] == '\0' ||
	    strlen(name) >= NAME_MAX_LEN || esize == 0 ||
	    ndim > CORRAL_MAX_DIMS || (ndim > 0 && shape == NULL) ||
	    c->n == MAX_TENSORS)
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->out[i].name, name) == 0)
			return NULL;
	int64_t elements = corral_shape_elements(shape, ndim);
	if (elements < 0 || (uint64_t)elements > SIZE_MAX / esize)
		return NULL;
	size_t nbytes = (size_t)elements * esize;
	host_output *o = &c->out[c->n];
	if (o->buf == NULL || nbytes > o->cap) {
		void *p = realloc(o->buf, nbytes ? nbytes : 1);
		if (p == NULL)
			return NULL;
		o->buf = p;
		o->cap = nbytes ? nbytes : 1;
	}
	snprintf(o->name, sizeof o->name, "%s", name);
	o->dtype = dtype;
	o->ndim = ndim;
	if (ndim > 0)
		memcpy(o->shape, shape, ndim * sizeof *shape);
	o->nbytes = nbytes;
	c->n++;
	return o->buf;
}

/* A BYTES output: a buffer of nbytes (at least 4 per element, for the
 * lengths). Unlike a worker, the bench does not check the layout the
 * plugin writes there. */
static void *host_output_alloc_bytes(corral_infer_ctx *ctx, const char *name,
    uint32_t ndim, const int64_t *shape, size_t nbytes)
{
	host_ctx *c = (host_ctx *)ctx;
	int64_t elements = ndim <= CORRAL_MAX_DIMS && (ndim == 0 || shape) ?
	    corral_shape_elements(shape, ndim) : -1;
	if (elements < 0 || (uint64_t)elements > SIZE_MAX / 4 ||
	    nbytes < (size_t)elements * 4)
		return NULL;
	/* as many bytes as one byte elements would take */
	int64_t flat[1] = {(int64_t)nbytes};
	void *buf = host_output_alloc(ctx, name, CORRAL_DT_UINT8, 1, flat);
	if (buf == NULL)
		return NULL;
	host_output *o = &c->out[c->n - 1];
	o->dtype = CORRAL_DT_BYTES;
	o->ndim = ndim;
	if (ndim > 0)
		memcpy(o->shape, shape, ndim * sizeof *shape);
	return buf;
}

static void host_log(int level, const char *msg)
{
	if (level <= CORRAL_LOG_WARN)
		fprintf(stderr, "corral-bench: plugin: %s\n", msg);
}

/* Valid for the life of the process, as the ABI promises (a plugin may
 * keep the pointer, e.g. for a library's log callback). */
static const corral_host_api host_api = {
	.struct_size = sizeof host_api,
	.output_alloc = host_output_alloc,
	.log = host_log,
	.output_alloc_bytes = host_output_alloc_bytes,
};

/* ------------------------------------------------------------ models --- */

/* A request: every input of the model, made up from its signature. */
typedef struct request {
	bool ok;           /* false: the model cannot take this batch */
	char why[160];
	size_t n_inputs;
	char names[MAX_TENSORS][NAME_MAX_LEN];
	int64_t shapes[MAX_TENSORS][CORRAL_MAX_DIMS];
	void *data[MAX_TENSORS];
	corral_tensor in[MAX_TENSORS];
	host_output expect[MAX_TENSORS]; /* the in-process outputs */
	size_t n_expect;
	bool mismatch;
} request;

typedef struct bench_model {
	const char *plugin;        /* "linear", "xgboost", "onnx" */
	bool found;
	char why[PATH_MAX + 128];  /* why it is skipped */
	char name[NAME_MAX_LEN];
	int64_t version;
	char version_dir[PATH_MAX];
	char so[PATH_MAX + 32];
	model_config cfg;          /* its params and request_timeout_ms */
	char signature[256];       /* "input FP32 [-1,5] -> probability FP32 [-1]" */
	request req[N_BATCHES];
	bool served;               /* READY in the bench's corrald */
	stats inproc[N_BATCHES];
	stats corral[N_BATCHES][2];
} bench_model;

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Does a config's `plugin:` (a bare name or a path to NAME.so) name
 * `plugin`? */
static bool names_plugin(const char *value, const char *plugin)
{
	const char *base = strrchr(value, '/');
	base = base ? base + 1 : value;
	size_t n = strlen(plugin);
	return strncmp(base, plugin, n) == 0 &&
	    (base[n] == '\0' || strcmp(base + n, ".so") == 0);
}

/* The highest numeric version folder of `model_dir` its policy serves;
 * 0 when there is none. */
static int64_t pick_version(const char *model_dir, const model_config *cfg)
{
	int64_t present[256];
	size_t n = 0;
	DIR *d = opendir(model_dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL && n < 256) {
		char *end;
		long long v = strtoll(e->d_name, &end, 10);
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", model_dir, e->d_name);
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && *end == '\0' && is_dir(path))
			present[n++] = v;
	}
	if (d)
		closedir(d);
	int64_t best = 0;
	for (size_t i = 0; i < n; i++)
		if (present[i] > best && model_config_serves(cfg, present[i], present, n))
			best = present[i];
	return best;
}

/* Take the model folder `dir` (config.yaml and version folders) for m. */
static bool use_model_dir(bench_model *m, const char *dir, const char *name)
{
	char path[PATH_MAX], err[512];
	snprintf(path, sizeof path, "%s/config.yaml", dir);
	if (model_config_load(&m->cfg, path, err, sizeof err) != 0) {
		model_config_free(&m->cfg);
		snprintf(m->why, sizeof m->why, "%s", err);
		return false;
	}
	m->version = pick_version(dir, &m->cfg);
	if (m->version == 0) {
		snprintf(m->why, sizeof m->why, "%s: no version folder to serve", dir);
		return false;
	}
	snprintf(path, sizeof path, "%s/%lld", dir, (long long)m->version);
	if (realpath(path, m->version_dir) == NULL) {
		snprintf(m->why, sizeof m->why, "%s: %s", path, strerror(errno));
		return false;
	}
	snprintf(m->name, sizeof m->name, "%s", name);
	return true;
}

/* The model for m->plugin: `preferred` in the repository when it is
 * there and served by that plugin, else the first such model by name. */
static void find_model(bench_model *m, const char *repo, const char *preferred)
{
	struct dirent **list;
	int n = scandir(repo, &list, NULL, alphasort);
	if (n < 0)
		die("cannot read %s", repo);
	int chosen = -1;
	for (int pass = 0; pass < 2 && chosen < 0; pass++)
		for (int i = 0; i < n && chosen < 0; i++) {
			const char *name = list[i]->d_name;
			char path[PATH_MAX], err[512];
			model_config cfg;
			if (name[0] == '.' || (pass == 0 && (preferred == NULL ||
			    strcmp(name, preferred) != 0)))
				continue;
			snprintf(path, sizeof path, "%s/%s/config.yaml", repo, name);
			if (!is_file(path))
				continue;
			if (model_config_load(&cfg, path, err, sizeof err) == 0 &&
			    names_plugin(cfg.plugin, m->plugin))
				chosen = i;
			model_config_free(&cfg);
		}
	if (chosen < 0) {
		snprintf(m->why, sizeof m->why, "no model in %s has `plugin: %s`", repo,
		    m->plugin);
	} else {
		char dir[PATH_MAX];
		snprintf(dir, sizeof dir, "%s/%s", repo, list[chosen]->d_name);
		m->found = use_model_dir(m, dir, list[chosen]->d_name);
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* --onnx-model DIR: a model folder (config.yaml and versions), or a
 * version folder holding model.onnx, served with no parameters. */
static void onnx_override(bench_model *m, const char *dir)
{
	char path[PATH_MAX + 32], real[PATH_MAX];
	if (realpath(dir, real) == NULL)
		die("--onnx-model %s: %s", dir, strerror(errno));
	snprintf(path, sizeof path, "%s/config.yaml", real);
	if (is_file(path)) {
		const char *base = strrchr(real, '/');
		m->found = use_model_dir(m, real, base && base[1] ? base + 1 : "onnx_model");
		return;
	}
	snprintf(path, sizeof path, "%s/model.onnx", real);
	if (!is_file(path))
		die("--onnx-model %s: neither config.yaml nor model.onnx there", dir);
	memset(&m->cfg, 0, sizeof m->cfg);
	snprintf(m->name, sizeof m->name, "onnx_model");
	snprintf(m->version_dir, sizeof m->version_dir, "%s", real);
	m->version = 1;
	m->found = true;
}

/* -------------------------------------------------------- requests --- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* Uniform in [0, 8), deterministic. */
static double next_value(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(rng_state >> 11) / (double)(1ull << 53) * 8.0;
}

static void fill(void *data, corral_dtype dt, size_t elements)
{
	unsigned char *p = data;
	for (size_t i = 0; i < elements; i++) {
		double v = next_value();
		switch (dt) {
		case CORRAL_DT_FP64: memcpy(p + 8 * i, &v, 8); break;
		case CORRAL_DT_FP32: {
			float f = (float)v;
			memcpy(p + 4 * i, &f, 4);
			break;
		}
		case CORRAL_DT_FP16: p[2 * i] = 0x00; p[2 * i + 1] = 0x3c; break; /* 1.0 */
		case CORRAL_DT_BF16: p[2 * i] = 0x80; p[2 * i + 1] = 0x3f; break; /* 1.0 */
		case CORRAL_DT_BOOL: p[i] = 0; break;
		case CORRAL_DT_BYTES: memset(p + 4 * i, 0, 4); break; /* "" */
		default: {
			/* integers: 1 (never a divisor of 0) */
			size_t es = corral_dtype_size(dt);
			memset(p + es * i, 0, es);
			p[es * i] = 1;
		}
		}
	}
}

static void shape_text(char *buf, size_t n, const int64_t *shape, uint32_t ndim)
{
	size_t len = (size_t)snprintf(buf, n, "[");
	for (uint32_t i = 0; i < ndim && len < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? "," : "",
		    (long long)shape[i]);
	if (len < n)
		snprintf(buf + len, n - len, "]");
}

/* Make up the request of `rows` rows from the signature: the first
 * dimension, when dynamic, is the batch; other dynamic dimensions are 1. */
static void make_request(request *r, const corral_signature *sig, int64_t rows)
{
	memset(r, 0, sizeof *r);
	bool batched = false;
	if (sig->n_inputs > MAX_TENSORS) {
		snprintf(r->why, sizeof r->why, "more than %d inputs", MAX_TENSORS);
		return;
	}
	for (size_t i = 0; i < sig->n_inputs; i++) {
		const corral_tensor_spec *s = &sig->inputs[i];
		if (s->ndim > CORRAL_MAX_DIMS) {
			snprintf(r->why, sizeof r->why, "input %s: rank %u", s->name, s->ndim);
			return;
		}
		snprintf(r->names[i], NAME_MAX_LEN, "%s", s->name);
		for (uint32_t k = 0; k < s->ndim; k++) {
			int64_t d = s->shape[k];
			if (d < 0 && k == 0) {
				d = rows;
				batched = true;
			} else if (d < 0) {
				d = 1;
			}
			r->shapes[i][k] = d;
		}
		int64_t elements = corral_shape_elements(r->shapes[i], s->ndim);
		size_t es = s->dtype == CORRAL_DT_BYTES ? 4 : corral_dtype_size(s->dtype);
		size_t nbytes = (size_t)elements * es;
		r->data[i] = malloc(nbytes ? nbytes : 1);
		if (r->data[i] == NULL)
			die("out of memory");
		fill(r->data[i], s->dtype, (size_t)elements);
		r->in[i] = (corral_tensor){r->names[i], s->dtype, s->ndim, r->shapes[i],
		    r->data[i], nbytes};
		r->n_inputs++;
	}
	if (rows != 1 && !batched) {
		snprintf(r->why, sizeof r->why, "no input has a dynamic first dimension");
		return;
	}
	r->ok = true;
}

static void free_request(request *r)
{
	for (size_t i = 0; i < r->n_inputs; i++)
		free(r->data[i]);
	for (size_t i = 0; i < r->n_expect; i++)
		free(r->expect[i].buf);
}

/* ------------------------------------------------------ in-process --- */

static const corral_plugin *open_plugin(const char *so)
{
	void *lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	corral_plugin_entry_fn entry;
	if (lib == NULL)
		die("cannot load %s: %s", so, dlerror());
	*(void **)&entry = dlsym(lib, CORRAL_PLUGIN_ENTRY_NAME);
	if (entry == NULL)
		die("%s: no %s", so, CORRAL_PLUGIN_ENTRY_NAME);
	/* Never dlclose'd, as in a worker. */
	return entry();
}

static stats time_in_process(const corral_plugin *p, void *model, request *r,
    host_ctx *ctx, size_t n, double max_us)
{
	double *lat = malloc(n * sizeof *lat);
	char err[512];
	size_t done = 0, failed = 0;
	double t0 = now_us(), deadline = t0 + max_us;
	for (size_t i = 0; i < n; i++) {
		double s = now_us();
		ctx->n = 0;
		if (p->infer(model, (corral_infer_ctx *)ctx, r->in, r->n_inputs, err,
		    sizeof err) != CORRAL_PLUGIN_OK) {
			failed++;
			continue;
		}
		double e = now_us();
		lat[done++] = e - s;
		if (e > deadline)
			break;
	}
	if (failed)
		fprintf(stderr, "corral-bench: %zu in-process calls failed: %s\n", failed, err);
	stats st = summarize(lat, done, now_us() - t0);
	free(lat);
	return st;
}

/* Load m in process, make its requests, check them, time them. */
static void bench_in_process(bench_model *m, size_t n, double max_us)
{
	const corral_plugin *p = open_plugin(m->so);
	corral_load_args args = {sizeof args, m->name, m->version, m->version_dir,
	    m->cfg.params, m->cfg.n_params};
	void *model;
	char err[512];
	if (p->load(&host_api, &args, &model, err, sizeof err) != CORRAL_PLUGIN_OK)
		die("%s: load: %s", m->name, err);
	corral_signature sig;
	if (p->describe(model, &sig, err, sizeof err) != CORRAL_PLUGIN_OK)
		die("%s: describe: %s", m->name, err);

	size_t len = 0;
	for (size_t i = 0; i < sig.n_inputs + sig.n_outputs && len < sizeof m->signature; i++) {
		const corral_tensor_spec *s = i < sig.n_inputs ? &sig.inputs[i] :
		    &sig.outputs[i - sig.n_inputs];
		char shape[96];
		shape_text(shape, sizeof shape, s->shape, s->ndim);
		len += (size_t)snprintf(m->signature + len, sizeof m->signature - len,
		    "%s%s %s %s", i == 0 ? "" : i == sig.n_inputs ? " -> " : ", ",
		    s->name, corral_dtype_name(s->dtype), shape);
	}

	host_ctx *ctx = calloc(1, sizeof *ctx);
	for (int b = 0; b < N_BATCHES; b++) {
		request *r = &m->req[b];
		make_request(r, &sig, batches[b]);
		if (!r->ok)
			continue;
		ctx->n = 0;
		if (p->infer(model, (corral_infer_ctx *)ctx, r->in, r->n_inputs, err,
		    sizeof err) != CORRAL_PLUGIN_OK)
			die("%s: infer: %s", m->name, err);
		/* Keep this answer to compare corrald's with. */
		for (size_t i = 0; i < ctx->n; i++) {
			host_output *o = &r->expect[i];
			*o = ctx->out[i];
			o->buf = malloc(o->nbytes ? o->nbytes : 1);
			memcpy(o->buf, ctx->out[i].buf, o->nbytes);
		}
		r->n_expect = ctx->n;
		/* warm, then measure */
		time_in_process(p, model, r, ctx, n / 10 + 1, max_us / 10);
		m->inproc[b] = time_in_process(p, model, r, ctx, n, max_us);
	}
	for (size_t i = 0; i < MAX_TENSORS; i++)
		free(ctx->out[i].buf);
	free(ctx);
	p->unload(model);
}

/* ------------------------------------------------------ threaded runs --- */

typedef struct run {
	size_t per_thread;
	double deadline;   /* now_us() after which threads stop */
	double *lat;       /* threads * per_thread */
	size_t *done;      /* per thread */
	const char *url;
	/* nng echo */
	const void *payload;
	size_t payload_len;
	/* corral */
	const bench_model *model;
	request *req;
	bool no_log;       /* send log: false (not in the prediction log) */
	int failures;
	char failure[sizeof ((corral_error *)0)->message];
	pthread_mutex_t mu;
} run;

typedef struct worker_arg {
	run *r;
	int index;
} worker_arg;

static void fail(run *r, const char *msg)
{
	pthread_mutex_lock(&r->mu);
	if (r->failures++ == 0)
		snprintf(r->failure, sizeof r->failure, "%s", msg);
	pthread_mutex_unlock(&r->mu);
}

static void *echo_client(void *arg)
{
	worker_arg *a = arg;
	run *r = a->r;
	nng_socket s;
	if (nng_req0_open(&s) != 0 || nng_dial(s, r->url, NULL, 0) != 0)
		die("dial %s failed", r->url);
	/* a reply the relay lost must not stall the run (seen once) */
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	double *lat = r->lat + a->index * r->per_thread;
	for (size_t i = 0; i < r->per_thread; i++) {
		double t = now_us();
		nng_msg *m;
		nng_msg_alloc(&m, 0);
		nng_msg_append(m, r->payload, r->payload_len);
		if (nng_sendmsg(s, m, 0) != 0) {
			nng_msg_free(m);
			fail(r, "nng send failed");
			continue;
		}
		if (nng_recvmsg(s, &m, 0) != 0) {
			fail(r, "nng receive failed");
			continue;
		}
		nng_msg_free(m);
		double e = now_us();
		lat[r->done[a->index]++] = e - t;
		if (e > r->deadline)
			break;
	}
	nng_close(s);
	return NULL;
}

/* Does corrald's answer equal the in-process one, byte for byte? */
static bool same_outputs(const request *q, const corral_result *res)
{
	if (corral_result_output_count(res) != q->n_expect)
		return false;
	for (size_t i = 0; i < q->n_expect; i++) {
		const host_output *o = &q->expect[i];
		const corral_tensor *t = corral_result_find(res, o->name);
		if (t == NULL || t->dtype != o->dtype || t->ndim != o->ndim ||
		    t->nbytes != o->nbytes ||
		    memcmp(t->shape, o->shape, o->ndim * sizeof *o->shape) != 0 ||
		    memcmp(t->data, o->buf, o->nbytes) != 0)
			return false;
	}
	return true;
}

static void *corral_client_thread(void *arg)
{
	worker_arg *a = arg;
	run *r = a->r;
	corral_client *c;
	corral_error err;
	if (corral_client_open(&c, r->url, &err) != CORRAL_OK)
		die("%s", err.message);
	corral_client_set_logging(c, !r->no_log);
	double *lat = r->lat + a->index * r->per_thread;
	for (size_t i = 0; i < r->per_thread; i++) {
		double t = now_us();
		corral_result *res;
		if (corral_infer(c, r->model->name, r->model->version, r->req->in,
		    r->req->n_inputs, NULL, 0, &res, &err) != CORRAL_OK) {
			fail(r, err.message);
			continue;
		}
		double e = now_us();
		if (i == 0 && a->index == 0 && !same_outputs(r->req, res))
			r->req->mismatch = true;
		corral_result_free(res);
		lat[r->done[a->index]++] = e - t;
		if (e > r->deadline)
			break;
	}
	corral_client_close(c);
	return NULL;
}

static stats run_threads(void *(*fn)(void *), run *r, int threads, size_t total,
    double max_us)
{
	r->per_thread = (total + (size_t)threads - 1) / (size_t)threads;
	r->lat = calloc(r->per_thread * threads, sizeof *r->lat);
	r->done = calloc((size_t)threads, sizeof *r->done);
	r->failures = 0;
	pthread_mutex_init(&r->mu, NULL);
	pthread_t t[MAX_THREADS];
	worker_arg args[MAX_THREADS];
	double t0 = now_us();
	r->deadline = t0 + max_us;
	for (int i = 0; i < threads; i++) {
		args[i] = (worker_arg){r, i};
		pthread_create(&t[i], NULL, fn, &args[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double elapsed = now_us() - t0;
	if (r->failures)
		fprintf(stderr, "corral-bench: %d failed requests, the first: %s\n",
		    r->failures, r->failure);
	/* gather the threads' latencies */
	size_t n = 0;
	for (int i = 0; i < threads; i++)
		for (size_t k = 0; k < r->done[i]; k++)
			r->lat[n++] = r->lat[i * r->per_thread + k];
	stats st = summarize(r->lat, n, elapsed);
	pthread_mutex_destroy(&r->mu);
	free(r->lat);
	free(r->done);
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
static void echo_server(const char *url)
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

/* The request corral sends for one iris row, so the relay moves the same
 * bytes. */
static size_t corral_like_payload(unsigned char *buf, size_t cap)
{
	/* Shape of a libcorral infer request; exact bytes matter less than
	 * the size, which is what the transport sees. */
	static const char text[] =
	    "\x85\xa1v\x01\xa2id\x01\xa2op\xa5infer\xa5model\xa4iris\xa6inputs\x91"
	    "\x84\xa4name\xa5input\xa8" "datatype\xa4" "FP64\xa5shape\x92\x01\x04"
	    "\xa4" "data\xc4\x20";
	static const double row[4] = {5.1, 3.5, 1.4, 0.2};
	size_t n = sizeof text - 1;
	if (n + sizeof row > cap)
		return 0;
	memcpy(buf, text, n);
	memcpy(buf + n, row, sizeof row);
	return n + sizeof row;
}

/* --------------------------------------------------------- the daemon --- */

/* A YAML single-quoted scalar. */
static void yaml_quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

/* Serve m from the bench's repository exactly as it was loaded in
 * process: the same plugin file, version folder and parameters. */
static void add_to_repo(harness *h, const bench_model *m)
{
	char *text = NULL, rel[PATH_MAX];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	fputs("plugin: ", f);
	yaml_quoted(f, m->so);
	fputc('\n', f);
	if (m->cfg.request_timeout_ms > 0)
		fprintf(f, "request_timeout_ms: %lld\n", (long long)m->cfg.request_timeout_ms);
	if (m->cfg.n_params > 0)
		fputs("parameters:\n", f);
	for (size_t i = 0; i < m->cfg.n_params; i++) {
		fputs("  ", f);
		yaml_quoted(f, m->cfg.params[i].key);
		fputs(": ", f);
		yaml_quoted(f, m->cfg.params[i].value);
		fputc('\n', f);
	}
	fclose(f);
	snprintf(rel, sizeof rel, "%s/config.yaml", m->name);
	harness_write(h, rel, text);
	free(text);
	snprintf(rel, sizeof rel, "%s/%lld", m->name, (long long)m->version);
	harness_link(h, rel, m->version_dir);
}

static bool model_ready(harness *h, const bench_model *m, char *why, size_t n)
{
	corral_client *c = harness_client(h, false);
	corral_model_list *l;
	bool ready = false;
	snprintf(why, n, "not listed by corrald");
	if (corral_list_models(c, &l, NULL) == CORRAL_OK) {
		for (size_t i = 0; i < l->count; i++) {
			const struct corral_model_entry *e = &l->entries[i];
			if (strcmp(e->name, m->name) != 0 || e->version != m->version)
				continue;
			ready = strcmp(e->state, "READY") == 0;
			snprintf(why, n, "%s in corrald: %s", e->state,
			    e->last_error ? e->last_error : "(no error given)");
		}
		corral_model_list_free(l);
	}
	corral_client_close(c);
	return ready;
}

/* ---------------------------------------------------------------- main --- */

static void print_row(const char *plugin, int64_t rows, const char *path, int conc,
    stats s, const stats *base)
{
	if (!s.valid) {
		printf("%-8s %4lld  %-10s %4d  (no successful request)\n", plugin,
		    (long long)rows, path, conc);
		return;
	}
	printf("%-8s %4lld  %-10s %4d %7zu %10.2f %10.2f %10.0f %11.0f", plugin,
	    (long long)rows, path, conc, s.n, s.p50, s.p99, s.rps, s.rps * (double)rows);
	if (base && base->valid)
		printf(" %9.1f %7.1f %9.4f %8.1f", s.p50 / base->p50, s.p99 / base->p99,
		    s.rps / base->rps, s.p50 - base->p50);
	printf("\n");
}

/* `corral batch` over a CSV of BATCH_BENCH_ROWS rows for the linear
 * model, timed, next to real-time serving's rows per second (64-row
 * requests from 16 clients, the best the real-time path does here). */
#define BATCH_BENCH_ROWS 200000
static void bench_batch(harness *h, const char *cli, const bench_model *lin)
{
	char in[300], out[300], cmd[1400];
	snprintf(in, sizeof in, "%s/batch-in.csv", h->dir);
	snprintf(out, sizeof out, "%s/batch-out.csv", h->dir);
	FILE *f = fopen(in, "w");
	if (f == NULL)
		return;
	int64_t cols = lin->req[0].in[0].ndim ? lin->req[0].in[0].shape[lin->req[0].in[0].ndim - 1] : 4;
	for (int r = 0; r < BATCH_BENCH_ROWS; r++)
		for (int64_t c = 0; c < cols; c++)
			fprintf(f, "%.2f%c", 0.5 + (double)((r * 7 + c * 3) % 80) / 10,
			    c + 1 == cols ? '\n' : ',');
	fclose(f);
	snprintf(cmd, sizeof cmd, "'%s' --url '%s' batch %s '%s' -o '%s' 2>/dev/null", cli,
	    h->ipc_url, lin->name, in, out);
	double t0 = now_us();
	int rc = system(cmd);
	double secs = (now_us() - t0) / 1e6;
	printf("\ncorral batch (linear, %d rows of %lld values, batches of 256): %.2f s, "
	       "%.0f rows/s%s\n", BATCH_BENCH_ROWS, (long long)cols, secs,
	    BATCH_BENCH_ROWS / secs, rc == 0 ? "" : " (FAILED)");
	const stats *rt = &lin->corral[1][1];
	if (rt->valid)
		printf("  real-time, 64-row requests from 16 clients: %.0f rows/s; batch x%.2f\n",
		    rt->rps * 64, BATCH_BENCH_ROWS / secs / (rt->rps * 64));
}

/* The prediction log's cost at full sampling (corrald's default): the
 * linear model's requests logged, against the same requests sent with
 * `log: false`, through the same daemon, alternating. */
static void bench_predlog(harness *h, bench_model *lin, size_t total, double max_us)
{
	printf("\nprediction log at full sampling (linear; logged / log: false, same "
	       "daemon):\n");
	for (int b = 0; b < N_BATCHES; b++) {
		if (!lin->req[b].ok)
			continue;
		for (int k = 0; k < 2; k++) {
			stats st[2];
			for (int logged = 0; logged < 2; logged++) {
				run r = {.url = h->ipc_url, .model = lin, .req = &lin->req[b],
				    .no_log = !logged};
				run_threads(corral_client_thread, &r, concs[k],
				    100 * (size_t)concs[k], max_us / 10);
				st[logged] = run_threads(corral_client_thread, &r, concs[k], total,
				    max_us);
			}
			if (st[0].valid && st[1].valid)
				printf("  %2lld rows, concurrency %2d: p50 %.1f / %.1f us (x%.2f)  "
				       "p99 x%.2f  throughput x%.2f\n", (long long)batches[b],
				    concs[k], st[1].p50, st[0].p50, st[1].p50 / st[0].p50,
				    st[1].p99 / st[0].p99, st[1].rps / st[0].rps);
		}
	}
}

static void usage(void)
{
	fprintf(stderr,
	    "usage: corral-bench [--requests N] [--seconds S] [--onnx-model DIR]\n"
	    "                    [--cli CORRAL] CORRALD PLUGIN_DIR MODEL_REPO\n"
	    "  N: requests per corrald run (default 20000; in-process runs make 5 N\n"
	    "     calls); S: most seconds per run (default 5); DIR: an ONNX model\n"
	    "     folder (config.yaml and versions) or version folder (model.onnx)\n"
	    "     to use instead of the repository's first `plugin: onnx` model;\n"
	    "  CORRAL: the corral command, to time `corral batch` on the linear\n"
	    "     model next to real-time serving\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--echo") == 0)
		echo_server(argv[2]);
	if (argc == 4 && strcmp(argv[1], "--relay") == 0)
		relay_server(argv[2], argv[3]);

	size_t total = 20000;
	double max_us = 5e6;
	const char *onnx_dir = NULL, *cli = NULL;
	int argi = 1;
	while (argi < argc && strncmp(argv[argi], "--", 2) == 0) {
		const char *opt = argv[argi];
		if (argi + 1 >= argc)
			usage();
		char *end;
		if (strcmp(opt, "--requests") == 0) {
			total = strtoul(argv[argi + 1], &end, 10);
			if (*end != '\0' || total < 16)
				usage();
		} else if (strcmp(opt, "--seconds") == 0) {
			max_us = strtod(argv[argi + 1], &end) * 1e6;
			if (*end != '\0' || !(max_us > 0))
				usage();
		} else if (strcmp(opt, "--onnx-model") == 0) {
			onnx_dir = argv[argi + 1];
		} else if (strcmp(opt, "--cli") == 0) {
			cli = argv[argi + 1];
		} else {
			usage();
		}
		argi += 2;
	}
	if (argc - argi != 3)
		usage();
	const char *corrald = argv[argi];
	char plugin_dir[PATH_MAX], repo[PATH_MAX];
	if (realpath(argv[argi + 1], plugin_dir) == NULL)
		die("%s: %s", argv[argi + 1], strerror(errno));
	if (realpath(argv[argi + 2], repo) == NULL)
		die("%s: %s", argv[argi + 2], strerror(errno));
	signal(SIGPIPE, SIG_IGN);

	bench_model models[3] = {{.plugin = "linear"}, {.plugin = "xgboost"},
	    {.plugin = "onnx"}};
	find_model(&models[0], repo, "iris");
	find_model(&models[1], repo, "loan_default");
	if (onnx_dir)
		onnx_override(&models[2], onnx_dir);
	else
		find_model(&models[2], repo, NULL);

	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double load[1] = {-1};
	getloadavg(load, 1);
	printf("corral-bench: up to %zu requests per corrald run and %zu calls per"
	    " in-process run, at most %.3g s each; %ld CPUs, load average %.2f\n\n",
	    total, total * 5, max_us / 1e6, cpus, load[0]);

	/* In process first, with nothing else running. */
	for (int i = 0; i < 3; i++) {
		bench_model *m = &models[i];
		snprintf(m->so, sizeof m->so, "%s/%s.so", plugin_dir, m->plugin);
		if (m->found && !is_file(m->so)) {
			m->found = false;
			snprintf(m->why, sizeof m->why, "no %s", m->so);
		}
		if (!m->found) {
			printf("%-8s skipped: %s\n", m->plugin, m->why);
			continue;
		}
		bench_in_process(m, total * 5, max_us);
		printf("%-8s %s version %lld (%s): %s\n", m->plugin, m->name,
		    (long long)m->version, m->version_dir, m->signature);
		for (size_t k = 0; k < m->cfg.n_params; k++)
			printf("%8s   %s: %s\n", "", m->cfg.params[k].key, m->cfg.params[k].value);
		for (int b = 0; b < N_BATCHES; b++)
			if (!m->req[b].ok)
				printf("%8s   no %lld-row requests: %s\n", "",
				    (long long)batches[b], m->req[b].why);
	}

	harness h;
	harness_init(&h);
	for (int i = 0; i < 3; i++)
		if (models[i].found)
			add_to_repo(&h, &models[i]);
	harness_start(&h, corrald, "log_level: warn\n");
	for (int i = 0; i < 3; i++) {
		char why[512];
		bench_model *m = &models[i];
		if (m->found && !(m->served = model_ready(&h, m, why, sizeof why)))
			printf("%-8s %s: %s\n", m->plugin, m->name, why);
	}

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
	stats relay_st[2] = {{0}};

	printf("\n%-8s %4s  %-10s %4s %7s %10s %10s %10s %11s %s\n", "", "", "", "",
	    "", "", "", "", "", " ------ corral / in-process ------");
	printf("%-8s %4s  %-10s %4s %7s %10s %10s %10s %11s %9s %7s %9s %8s\n", "plugin",
	    "rows", "path", "conc", "n", "p50 us", "p99 us", "req/s", "rows/s",
	    "p50 x", "p99 x", "req/s x", "p50 +us");
	fflush(stdout);
	for (int i = 0; i < 3; i++) {
		bench_model *m = &models[i];
		if (!m->found)
			continue;
		for (int b = 0; b < N_BATCHES; b++) {
			request *q = &m->req[b];
			if (!q->ok)
				continue;
			print_row(m->plugin, batches[b], "in-process", 1, m->inproc[b], NULL);
			run corral_run = {.url = h.ipc_url, .model = m, .req = q};
			for (int k = 0; k < 2 && m->served; k++) {
				/* warm, then measure */
				run_threads(corral_client_thread, &corral_run, concs[k],
				    100 * (size_t)concs[k], max_us / 10);
				m->corral[b][k] = run_threads(corral_client_thread,
				    &corral_run, concs[k], total, max_us);
				print_row(m->plugin, batches[b], "corral", concs[k],
				    m->corral[b][k], &m->inproc[b]);
				fflush(stdout);
			}
			if (i != 0 || b != 0)
				continue;
			for (int k = 0; k < 2; k++) {
				run_threads(echo_client, &echo_run, concs[k],
				    100 * (size_t)concs[k], max_us / 10);
				relay_st[k] = run_threads(echo_client, &echo_run, concs[k],
				    total, max_us);
				print_row(m->plugin, batches[b], "nng relay", concs[k],
				    relay_st[k], NULL);
				fflush(stdout);
			}
		}
	}

	bench_model *lin = &models[0];
	if (lin->served)
		bench_predlog(&h, lin, total, max_us);
	if (cli != NULL && lin->served)
		bench_batch(&h, cli, lin);
	if (lin->served && relay_st[0].valid && lin->corral[0][0].valid) {
		printf("\ncorral / nng relay baseline (linear, 1 row):\n");
		for (int k = 0; k < 2; k++)
			printf("  concurrency %2d: p50 x%.2f  p99 x%.2f  throughput x%.2f\n",
			    concs[k], lin->corral[0][k].p50 / relay_st[k].p50,
			    lin->corral[0][k].p99 / relay_st[k].p99,
			    lin->corral[0][k].rps / relay_st[k].rps);
		printf("  p50 at concurrency 1, corral minus relay: %+.1f us"
		       " (the model's own infer, in process: %.2f us)\n",
		    lin->corral[0][0].p50 - relay_st[0].p50, lin->inproc[0].p50);
	}
	bool checked = false;
	for (int i = 0; i < 3; i++)
		for (int b = 0; b < N_BATCHES; b++) {
			const request *q = &models[i].req[b];
			if (models[i].served && q->ok) {
				checked = true;
				if (q->mismatch)
					printf("\nWARNING: %s, %lld rows: corrald's reply differs"
					    " from the in-process outputs\n", models[i].name,
					    (long long)batches[b]);
			}
		}
	if (checked)
		printf("\nEach corrald run's first reply was compared with the in-process"
		    " outputs (warned above when not identical).\n");

	kill(relay, SIGKILL);
	kill(echo, SIGKILL);
	waitpid(relay, NULL, 0);
	waitpid(echo, NULL, 0);
	harness_cleanup(&h);
	for (int i = 0; i < 3; i++) {
		for (int b = 0; b < N_BATCHES; b++)
			free_request(&models[i].req[b]);
		model_config_free(&models[i].cfg);
	}
	return 0;
}
