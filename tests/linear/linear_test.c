/*
 * linear_test.c - the linear plugin, in process, against numpy's golden
 * outputs (gen_linear_golden.py).
 *
 * usage: linear_test PATH/linear.so GOLDEN_DIR
 *
 * Plays the host: dlopens the plugin, checks its descriptor, loads every
 * golden case through a test corral_host_api, and runs batches, single
 * rows (2-D and 1-D), zero rows, in FP64 and FP32. Then the errors: bad
 * model files at load, bad tensors at infer. Input and output buffers are
 * deliberately misaligned, as a network message can leave them.
 */
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <corral/plugin.h>
#include <jansson.h>

#include "test.h"
#include "test_host.h"

/* A member of golden.json that must be there, of the given type (any
 * number for JSON_REAL). */
static const json_t *json_need(const json_t *obj, const char *key,
    json_type type)
{
	const json_t *v = json_object_get(obj, key);
	int ok = v != NULL && (type == JSON_REAL ? json_is_number(v) :
	    json_typeof(v) == type);

	if (!ok)
		fprintf(stderr, "golden: \"%s\" missing or mistyped\n", key);
	REQUIRE(ok);
	return v;
}

static const corral_plugin *plugin;

static corral_plugin_error load_dir(const char *dir, void **model, char *err,
    size_t errlen)
{
	/* The plugin takes no parameters and must ignore unknown ones. */
	static const corral_param params[] = { { "unknown_knob", "42" } };
	corral_load_args args = {
		.struct_size = sizeof args,
		.model_name = "golden",
		.model_version = 1,
		.version_dir = dir,
		.params = params,
		.n_params = 1,
	};

	*model = NULL;
	return plugin->load(&test_host, &args, model, err, errlen);
}

/* An input tensor of `n_rows` x `nf` values from `x`, in FP64 or FP32, at a
 * misaligned address. ndim 1 makes a single row [nf]. */
typedef struct test_input {
	corral_tensor t;
	int64_t shape[3];
	unsigned char *mem;
} test_input;

static void input_make(test_input *in, corral_dtype dtype, const double *x,
    int64_t n_rows, size_t nf, uint32_t ndim)
{
	size_t n = (size_t)n_rows * nf, esize = corral_dtype_size(dtype);

	memset(in, 0, sizeof *in);
	in->mem = malloc(n * esize + 1);
	REQUIRE(in->mem != NULL);
	for (size_t i = 0; i < n; i++) {
		if (dtype == CORRAL_DT_FP32) {
			float f = (float)x[i];
			memcpy(in->mem + 1 + i * esize, &f, sizeof f);
		} else {
			memcpy(in->mem + 1 + i * esize, &x[i], sizeof x[i]);
		}
	}
	if (ndim == 1) {
		in->shape[0] = (int64_t)nf;
	} else {
		in->shape[0] = n_rows;
		in->shape[1] = (int64_t)nf;
	}
	in->t = (corral_tensor){ .name = "input", .dtype = dtype, .ndim = ndim,
		.shape = in->shape, .data = n ? in->mem + 1 : NULL,
		.nbytes = n * esize };
}

/* ------------------------------------------------------------------------
 * Golden cases
 * ------------------------------------------------------------------------ */

static const char *const golden_cases[] = {
	"identity_1", "identity_3", "logit", "softmax4", "logit_large",
	"softmax_large",
};

typedef struct golden {
	json_t *root;
	size_t nf, n_rows;
	double *x; /* n_rows x nf */
	const json_t *outputs;
} golden;

static void golden_read(golden *g, const char *dir, const char *name)
{
	char path[4096];
	const json_t *rows;
	json_error_t jerr;

	snprintf(path, sizeof path, "%s/%s/golden.json", dir, name);
	g->root = json_load_file(path, 0, &jerr);
	if (g->root == NULL)
		fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
	REQUIRE(g->root != NULL);
	g->nf = (size_t)json_number_value(json_need(g->root, "n_features",
	    JSON_REAL));
	rows = json_need(g->root, "inputs", JSON_ARRAY);
	g->n_rows = json_array_size(rows);
	g->outputs = json_need(g->root, "outputs", JSON_ARRAY);
	g->x = calloc(g->n_rows * g->nf + 1, sizeof *g->x);
	REQUIRE(g->x != NULL);
	for (size_t r = 0; r < g->n_rows; r++) {
		const json_t *row = json_array_get(rows, r);

		REQUIRE(json_is_array(row) && json_array_size(row) == g->nf);
		for (size_t j = 0; j < g->nf; j++)
			g->x[r * g->nf + j] =
			    json_number_value(json_array_get(row, j));
	}
}

