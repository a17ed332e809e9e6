/*
 * onnx_backend_daemon_test - ONNX's own backend node tests end to end:
 * libcorral -> corrald -> a confined corral-worker -> the onnx plugin ->
 * ONNX Runtime, and the outputs back the same way.
 *
 *   onnx_backend_daemon_test CORRALD PLUGIN CASES_TSV [BATCH]
 *
 * CASES_TSV is gen_onnx_backend.py's cases.tsv, the file onnx_test runs in
 * process. Each test folder becomes one model, <test>/1/model.onnx a
 * symbolic link to the test's model.onnx, with `plugin:` the PLUGIN file.
 * BATCH models at a time (default 40) are served by a corrald of their
 * own: started, asked for the models' states, sent every case's inputs
 * (every data set of a test goes to its one model), stopped, before the
 * next batch.
 *
 * Outputs are compared as onnx_test compares them (onnx_cases.c), with the
 * tolerances of cases.tsv: ONNX's backend runner's rtol 1e-3 / atol 1e-7,
 * and atol 1e-3 for the float32 DFT and STFT tests.
 *
 * Skipped, with the reason: the cases the converter skips (sequences,
 * STRING outputs, which plugin ABI 1.0 cannot return, random operators,
 * ...); models ONNX Runtime refuses at load, which are FAILED: their
 * reason is the last_error of `models` (and the worker's log line, which
 * holds more of ONNX Runtime's message; any other load failure fails the
 * test); and models without inputs, which serve but which protocol v1
 * cannot call (a request needs an input). Failed: a wrong or missing output,
 * an error reply (a crash is WORKER_CRASHED, a hang DEADLINE_EXCEEDED),
 * metadata that disagrees with the case, a model in any other state, a
 * worker that ended while serving, a daemon that does not exit 0 on
 * SIGTERM.
 *
 * Prints every skip and failure with its reason, then
 *   backend through corrald: N run, N passed, N skipped, N failed
 */
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "onnx_cases.h"
#include "test.h"

/* A request may take this long in its worker (the daemon answers
 * DEADLINE_EXCEEDED past it: a hang); the client waits longer. */
#define REQUEST_TIMEOUT_MS 30000
#define CLIENT_TIMEOUT_MS 45000
/* ONNX Runtime 1.30 refuses 18 of Debian's ONNX 1.12 node tests at load
 * (onnx_test's bound too): more would be a plugin or worker bug that
 * passes for refusals. */
#define MAX_REFUSED 25

typedef enum outcome {
	CASE_PENDING,
	CASE_PASSED,
	CASE_FAILED,
	CASE_SKIPPED,
} outcome;

typedef struct case_result {
	outcome what;
	char *why; /* skipped or failed: why (malloc'd) */
} case_result;

/* One test folder: one model, one or more cases (its data sets). */
typedef struct test_model {
	char name[256]; /* the folder's name: the model's */
	const char *dir;
	size_t *cases; /* indexes into the case list */
	size_t n_cases;
} test_model;

static case_list cases;
static case_result *results;
static test_model *models;
static size_t n_models;
static const char *corrald_path, *plugin_path;
static size_t refused;

