/*
 * xgboost_daemon_test - the xgboost plugin in a real corrald, in confined
 * workers, called through libcorral, against XGBoost's own predictions
 * (gen_xgb_models.py).
 *
 *   xgboost_daemon_test CORRALD XGBOOST_SO MODELS_DIR
 *
 * Serves one model per (case, format, run) below, most with nthread 2, and
 * checks: every version is READY; metadata gives the plugin's signature;
 * FP32 and FP64 batches, single rows and zero rows answer what XGBoost
 * predicted; every thread of every worker is in seccomp filter mode; and
 * several clients at once send many requests of many batch sizes to the
 * nthread 2 models, all answered correctly, with no worker restarted and
 * no thread started after the filter went on.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "test.h"
#include "xgb_cases.h"

static harness h;
static char *plugin_so;
static char *models_dir;

/* One served model: a case's model file in one format, loaded with one
 * run's parameters (and nthread, when the run does not set it). */
static const struct spec {
	const char *model;  /* name in the repository */
	const char *xcase;  /* gen_xgb_models.py's case */
	const char *format; /* json, ubj, bin or xgb */
	const char *run;    /* whose parameters and expected output */
	const char *nthread;
	int by_name;        /* plugin: xgboost rather than the .so's path */
} specs[] = {
	{ "binary", "binary_logistic", "json", "default", "2", 0 },
	{ "binary_missing0", "binary_logistic", "ubj", "missing0", "2", 0 },
	{ "softprob", "multi_softprob", "ubj", "default", "2", 0 },
	{ "softprob_range", "multi_softprob", "json", "range", NULL, 0 },
	{ "softmax", "multi_softmax", "bin", "default", NULL, 1 },
	{ "softmax_margin", "multi_softmax", "json", "margin", "2", 0 },
	{ "regression", "reg_squarederror", "xgb", "default", "2", 0 },
	{ "reg_logistic", "reg_logistic", "bin", "default", NULL, 0 },
	{ "poisson", "count_poisson", "json", "default", "2", 0 },
	{ "poisson_margin", "count_poisson", "ubj", "margin", NULL, 0 },
	{ "ranking", "rank_pairwise", "bin", "default", "2", 0 },
	{ "dart", "dart_binary_logistic", "json", "default", "2", 0 },
	{ "dart_range", "dart_binary_logistic", "ubj", "range_margin", "2", 0 },
	{ "dart_reg", "dart_reg_squarederror", "bin", "range", NULL, 0 },
	{ "gblinear", "gblinear_reg_squarederror", "json", "default", "2", 0 },
	{ "gblinear_missing0", "gblinear_reg_squarederror", "ubj",
	  "missing0_nthread2", NULL, 0 },
};
#define N_SPECS (sizeof specs / sizeof specs[0])

static xcase cases[N_SPECS];
static const json_t *runs[N_SPECS];

/* ------------------------------------------------------------- set-up --- */

static void setup_repo(void)
{
	for (size_t i = 0; i < N_SPECS; i++) {
		const struct spec *s = &specs[i];
		const json_t *params, *value;
		const char *key;
		char yaml[2048], rel[256], target[4096];
		size_t len;
		int has_nthread = 0;

		case_read(&cases[i], models_dir, s->xcase);
		runs[i] = case_run(&cases[i], s->run);
		REQUIRE(runs[i] != NULL);
		params = json_need(runs[i], "params", JSON_OBJECT);

		len = (size_t)snprintf(yaml, sizeof yaml, "plugin: %s\nparameters:\n",
		    s->by_name ? "xgboost" : plugin_so);
		json_object_foreach((json_t *)params, key, value) {
			has_nthread |= strcmp(key, "nthread") == 0;
			len += (size_t)snprintf(yaml + len, sizeof yaml - len,
			    "  %s: \"%s\"\n", key, json_string_value(value));
		}
		if (s->nthread != NULL && !has_nthread)
			len += (size_t)snprintf(yaml + len, sizeof yaml - len,
			    "  nthread: %s\n", s->nthread);
		/* A key meant for something else: logged, not fatal. */
		snprintf(yaml + len, sizeof yaml - len, "  owner: team-x\n");
		snprintf(rel, sizeof rel, "%s/config.yaml", s->model);
		harness_write(&h, rel, yaml);
		snprintf(rel, sizeof rel, "%s/1", s->model);
		snprintf(target, sizeof target, "%s/%s/%s/1", models_dir, s->xcase,
		    s->format);
		harness_link(&h, rel, target);
	}
}