/* Compare what the plugin wrote for rows [r0, r0 + n) with the golden
 * outputs, FP64 values within tol relative to max(1, |expected|). */
static void golden_compare(const golden *g, const corral_infer_ctx *ctx,
    size_t r0, size_t n, double tol, const char *what)
{
	const size_t n_out = json_array_size(g->outputs);

	CHECK_MSG(ctx->n == n_out, "%s: %zu outputs, golden has %zu",
	    what, ctx->n, n_out);
	CHECK_INT(ctx->bad_calls, 0);
	for (size_t i = 0; i < n_out; i++) {
		const json_t *gout = json_array_get(g->outputs, i);
		const char *name = json_string_value(json_need(gout, "name",
		    JSON_STRING));
		const char *dt = json_string_value(json_need(gout, "datatype",
		    JSON_STRING));
		const json_t *shape = json_need(gout, "shape", JSON_ARRAY);
		const json_t *data = json_need(gout, "data", JSON_ARRAY);
		const size_t rank = json_array_size(shape);
		size_t cols = rank == 2 ? (size_t)json_number_value(
		    json_array_get(shape, 1)) : 1;
		const test_output *o = test_ctx_find(ctx, name);

		CHECK_MSG(o != NULL, "%s: no output \"%s\"", what, name);
		if (o == NULL)
			continue;
		CHECK_STR(corral_dtype_name(o->dtype), dt);
		CHECK_INT(o->ndim, rank);
		/* A 1-D input is one row: its outputs are [1, ...] too. */
		CHECK_INT(o->shape[0], n);
		if (o->ndim == 2)
			CHECK_INT(o->shape[1], cols);
		if (o->ndim != rank || o->shape[0] != (int64_t)n ||
		    o->nbytes != n * cols * 8)
			continue;
		for (size_t r = 0; r < n; r++) {
			for (size_t c = 0; c < cols; c++) {
				double want = json_number_value(json_array_get(
				    data, (r0 + r) * cols + c));
				size_t at = (r * cols + c) * 8;

				if (o->dtype == CORRAL_DT_INT64) {
					int64_t got;

					memcpy(&got, o->data + at, sizeof got);
					CHECK_MSG(got == (int64_t)want, "%s: %s[%zu] "
					    "= %" PRId64 ", want %.0f", what, name,
					    r0 + r, got, want);
				} else {
					double got;

					memcpy(&got, o->data + at, sizeof got);
					CHECK_MSG(fabs(got - want) <= tol *
					    fmax(1.0, fabs(want)), "%s: %s[%zu][%zu] "
					    "= %.17g, want %.17g", what, name, r0 + r,
					    c, got, want);
				}
			}
		}
	}
}

static void check_signature(void *model, const golden *g, const char *name)
{
	corral_signature sig = { 0 };
	char err[256] = "";

	CHECK_INT(plugin->describe(model, &sig, err, sizeof err), CORRAL_PLUGIN_OK);
	CHECK_INT(sig.n_inputs, 1);
	if (sig.n_inputs == 1) {
		CHECK_STR(sig.inputs[0].name, "input");
		CHECK_INT(sig.inputs[0].dtype, CORRAL_DT_FP64);
		CHECK_INT(sig.inputs[0].also_accepts,
		    CORRAL_ACCEPTS(CORRAL_DT_FP32));
		CHECK_INT(sig.inputs[0].ndim, 2);
		if (sig.inputs[0].ndim == 2) {
			CHECK_INT(sig.inputs[0].shape[0], -1);
			CHECK_INT(sig.inputs[0].shape[1], g->nf);
		}
	}
	const size_t n_out = json_array_size(g->outputs);

	CHECK_MSG(sig.n_outputs == n_out, "%s: %zu declared outputs",
	    name, sig.n_outputs);
	for (size_t i = 0; i < sig.n_outputs && i < n_out; i++) {
		const json_t *gout = json_array_get(g->outputs, i);
		const json_t *shape = json_need(gout, "shape", JSON_ARRAY);
		const size_t rank = json_array_size(shape);

		CHECK_STR(sig.outputs[i].name, json_string_value(json_need(gout,
		    "name", JSON_STRING)));
		CHECK_STR(corral_dtype_name(sig.outputs[i].dtype),
		    json_string_value(json_need(gout, "datatype", JSON_STRING)));
		CHECK_INT(sig.outputs[i].ndim, rank);
		if (sig.outputs[i].ndim != rank)
			continue;
		CHECK_INT(sig.outputs[i].shape[0], -1);
		if (rank == 2)
			CHECK_INT(sig.outputs[i].shape[1],
			    json_number_value(json_array_get(shape, 1)));
	}
}