static void set_result(size_t i, outcome what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_result(size_t i, outcome what, const char *fmt, ...)
{
	va_list ap;
	char buf[1024];

	if (results[i].what != CASE_PENDING && results[i].what != CASE_PASSED)
		return; /* the first reason stands */
	results[i].what = what;
	free(results[i].why);
	results[i].why = NULL;
	if (fmt == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	results[i].why = strdup(buf);
	REQUIRE(results[i].why != NULL);
}

/* Every case of model m fails (or is skipped) for the same reason. */
static void set_model_result(const test_model *m, outcome what,
    const char *why)
{
	for (size_t k = 0; k < m->n_cases; k++)
		set_result(m->cases[k], what, "%s", why);
}

/* Group the cases to run by their test folder, in file order. */
static void make_models(void)
{
	models = calloc(cases.n ? cases.n : 1, sizeof *models);
	REQUIRE(models != NULL);
	for (size_t i = 0; i < cases.n; i++) {
		const onnx_case *c = &cases.cases[i];
		test_model *m = NULL;
		char *copy;

		if (c->skip != NULL) {
			set_result(i, CASE_SKIPPED, "skipped by the converter: %s",
			    c->skip);
			continue;
		}
		for (size_t j = 0; j < n_models; j++)
			if (strcmp(models[j].dir, c->dir) == 0)
				m = &models[j];
		if (m == NULL) {
			m = &models[n_models++];
			m->dir = c->dir;
			copy = strdup(c->dir);
			REQUIRE(copy != NULL);
			snprintf(m->name, sizeof m->name, "%s", basename(copy));
			free(copy);
		}
		m->cases = realloc(m->cases, (m->n_cases + 1) * sizeof *m->cases);
		REQUIRE(m->cases != NULL);
		m->cases[m->n_cases++] = i;
	}
}

/* ------------------------------------------------------------------------
 * One case, one model
 * ------------------------------------------------------------------------ */

/* Send case i's inputs to model m and compare what comes back. */
static void run_case(corral_client *cl, const test_model *m, size_t i)
{
	const onnx_case *c = &cases.cases[i];
	corral_tensor *in = calloc(c->n_in + 1, sizeof *in);
	corral_result *r = NULL;
	corral_error err;
	corral_status st;
	char why[512];

	REQUIRE(in != NULL);
	for (size_t k = 0; k < c->n_in; k++)
		in[k] = (corral_tensor){ .name = c->in[k].name,
			.dtype = c->in[k].dtype, .ndim = c->in[k].ndim,
			.shape = c->in[k].shape, .data = c->in[k].data,
			.nbytes = c->in[k].nbytes };
	st = corral_infer(cl, m->name, 1, in, c->n_in, NULL, 0, &r, &err);
	free(in);
	if (c->n_in == 0 && st == CORRAL_E_INVALID_ARGUMENT &&
	    strstr(err.message, "non-empty 'inputs'") != NULL) {
		/* ONNX's Constant test: the model serves, but wire protocol
		 * v1 wants at least one input in a request. */
		set_result(i, CASE_SKIPPED, "the model takes no inputs, and "
		    "protocol v1 needs a non-empty 'inputs' array (corrald "
		    "answers: %s)", err.message);
		return;
	}
	if (st != CORRAL_OK) {
		set_result(i, CASE_FAILED, "infer: %s%s: %s",
		    corral_status_name(st),
		    st == CORRAL_E_WORKER_CRASHED ? " (a crash)" :
		    st == CORRAL_E_DEADLINE_EXCEEDED ? " (a hang)" : "",
		    err.message);
		return;
	}
	if (corral_result_output_count(r) != c->n_out)
		set_result(i, CASE_FAILED, "%zu outputs, want %zu",
		    corral_result_output_count(r), c->n_out);
	for (size_t k = 0; k < c->n_out; k++) {
		const corral_tensor *t = corral_result_find(r, c->out[k].name);

		if (t == NULL)
			set_result(i, CASE_FAILED, "no output '%s'",
			    c->out[k].name);
		else if (case_compare(&c->out[k], t->dtype, t->ndim, t->shape,
			     t->data, t->nbytes, c->rtol, c->atol, why,
			     sizeof why) != 0)
			set_result(i, CASE_FAILED, "%s", why);
	}
	corral_result_free(r);
	set_result(i, CASE_PASSED, NULL);
}

/* The signature `metadata` gives agrees with the case: names, datatypes,
 * ranks and every fixed dimension (onnx_test checks describe() so). */
static void check_metadata(corral_client *cl, const test_model *m)
{
	const onnx_case *c = &cases.cases[m->cases[0]];
	corral_metadata *md = NULL;
	corral_error err;
	corral_status st;

	st = corral_get_metadata(cl, m->name, 1, &md, &err);
	if (st != CORRAL_OK) {
		char why[640];

		snprintf(why, sizeof why, "metadata: %s: %s",
		    corral_status_name(st), err.message);
		set_model_result(m, CASE_FAILED, why);
		return;
	}
	for (int io = 0; io < 2; io++) {
		const struct corral_meta_tensor *mt = io ? md->outputs : md->inputs;
		size_t n = io ? md->n_outputs : md->n_inputs;
		const case_tensor *ts = io ? c->out : c->in;
		size_t nt = io ? c->n_out : c->n_in;
		bool ok = n == nt;

		for (size_t k = 0; ok && k < nt; k++) {
			const struct corral_meta_tensor *s = NULL;

			for (size_t j = 0; j < n; j++)
				if (strcmp(mt[j].name, ts[k].name) == 0)
					s = &mt[j];
			ok = s != NULL && s->dtype == ts[k].dtype &&
			    s->ndim == ts[k].ndim;
			for (uint32_t d = 0; ok && d < s->ndim; d++)
				ok = s->shape[d] == -1 ||
				    s->shape[d] == ts[k].shape[d];
		}
		if (!ok) {
			char why[640];

			snprintf(why, sizeof why, "metadata: the %s do not "
			    "match the case's (%zu declared, %zu in the case, "
			    "or other names, datatypes or dimensions)",
			    io ? "outputs" : "inputs", n, nt);
			set_model_result(m, CASE_FAILED, why);
		}
	}
	corral_metadata_free(md);
}

/* ------------------------------------------------------------------------
 * One batch, one daemon
 * ------------------------------------------------------------------------ */

/*
 * What the worker of model `name` logged when its load failed: MESSAGE of
 * the line "corral-worker[PID] NAME/1: load: MESSAGE" in the daemon's log
 * (up to 511 bytes, where last_error holds some 190). Into out; "" when
 * there is none.
 */
static void load_message(const harness *h, const char *name, char *out,
    size_t n)
{
	char line[2048], tag[300];
	FILE *f = fopen(h->log, "r");

	out[0] = '\0';
	snprintf(tag, sizeof tag, "] %s/1: load: ", name);
	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		char *p = strstr(line, tag);

		/* the daemon relays worker lines into its own log */
		if (strstr(line, "corral-worker[") == NULL || p == NULL)
			continue;
		p += strlen(tag);
		snprintf(out, n, "%.*s", (int)strcspn(p, "\n"), p);
	}
	if (f != NULL)
		fclose(f);
}

/*
 * Why model m's load failed, if it is a refusal to skip: ONNX Runtime's
 * (its session refuses the file: an operator or type it does not
 * implement; the plugin then says "onnx: <dir>/model.onnx: ", as onnx_test
 * checks), or the plugin's for a STRING output (plugin ABI 1.0 cannot
 * return one; the converter skips those first). Into why, with last_error
 * and ONNX Runtime's part of the worker's message; returns 0 for any other
 * failure (a plugin bug, the worker's describe or confinement).
 */
static int refusal(const harness *h, const test_model *m,
    const char *last_error, char *why, size_t n)
{
	char logged[600], prefix[512];
	const char *reason;

	load_message(h, m->name, logged, sizeof logged);
	snprintf(prefix, sizeof prefix, "onnx: %s/%s/1/model.onnx: ", h->repo,
	    m->name);
	if (strncmp(logged, prefix, strlen(prefix)) == 0) {
		reason = logged + strlen(prefix);
		/* ONNX Runtime names the file again when it cannot read it. */
		if (strncmp(reason, "Load model from ", 16) == 0 &&
		    strstr(reason, " failed:") != NULL)
			reason = strstr(reason, " failed:") + 8;
		snprintf(why, n, "refused by ONNX Runtime at load (FAILED): "
		    "last_error \"%s\"; the worker logged \"...%s\"",
		    last_error, reason);
		return 1;
	}
	if (strncmp(logged, "onnx: output '", 14) == 0 &&
	    strstr(logged, "is a STRING tensor") != NULL) {
		snprintf(why, n, "the plugin refuses a STRING output at load "
		    "(FAILED): %s", last_error);
		return 1;
	}
	return 0;
}

/* The entry of model name, version 1, in l; NULL if not listed. */
static const struct corral_model_entry *entry_of(const corral_model_list *l,
    const char *name)
{
	for (size_t i = 0; l != NULL && i < l->count; i++)
		if (strcmp(l->entries[i].name, name) == 0 &&
		    l->entries[i].version == 1)
			return &l->entries[i];
	return NULL;
}

static void run_batch(size_t first, size_t count)
{
	char path[600], target[4200], yaml[4200];
	corral_model_list *before = NULL, *after = NULL;
	corral_error err;
	corral_client *cl;
	bool *ready = calloc(count, sizeof *ready);
	int failed_before = test_failed_, status;
	harness h;

	REQUIRE(ready != NULL);
	harness_init(&h);
	snprintf(yaml, sizeof yaml, "plugin: %s\n", plugin_path);
	for (size_t j = first; j < first + count; j++) {
		snprintf(path, sizeof path, "%s/config.yaml", models[j].name);
		harness_write(&h, path, yaml);
		snprintf(path, sizeof path, "%s/1/model.onnx", models[j].name);
		snprintf(target, sizeof target, "%s/model.onnx", models[j].dir);
		harness_link(&h, path, target);
	}
	snprintf(yaml, sizeof yaml, "request_timeout_ms: %d\n",
	    REQUEST_TIMEOUT_MS);
	harness_start(&h, corrald_path, yaml);
	cl = harness_client(&h, false);
	corral_client_set_timeout(cl, CLIENT_TIMEOUT_MS);

	CHECK_INT(corral_list_models(cl, &before, &err), CORRAL_OK);
	for (size_t j = first; j < first + count; j++) {
		const test_model *m = &models[j];
		const struct corral_model_entry *e = entry_of(before, m->name);
		char why[1400], logged[600];

		if (e != NULL && strcmp(e->state, "READY") == 0) {
			ready[j - first] = true;
			continue;
		}
		if (e != NULL && strcmp(e->state, "FAILED") == 0 &&
		    e->last_error != NULL &&
		    refusal(&h, m, e->last_error, why, sizeof why)) {
			set_model_result(m, CASE_SKIPPED, why);
			refused++;
			continue;
		}
		load_message(&h, m->name, logged, sizeof logged);
		snprintf(why, sizeof why, "model %s at start: %s%s%s",
		    e ? e->state : "not listed", e && e->last_error ?
		    e->last_error : "", logged[0] ? "; the worker logged: " :
		    "", logged);
		set_model_result(m, CASE_FAILED, why);
	}

	for (size_t j = first; j < first + count; j++) {
		if (!ready[j - first])
			continue;
		check_metadata(cl, &models[j]);
		for (size_t k = 0; k < models[j].n_cases; k++)
			run_case(cl, &models[j], models[j].cases[k]);
	}

	/* No worker ended while serving (a crash after its reply, a sandbox
	 * kill): each still READY, with no last_error. */
	CHECK_INT(corral_list_models(cl, &after, &err), CORRAL_OK);
	for (size_t j = first; j < first + count; j++) {
		const struct corral_model_entry *e = entry_of(after,
		    models[j].name);
		char why[600];

		if (!ready[j - first] || (e != NULL &&
		    strcmp(e->state, "READY") == 0 && e->last_error == NULL))
			continue;
		snprintf(why, sizeof why, "its worker ended while serving: "
		    "now %s, last_error %s", e ? e->state : "not listed",
		    e && e->last_error ? e->last_error : "(none)");
		set_model_result(&models[j], CASE_FAILED, why);
	}
	corral_model_list_free(before);
	corral_model_list_free(after);
	corral_client_close(cl);

	for (size_t j = first; j < first + count; j++)
		for (size_t k = 0; k < models[j].n_cases; k++) {
			size_t i = models[j].cases[k];

			CHECK_MSG(results[i].what == CASE_PASSED ||
			    results[i].what == CASE_SKIPPED, "%s: %s",
			    cases.cases[i].name, results[i].why ?
			    results[i].why : "not run");
		}
	/* Every daemon stops cleanly: exit 0 on SIGTERM. */
	status = harness_stop(&h);
	CHECK_MSG(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "corrald (models %s to %s) exits 0 on SIGTERM (wait status %d)",
	    models[first].name, models[first + count - 1].name, status);
	if (test_failed_ != failed_before || status != 0)
		harness_dump_log(&h);
	harness_cleanup(&h);
	free(ready);
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	size_t batch = 40, run = 0, passed = 0, skipped = 0, failed = 0;
	long long start = harness_now_ms();

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: onnx_backend_daemon_test CORRALD PLUGIN "
		    "CASES_TSV [BATCH]\n");
		return 2;
	}
	corrald_path = argv[1];
	plugin_path = realpath(argv[2], NULL);
	REQUIRE(plugin_path != NULL);
	if (argc == 5)
		batch = strtoul(argv[4], NULL, 10);
	REQUIRE(batch > 0);
	cases_read(&cases, argv[3]);
	results = calloc(cases.n ? cases.n : 1, sizeof *results);
	REQUIRE(results != NULL);
	make_models();

	for (size_t first = 0; first < n_models; first += batch)
		run_batch(first, n_models - first < batch ? n_models - first
		    : batch);

	for (size_t i = 0; i < cases.n; i++) {
		const case_result *r = &results[i];

		switch (r->what) {
		case CASE_PASSED: run++; passed++; break;
		case CASE_SKIPPED: skipped++; break;
		default: run++; failed++; break;
		}
		if (r->what == CASE_SKIPPED)
			printf("skip %s: %s\n", cases.cases[i].name, r->why);
		else if (r->what != CASE_PASSED)
			printf("FAIL %s: %s\n", cases.cases[i].name,
			    r->why ? r->why : "not run");
	}
	CHECK_MSG(refused <= MAX_REFUSED, "%zu models refused at load", refused);
	CHECK_MSG(run > 0, "no case ran");
	printf("backend through corrald: %zu run, %zu passed, %zu skipped, "
	    "%zu failed (%zu models in %zu daemons, %.1f s)\n", run, passed,
	    skipped, failed, n_models, (n_models + batch - 1) / batch,
	    (harness_now_ms() - start) / 1000.0);

	for (size_t i = 0; i < cases.n; i++)
		free(results[i].why);
	free(results);
	for (size_t j = 0; j < n_models; j++)
		free(models[j].cases);
	free(models);
	free((char *)plugin_path);
	cases_free(&cases);
	TEST_MAIN_END();
}