/* ------------------------------------------------------------ helpers --- */

/* Rows [r0, r0 + n) of the case, repeating its rows, as FP32 or FP64. */
static void *rows_make(const xcase *c, corral_dtype dt, size_t r0, size_t n,
    size_t *nbytes)
{
	size_t es = corral_dtype_size(dt);
	unsigned char *buf = malloc(n * c->nf * es + 1);

	REQUIRE(buf != NULL);
	for (size_t r = 0; r < n; r++) {
		const double *x = &c->x[((r0 + r) % c->n_rows) * c->nf];

		for (size_t j = 0; j < c->nf; j++) {
			unsigned char *dst = buf + (r * c->nf + j) * es;

			if (dt == CORRAL_DT_FP32) {
				float f = (float)x[j];
				memcpy(dst, &f, sizeof f);
			} else {
				memcpy(dst, &x[j], sizeof x[j]);
			}
		}
	}
	*nbytes = n * c->nf * es;
	return buf;
}

/* Ask model i for rows [r0, r0 + n) and compare; 0 when right. */
static int ask(corral_client *cl, size_t i, corral_dtype dt, size_t r0,
    size_t n, char *why, size_t whylen)
{
	const xcase *c = &cases[i];
	int64_t shape[2] = { (int64_t)n, (int64_t)c->nf };
	corral_tensor t = { "input", dt, 2, shape, NULL, 0 };
	corral_result *r = NULL;
	corral_error err;
	corral_status st;
	void *data = rows_make(c, dt, r0, n, &t.nbytes);
	int rc = -1;

	t.data = data;
	st = corral_infer(cl, specs[i].model, 0, &t, 1, NULL, 0, &r, &err);
	free(data);
	if (st != CORRAL_OK) {
		snprintf(why, whylen, "infer: status %d: %.300s", (int)st, err.message);
		return -1;
	}
	if (corral_result_output_count(r) != 1)
		snprintf(why, whylen, "%zu outputs, want 1",
		    corral_result_output_count(r));
	else
		rc = case_compare(c, json_need(runs[i], "output", JSON_OBJECT),
		    corral_result_output(r, 0), r0, n, why, whylen);
	corral_result_free(r);
	return rc;
}

/* The --model of a worker, from its command line. */
static void worker_model(pid_t pid, char *model, size_t n)
{
	char path[64], cmd[2048] = "";
	const char *p;
	size_t len;
	FILE *f;

	model[0] = '\0';
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "r");
	len = f ? fread(cmd, 1, sizeof cmd - 1, f) : 0;
	if (f)
		fclose(f);
	for (size_t k = 0; k < len; k++)
		if (cmd[k] == '\0')
			cmd[k] = ' ';
	p = strstr(cmd, "--model ");
	if (p != NULL)
		snprintf(model, n, "%.*s", (int)strcspn(p + 8, " "), p + 8);
}

/* Threads of `pid`, and how many are in seccomp filter mode. */
static int worker_threads(pid_t pid, int *confined)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int threads = 0;

	*confined = 0;
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (e = readdir(d)) != NULL) {
		char spath[384], line[256];
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		threads++;
		snprintf(spath, sizeof spath, "%s/%s/status", path, e->d_name);
		f = fopen(spath, "r");
		while (f && fgets(line, sizeof line, f))
			if (strncmp(line, "Seccomp:", 8) == 0)
				*confined += atoi(line + 8) == 2;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return threads;
}

typedef struct worker_snap {
	pid_t pid;
	char model[64];
	int threads, confined;
} worker_snap;

static int snapshot(worker_snap *w, int max)
{
	pid_t pids[64];
	int n = harness_workers(&h, pids, max < 64 ? max : 64);

	for (int i = 0; i < n; i++) {
		w[i].pid = pids[i];
		worker_model(pids[i], w[i].model, sizeof w[i].model);
		w[i].threads = worker_threads(pids[i], &w[i].confined);
	}
	return n;
}

/* -------------------------------------------------------------- tests --- */

static void test_ready(corral_client *cl)
{
	char buf[32];
	bool live = false, ready = false;

	for (size_t i = 0; i < N_SPECS; i++)
		CHECK_MSG(strcmp(harness_state(cl, specs[i].model, 1, buf,
		    sizeof buf), "READY") == 0, "%s is %s", specs[i].model, buf);
	CHECK_INT(corral_health(cl, &live, &ready, NULL), CORRAL_OK);
	CHECK(live && ready);
}