/* Infer rows [r0, r0 + n) and compare. */
static void run_rows(void *model, const golden *g, corral_dtype dtype,
    size_t r0, size_t n, uint32_t ndim, const char *name)
{
	corral_infer_ctx ctx = { 0 };
	test_input in;
	char err[256] = "", what[160];
	corral_plugin_error rc;

	snprintf(what, sizeof what, "%s %s rows %zu..%zu %uD", name,
	    corral_dtype_name(dtype), r0, r0 + n, ndim);
	input_make(&in, dtype, g->x + r0 * g->nf, (int64_t)n, g->nf, ndim);
	rc = plugin->infer(model, &ctx, &in.t, 1, err, sizeof err);
	CHECK_MSG(rc == CORRAL_PLUGIN_OK, "%s: infer = %d (%s)", what, rc, err);
	if (rc == CORRAL_PLUGIN_OK)
		golden_compare(g, &ctx, r0, n, dtype == CORRAL_DT_FP32 ? 1e-5 : 1e-12, what);
	test_ctx_reset(&ctx);
	free(in.mem);
}

static void run_case(const char *dir, const char *name)
{
	char path[4096], err[256] = "";
	golden g = { 0 };
	void *model;
	corral_plugin_error rc;

	golden_read(&g, dir, name);
	snprintf(path, sizeof path, "%s/%s/1", dir, name);
	rc = load_dir(path, &model, err, sizeof err);
	CHECK_MSG(rc == CORRAL_PLUGIN_OK, "%s: load = %d (%s)", name, rc, err);
	if (rc == CORRAL_PLUGIN_OK) {
		check_signature(model, &g, name);
		run_rows(model, &g, CORRAL_DT_FP64, 0, g.n_rows, 2, name);
		run_rows(model, &g, CORRAL_DT_FP32, 0, g.n_rows, 2, name);
		for (size_t r = 0; r < g.n_rows; r++) {
			run_rows(model, &g, CORRAL_DT_FP64, r, 1, 2, name);
			run_rows(model, &g, CORRAL_DT_FP64, r, 1, 1, name);
			run_rows(model, &g, CORRAL_DT_FP32, r, 1, 1, name);
		}
		run_rows(model, &g, CORRAL_DT_FP64, 2, 3, 2, name);
		run_rows(model, &g, CORRAL_DT_FP64, 0, 0, 2, name);
		run_rows(model, &g, CORRAL_DT_FP32, 0, 0, 2, name);
		plugin->unload(model);
	}
	free(g.x);
	json_decref(g.root);
}

/* ------------------------------------------------------------------------
 * Model files written on the fly
 * ------------------------------------------------------------------------ */

static char tmp_root[] = "/tmp/linear_test.XXXXXX";
static int tmp_count;

/* Write `json` as <tmp>/<n>/model.json; return that version dir. */
static const char *tmp_model(const char *json)
{
	static char dir[sizeof tmp_root + 32];
	char path[sizeof dir + 16];
	FILE *f;

	snprintf(dir, sizeof dir, "%s/%d", tmp_root, ++tmp_count);
	REQUIRE(mkdir(dir, 0700) == 0);
	snprintf(path, sizeof path, "%s/model.json", dir);
	f = fopen(path, "w");
	REQUIRE(f != NULL);
	REQUIRE(fputs(json, f) >= 0);
	REQUIRE(fclose(f) == 0);
	return dir;
}

static int tmp_rm(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

#define HEAD "\"format\": \"corral-linear\", \"format_version\": 1, "

static const struct bad_model {
	const char *json;
	corral_plugin_error rc;
	const char *says; /* a part of the message */
} bad_models[] = {
	{ "{" HEAD "\"link\": \"identity\"", CORRAL_PLUGIN_BAD_MODEL, "line" },
	{ "[1, 2]", CORRAL_PLUGIN_BAD_MODEL, "not an object" },
	{ "{\"format\": \"onnx\", \"format_version\": 1, \"link\": \"identity\", "
	  "\"coefficients\": [[1]], \"intercepts\": [0]}",
	  CORRAL_PLUGIN_BAD_MODEL, "onnx" },
	{ "{\"format_version\": 1, \"link\": \"identity\", "
	  "\"coefficients\": [[1]], \"intercepts\": [0]}",
	  CORRAL_PLUGIN_BAD_MODEL, "format" },
	{ "{\"format\": \"corral-linear\", \"format_version\": 2, \"link\": "
	  "\"identity\", \"coefficients\": [[1]], \"intercepts\": [0]}",
	  CORRAL_PLUGIN_BAD_MODEL, "format_version 2" },
	{ "{\"format\": \"corral-linear\", \"format_version\": \"1\", \"link\": "
	  "\"identity\", \"coefficients\": [[1]], \"intercepts\": [0]}",
	  CORRAL_PLUGIN_BAD_MODEL, "format_version" },
	{ "{" HEAD "\"coefficients\": [[1]], \"intercepts\": [0]}",
	  CORRAL_PLUGIN_BAD_MODEL, "link" },
	{ "{" HEAD "\"link\": \"probit\", \"coefficients\": [[1]], "
	  "\"intercepts\": [0]}", CORRAL_PLUGIN_BAD_MODEL, "probit" },
	{ "{" HEAD "\"link\": 3, \"coefficients\": [[1]], \"intercepts\": [0]}",
	  CORRAL_PLUGIN_BAD_MODEL, "link" },
	{ "{" HEAD "\"link\": \"identity\", \"coefficients\": [[1, 2], [3]], "
	  "\"intercepts\": [0, 0]}", CORRAL_PLUGIN_BAD_MODEL, "coefficients[1]" },
	{ "{" HEAD "\"link\": \"identity\", \"coefficients\": [[1, \"2\"]], "
	  "\"intercepts\": [0]}", CORRAL_PLUGIN_BAD_MODEL, "coefficients[0][1]" },
	{ "{" HEAD "\"link\": \"identity\", \"coefficients\": [[true]], "
	  "\"intercepts\": [0]}", CORRAL_PLUGIN_BAD_MODEL, "coefficients[0][0]" },
	{ "{" HEAD "\"link\": \"identity\", \"coefficients\": [[1], 2], "
	  "\"intercepts\": [0, 0]}", CORRAL_PLUGIN_BAD_MODEL, "coefficients[1]" },
	{ "{" HEAD "\"link\": \"identity\", \"coefficients\": [[1e999]], "
	  "\"intercepts\": [0]}", CORRAL_PLUGIN_BAD_MODEL, "model.json" },
	{ "{" HEAD "\"link\": \"identity\", \"coefficients\": [[1]], "
	  "\"intercepts\": [null]}", CORRAL_PLUGIN_BAD_MODEL, "intercepts[0]" },
	{ "{" HEAD "\"link\": \"identity\", \"coefficients\": [[1], [2]], "
	  "\"intercepts\": [0]}", CORRAL_PLUGIN_BAD_MODEL, "intercepts" },
	{ "{" HEAD "\"link\": \"identity\", \"coefficients\": [[1]]}",
	  CORRAL_PLUGIN_BAD_MODEL, "intercepts" },
	{ "{" HEAD "\"link\": \"identity\", \"intercepts\": [0]}",
	  CORRAL_PLUGIN_BAD_MODEL, "coefficients" },
	{ "{" HEAD "\"link\": \"identity\", \"coefficients\": [], "
	  "\"intercepts\": []}", CORRAL_PLUGIN_BAD_MODEL, "no rows" },
	{ "{" HEAD "\"link\": \"identity\", \"coefficients\": [[]], "
	  "\"intercepts\": [0]}", CORRAL_PLUGIN_BAD_MODEL, "feature" },
	{ "{" HEAD "\"link\": \"logit\", \"coefficients\": [[1], [2]], "
	  "\"intercepts\": [0, 0]}", CORRAL_PLUGIN_BAD_MODEL, "exactly 1" },
	{ "{" HEAD "\"link\": \"softmax\", \"coefficients\": [[1, 2]], "
	  "\"intercepts\": [0]}", CORRAL_PLUGIN_BAD_MODEL, "at least 2" },
	{ "{" HEAD "\"link\": \"identity\", \"feature_names\": [\"a\"], "
	  "\"coefficients\": [[1, 2]], \"intercepts\": [0]}",
	  CORRAL_PLUGIN_BAD_MODEL, "feature_names" },
	{ "{" HEAD "\"link\": \"identity\", \"feature_names\": [\"a\", 2], "
	  "\"coefficients\": [[1, 2]], \"intercepts\": [0]}",
	  CORRAL_PLUGIN_BAD_MODEL, "feature_names[1]" },
	{ "{" HEAD "\"link\": \"identity\", \"link\": \"logit\", "
	  "\"coefficients\": [[1]], \"intercepts\": [0]}",
	  CORRAL_PLUGIN_BAD_MODEL, "duplicate" },
};

static void test_load_errors(void)
{
	char err[256], path[sizeof tmp_root + 32];
	void *model;
	corral_plugin_error rc;

	snprintf(path, sizeof path, "%s/none", tmp_root);
	err[0] = '\0';
	CHECK_INT(load_dir(path, &model, err, sizeof err), CORRAL_PLUGIN_IO);
	CHECK_MSG(strstr(err, "model.json") != NULL, "IO message: \"%s\"", err);

	for (size_t i = 0; i < sizeof bad_models / sizeof bad_models[0]; i++) {
		const struct bad_model *b = &bad_models[i];

		err[0] = '\0';
		rc = load_dir(tmp_model(b->json), &model, err, sizeof err);
		CHECK_MSG(rc == b->rc, "bad model %zu: load = %d, want %d (%s)",
		    i, rc, b->rc, err);
		CHECK_MSG(strstr(err, b->says) != NULL, "bad model %zu: message "
		    "\"%s\" does not say \"%s\"", i, err, b->says);
		if (rc == CORRAL_PLUGIN_OK)
			plugin->unload(model);
	}

	/* A small buffer is filled and terminated, never overrun (ASan
	 * watches the exact-size heap block); no buffer at all is fine. */
	{
		const char *dir = tmp_model(bad_models[7].json);
		char *small = malloc(8);

		REQUIRE(small != NULL);
		CHECK_INT(load_dir(dir, &model, small, 8), CORRAL_PLUGIN_BAD_MODEL);
		CHECK_INT(strlen(small), 7);
		free(small);
		CHECK_INT(load_dir(dir, &model, NULL, 0), CORRAL_PLUGIN_BAD_MODEL);
	}

	/* A host table older than ABI 1.0. */
	{
		corral_host_api old = test_host;
		corral_load_args args = { .struct_size = sizeof args,
			.version_dir = path };

		old.struct_size = sizeof(uint32_t);
		err[0] = '\0';
		CHECK_INT(plugin->load(&old, &args, &model, err, sizeof err),
		    CORRAL_PLUGIN_INVALID_ARGUMENT);
		CHECK(err[0] != '\0');
	}
}

/* Unknown keys load (with a warning), integers are numbers. */
static void test_load_lenient(void)
{
	int warns = test_log_count[CORRAL_LOG_WARN];
	char err[256] = "";
	void *model;
	corral_plugin_error rc;

	rc = load_dir(tmp_model("{" HEAD "\"link\": \"identity\", \"comment\": "
	    "\"fitted 2024\", \"coefficients\": [[1, -2]], \"intercepts\": "
	    "[3]}"), &model, err, sizeof err);
	CHECK_MSG(rc == CORRAL_PLUGIN_OK, "lenient load = %d (%s)", rc, err);
	CHECK_INT(test_log_count[CORRAL_LOG_WARN], warns + 1);
	if (rc == CORRAL_PLUGIN_OK) {
		corral_infer_ctx ctx = { 0 };
		const double x[2] = { 0.5, 0.25 };
		test_input in;
		double got = 0;

		input_make(&in, CORRAL_DT_FP64, x, 1, 2, 2);
		CHECK_INT(plugin->infer(model, &ctx, &in.t, 1, err, sizeof err),
		    CORRAL_PLUGIN_OK);
		if (ctx.n == 1)
			memcpy(&got, ctx.out[0].data, sizeof got);
		CHECK_NEAR(got, 3.0, 0.0);
		test_ctx_reset(&ctx);
		free(in.mem);
		plugin->unload(model);
	}
}

/* Softmax ties go to the first of the tied classes. */
static void test_softmax_ties(void)
{
	static const struct {
		const char *json;
		int64_t label;
	} ties[] = {
		{ "{" HEAD "\"link\": \"softmax\", \"coefficients\": [[1, 2], "
		  "[1, 2], [0, 0]], \"intercepts\": [0, 0, -100]}", 0 },
		{ "{" HEAD "\"link\": \"softmax\", \"coefficients\": [[0, 0], "
		  "[1, 2], [1, 2]], \"intercepts\": [-100, 0, 0]}", 1 },
	};
	const double x[2] = { 1.5, -0.25 };

	for (size_t i = 0; i < 2; i++) {
		corral_infer_ctx ctx = { 0 };
		char err[256] = "";
		const test_output *label, *probs;
		test_input in;
		void *model;
		int64_t got = -1;
		double p[3] = { 0 };

		REQUIRE(load_dir(tmp_model(ties[i].json), &model, err,
		    sizeof err) == CORRAL_PLUGIN_OK);
		input_make(&in, CORRAL_DT_FP64, x, 1, 2, 2);
		CHECK_INT(plugin->infer(model, &ctx, &in.t, 1, err, sizeof err),
		    CORRAL_PLUGIN_OK);
		label = test_ctx_find(&ctx, "label");
		probs = test_ctx_find(&ctx, "probabilities");
		if (label != NULL && probs != NULL) {
			memcpy(&got, label->data, sizeof got);
			memcpy(p, probs->data, sizeof p);
		}
		CHECK_INT(got, ties[i].label);
		CHECK_NEAR(p[ties[i].label], 0.5, 1e-15);
		CHECK_NEAR(p[0] + p[1] + p[2], 1.0, 1e-15);
		test_ctx_reset(&ctx);
		free(in.mem);
		plugin->unload(model);
	}
}

/* ------------------------------------------------------------------------
 * Bad requests
 * ------------------------------------------------------------------------ */

static void expect_infer(void *model, corral_infer_ctx *ctx,
    const corral_tensor *in, size_t n, corral_plugin_error want,
    const char *says, const char *what)
{
	char err[256] = "";
	corral_plugin_error rc = plugin->infer(model, ctx, in, n, err, sizeof err);

	CHECK_MSG(rc == want, "%s: infer = %d, want %d (%s)", what, rc, want, err);
	CHECK_MSG(err[0] != '\0' && strstr(err, says) != NULL,
	    "%s: message \"%s\" does not say \"%s\"", what, err, says);
	test_ctx_reset(ctx);
}

static void test_infer_errors(const char *dir)
{
	const double x[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	corral_infer_ctx ctx = { 0 };
	char path[4096], err[256] = "";
	test_input in;
	corral_tensor t;
	int64_t shape3[3] = { 1, 1, 4 };
	void *model;

	snprintf(path, sizeof path, "%s/logit/1", dir);
	REQUIRE(load_dir(path, &model, err, sizeof err) == CORRAL_PLUGIN_OK);
	input_make(&in, CORRAL_DT_FP64, x, 2, 4, 2);

	t = in.t;
	t.shape = (int64_t[]){ 1, 5 };
	t.nbytes = 5 * sizeof(double);
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "[N, 4]", "5 features");
	t = in.t;
	t.shape = (int64_t[]){ 3 };
	t.ndim = 1;
	t.nbytes = 3 * sizeof(double);
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "[4]", "1-D of 3");
	t = in.t;
	t.dtype = CORRAL_DT_INT32;
	t.nbytes = 8 * 4;
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "input must be FP32 or FP64", "INT32");
	t = in.t;
	t.ndim = 3;
	t.shape = shape3;
	t.nbytes = 4 * sizeof(double);
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "[1, 1, 4]", "3-D");
	t = in.t;
	t.ndim = 0;
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "[N, 4]", "scalar");
	t = in.t;
	t.nbytes -= 1;
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "bytes", "short data");
	t = in.t;
	t.data = NULL;
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "bytes", "no data");
	t = in.t;
	t.name = "features";
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "features", "wrong name");
	expect_infer(model, &ctx, &in.t, 0, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "got 0", "no inputs");
	{
		corral_tensor two[2] = { in.t, in.t };

		expect_infer(model, &ctx, two, 2, CORRAL_PLUGIN_INVALID_ARGUMENT,
		    "got 2", "two inputs");
	}
	{
		double bad[8];
		test_input nan_in;

		memcpy(bad, x, sizeof bad);
		bad[6] = NAN;
		input_make(&nan_in, CORRAL_DT_FP64, bad, 2, 4, 2);
		expect_infer(model, &ctx, &nan_in.t, 1,
		    CORRAL_PLUGIN_INVALID_ARGUMENT, "row 1, feature 2", "NaN");
		free(nan_in.mem);
		bad[6] = INFINITY;
		input_make(&nan_in, CORRAL_DT_FP32, bad, 2, 4, 2);
		expect_infer(model, &ctx, &nan_in.t, 1,
		    CORRAL_PLUGIN_INVALID_ARGUMENT, "finite", "FP32 inf");
		free(nan_in.mem);
	}
	ctx.fail_alloc = 1;
	expect_infer(model, &ctx, &in.t, 1, CORRAL_PLUGIN_NO_MEMORY,
	    "probability", "output_alloc fails");

	/* After all that, a good request still works. */
	CHECK_INT(plugin->infer(model, &ctx, &in.t, 1, err, sizeof err),
	    CORRAL_PLUGIN_OK);
	CHECK_INT(ctx.n, 2);
	test_ctx_reset(&ctx);
	free(in.mem);
	plugin->unload(model);
}