static void test_metadata(corral_client *cl)
{
	for (size_t i = 0; i < N_SPECS; i++) {
		const json_t *out = json_need(runs[i], "output", JSON_OBJECT);
		const json_t *shape = json_need(out, "shape", JSON_ARRAY);
		const size_t rank = json_array_size(shape);
		corral_metadata *m = NULL;
		corral_error err;

		CHECK_INT(corral_get_metadata(cl, specs[i].model, 0, &m, &err),
		    CORRAL_OK);
		if (m == NULL)
			continue;
		CHECK_STR(m->plugin, "xgboost");
		CHECK_STR(m->plugin_version, "1.0.0");
		CHECK_INT(m->n_inputs, 1);
		if (m->n_inputs == 1) {
			CHECK_STR(m->inputs[0].name, "input");
			CHECK_INT(m->inputs[0].dtype, CORRAL_DT_FP32);
			CHECK_INT(m->inputs[0].ndim, 2);
			CHECK_INT(m->inputs[0].shape[0], -1);
			CHECK_INT(m->inputs[0].shape[1], cases[i].nf);
			/* Feature names, when the model file keeps them (the
			 * legacy binary format does not), come back as labels. */
			const json_t *fn = json_object_get(cases[i].root,
			    "feature_names");
			const size_t n_fn = json_array_size(fn);
			bool named = json_is_array(fn) &&
			    (strcmp(specs[i].format, "json") == 0 ||
				strcmp(specs[i].format, "ubj") == 0);
			if (named) {
				CHECK_INT(m->inputs[0].n_labels, n_fn);
				for (size_t k = 0; k < n_fn && k < m->inputs[0].n_labels; k++)
					CHECK_STR(m->inputs[0].labels[k],
					    json_string_value(json_array_get(fn, k)));
			} else if (!json_is_array(fn)) {
				CHECK_MSG(m->inputs[0].labels == NULL, "%s: no labels",
				    specs[i].model);
			}
		}
		CHECK_INT(m->n_outputs, 1);
		if (m->n_outputs == 1) {
			CHECK_STR(m->outputs[0].name,
			    json_need_str(out, "name"));
			CHECK_INT(m->outputs[0].dtype, CORRAL_DT_FP32);
			CHECK_INT(m->outputs[0].ndim, rank);
			for (size_t d = 0; d < rank && d < m->outputs[0].ndim; d++)
				CHECK_INT(m->outputs[0].shape[d],
				    json_num(json_array_get(shape, d)));
		}
		corral_metadata_free(m);
	}
}

/* Every model, against XGBoost's predictions: batches in FP32 and FP64,
 * every row alone, a batch that repeats the rows, zero rows. */
static void test_differential(corral_client *cl)
{
	char why[512];

	for (size_t i = 0; i < N_SPECS; i++) {
		const xcase *c = &cases[i];
		const char *m = specs[i].model;

		CHECK_MSG(ask(cl, i, CORRAL_DT_FP32, 0, c->n_rows, why,
		    sizeof why) == 0, "%s FP32 batch: %s", m, why);
		CHECK_MSG(ask(cl, i, CORRAL_DT_FP64, 0, c->n_rows, why,
		    sizeof why) == 0, "%s FP64 batch: %s", m, why);
		for (size_t r = 0; r < c->n_rows; r++)
			CHECK_MSG(ask(cl, i, r % 2 ? CORRAL_DT_FP64 :
			    CORRAL_DT_FP32, r, 1, why, sizeof why) == 0,
			    "%s row %zu: %s", m, r, why);
		CHECK_MSG(ask(cl, i, CORRAL_DT_FP32, 7, 5 * c->n_rows + 3, why,
		    sizeof why) == 0, "%s repeated rows: %s", m, why);
		CHECK_MSG(ask(cl, i, CORRAL_DT_FP32, 0, 0, why, sizeof why) == 0,
		    "%s zero rows: %s", m, why);
	}
}

/* A wrong feature count is the client's error, and the worker goes on. */
static void test_bad_request(corral_client *cl)
{
	float x[8] = { 0 };
	int64_t shape[2] = { 2, 4 };
	corral_tensor t = { "input", CORRAL_DT_FP32, 2, shape, x, sizeof x };
	corral_result *r = NULL;
	corral_error err;
	char why[512];

	CHECK_INT(corral_infer(cl, "softprob", 0, &t, 1, NULL, 0, &r, &err),
	    CORRAL_E_FEATURE_COUNT_MISMATCH);
	corral_result_free(r);
	t.dtype = CORRAL_DT_INT32;
	shape[1] = 5;
	t.nbytes = 0;
	shape[0] = 0;
	CHECK_INT(corral_infer(cl, "softprob", 0, &t, 1, NULL, 0, &r, &err),
	    CORRAL_E_TYPE_MISMATCH);
	corral_result_free(r);
	CHECK_MSG(ask(cl, 2, CORRAL_DT_FP32, 0, 3, why, sizeof why) == 0,
	    "softprob after bad requests: %s", why);
}