/* ------------------------------------------------------------------------ */

static void test_descriptor(void)
{
	/* magic, abi_major, struct_size and name: test_plugin_open. */
	CHECK(plugin->abi_minor <= CORRAL_PLUGIN_ABI_MINOR);
	CHECK(plugin->struct_size >= CORRAL_PLUGIN_SIZE_1_0);
	CHECK_STR(plugin->version, "1.0.0");
	CHECK(plugin->load != NULL && plugin->describe != NULL &&
	    plugin->infer != NULL && plugin->unload != NULL);
	CHECK(plugin->extra_syscalls == NULL);
}

int main(int argc, char **argv)
{
	corral_plugin_entry_fn entry;
	void *so;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PATH/linear.so GOLDEN_DIR\n", argv[0]);
		return 2;
	}
	test_log_verbose = getenv("LINEAR_TEST_VERBOSE") != NULL;
	plugin = test_plugin_open(argv[1], "linear", &so, &entry);
	REQUIRE(plugin->magic == CORRAL_PLUGIN_MAGIC);
	CHECK(entry() == plugin);
	/* Nothing but the entry point is exported. */
	CHECK(dlsym(so, "linear_params_read") == NULL);
	CHECK(dlsym(so, "linear_errf") == NULL);
	test_descriptor();

	for (size_t i = 0; i < sizeof golden_cases / sizeof golden_cases[0]; i++)
		run_case(argv[2], golden_cases[i]);

	REQUIRE(mkdtemp(tmp_root) != NULL);
	test_load_errors();
	test_load_lenient();
	test_softmax_ties();
	test_infer_errors(argv[2]);
	nftw(tmp_root, tmp_rm, 16, FTW_DEPTH | FTW_PHYS);

	CHECK(test_log_count[CORRAL_LOG_INFO] > 0);
	dlclose(so);
	TEST_MAIN_END();
}