static void check_confined(const worker_snap *w, int n, const char *when)
{
	int threads = 0, confined = 0, multi = 0;

	CHECK_MSG(n == (int)N_SPECS, "%s: %d workers, want %zu", when, n, N_SPECS);
	for (int i = 0; i < n; i++) {
		threads += w[i].threads;
		confined += w[i].confined;
		CHECK_MSG(w[i].confined == w[i].threads, "%s: worker %d (%s): "
		    "%d of %d threads confined", when, (int)w[i].pid, w[i].model,
		    w[i].confined, w[i].threads);
		multi += w[i].threads > 1;
	}
	CHECK_MSG(confined == threads && threads > n, "%s: %d of %d worker "
	    "threads in seccomp filter mode", when, confined, threads);
	CHECK(multi == n);
}

/* The run's parameters or the spec give nthread 2. */
static int spec_nthread2(size_t i)
{
	const json_t *nt = json_object_get(json_need(runs[i], "params",
	    JSON_OBJECT), "nthread");

	return nt != NULL ? strcmp(json_string_value(nt), "2") == 0 :
	    specs[i].nthread != NULL && strcmp(specs[i].nthread, "2") == 0;
}

/* OpenMP's second thread was started by the warm-up in load(), before the
 * filter: an nthread 2 worker has one thread more than an nthread 1 one
 * (the rest are the worker's own, the same in each). */
static void check_omp_threads(const worker_snap *w, int n)
{
	int one = -1, two = -1;

	for (int i = 0; i < n; i++) {
		size_t k;

		for (k = 0; k < N_SPECS; k++)
			if (strcmp(specs[k].model, w[i].model) == 0)
				break;
		if (k == N_SPECS)
			continue;
		if (spec_nthread2(k)) {
			CHECK_MSG(two < 0 || two == w[i].threads, "nthread 2 "
			    "workers with %d and %d threads", two, w[i].threads);
			two = w[i].threads;
		} else {
			CHECK_MSG(one < 0 || one == w[i].threads, "nthread 1 "
			    "workers with %d and %d threads", one, w[i].threads);
			one = w[i].threads;
		}
	}
	CHECK_MSG(one > 0 && two == one + 1, "nthread 1 workers have %d threads, "
	    "nthread 2 ones %d", one, two);
}

/* Many requests from several clients at once, of many batch sizes, to the
 * nthread 2 models. */
struct stress_arg {
	size_t spec;
	unsigned seed;
	int requests, failures;
	char first[512];
};

static void *stress(void *arg)
{
	struct stress_arg *a = arg;
	corral_client *cl = harness_client(&h, a->seed % 2 == 1);
	char why[512];

	for (int k = 0; k < a->requests; k++) {
		size_t r0, n;

		a->seed = a->seed * 1103515245u + 12345u;
		r0 = (a->seed >> 8) % 20;
		n = 1 + (a->seed >> 16) % (k % 10 == 0 ? 3000 : 64);
		if (ask(cl, a->spec, (a->seed >> 4) % 2 ? CORRAL_DT_FP64 :
		    CORRAL_DT_FP32, r0, n, why, sizeof why) != 0) {
			if (a->failures++ == 0)
				snprintf(a->first, sizeof a->first, "%.400s (%zu rows "
				    "from %zu)", why, n, r0);
		}
	}
	corral_client_close(cl);
	return NULL;
}

static size_t spec_index(const char *model)
{
	for (size_t i = 0; i < N_SPECS; i++)
		if (strcmp(specs[i].model, model) == 0)
			return i;
	REQUIRE(0);
	return 0;
}

static void test_stress(const worker_snap *before, int n_before)
{
	static const char *const targets[] = { "binary", "softprob", "softprob",
		"dart", "gblinear", "ranking" };
	enum { N = sizeof targets / sizeof targets[0] };
	struct stress_arg a[N];
	pthread_t t[N];
	worker_snap after[64];
	int n_after, total = 0;

	for (int i = 0; i < N; i++) {
		a[i] = (struct stress_arg){ spec_index(targets[i]), 17u + (unsigned)i,
			150, 0, "" };
		REQUIRE(pthread_create(&t[i], NULL, stress, &a[i]) == 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		total += a[i].requests;
		CHECK_MSG(a[i].failures == 0, "%s: %d of %d requests wrong, first: "
		    "%s", targets[i], a[i].failures, a[i].requests, a[i].first);
	}
	printf("stress: %d requests\n", total);

	/* The same workers, no thread started after confinement. */
	n_after = snapshot(after, 64);
	check_confined(after, n_after, "after the requests");
	CHECK_INT(n_after, n_before);
	for (int i = 0; i < n_before; i++) {
		int found = 0;

		for (int k = 0; k < n_after; k++) {
			if (after[k].pid != before[i].pid)
				continue;
			found = 1;
			CHECK_MSG(after[k].threads == before[i].threads, "worker %s: "
			    "%d threads when ready, %d after the requests",
			    before[i].model, before[i].threads, after[k].threads);
		}
		CHECK_MSG(found, "worker %d (%s) is gone", (int)before[i].pid,
		    before[i].model);
	}
}

/* Models that cannot load are FAILED with the reason in `models`, and the
 * daemon serves the rest: a garbage file, no model file, two model files. */
static void test_unloadable(const char *corrald)
{
	static const struct {
		const char *model, *file, *content, *says;
	} bad[] = {
		{ "garbage", "model.json", "this is not a model", "model.json" },
		{ "no_file", "README", "nothing here", "no model file" },
		{ "two_files", "model.json", "{}", "keep exactly one model file" },
	};
	harness h2;
	char yaml[4200], rel[256];
	harness_init(&h2);
	snprintf(yaml, sizeof yaml, "plugin: %s\n", plugin_so);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(rel, sizeof rel, "%s/config.yaml", bad[i].model);
		harness_write(&h2, rel, yaml);
		snprintf(rel, sizeof rel, "%s/1/%s", bad[i].model, bad[i].file);
		harness_write(&h2, rel, bad[i].content);
	}
	harness_write(&h2, "two_files/1/model.ubj", "{}");
	harness_start(&h2, corrald, NULL);
	corral_client *c = harness_client(&h2, false);
	corral_model_list *l = NULL;
	REQUIRE(corral_list_models(c, &l, NULL) == CORRAL_OK);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bool seen = false;
		for (size_t k = 0; k < l->count; k++) {
			const struct corral_model_entry *e = &l->entries[k];
			if (strcmp(e->name, bad[i].model) != 0)
				continue;
			seen = true;
			CHECK_MSG(strcmp(e->state, "FAILED") == 0, "%s is %s", e->name, e->state);
			CHECK_MSG(e->last_error && strstr(e->last_error, bad[i].says),
			    "%s: last_error '%s' names '%s'", bad[i].model,
			    e->last_error ? e->last_error : "-", bad[i].says);
		}
		CHECK_MSG(seen, "%s listed", bad[i].model);
	}
	corral_model_list_free(l);
	corral_client_close(c);
	harness_cleanup(&h2);
}

int main(int argc, char **argv)
{
	worker_snap before[64];
	corral_client *ipc;
	int n;

	REQUIRE(argc == 4);
	plugin_so = realpath(argv[2], NULL);
	models_dir = realpath(argv[3], NULL);
	REQUIRE(plugin_so != NULL && models_dir != NULL);
	harness_init(&h);
	setup_repo();
	harness_start(&h, argv[1], NULL);
	ipc = harness_client(&h, false);

	test_ready(ipc);
	n = snapshot(before, 64);
	check_confined(before, n, "when ready");
	for (int i = 0; i < n; i++)
		printf("worker %-18s %d threads, %d in seccomp filter mode\n",
		    before[i].model, before[i].threads, before[i].confined);
	check_omp_threads(before, n);
	test_metadata(ipc);
	test_differential(ipc);
	test_bad_request(ipc);
	test_stress(before, n);
	test_ready(ipc);

	corral_client_close(ipc);
	{
		int status = harness_stop(&h);

		CHECK_MSG(status != -1 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0, "corrald exits 0 (status %d)", status);
	}
	if (test_failed_ || getenv("XGBOOST_TEST_VERBOSE"))
		harness_dump_log(&h);
	harness_cleanup(&h);
	test_unloadable(argv[1]);
	for (size_t i = 0; i < N_SPECS; i++)
		case_free(&cases[i]);
	free(plugin_so);
	free(models_dir);
	case_print_max_diff();
	TEST_MAIN_END();
}
