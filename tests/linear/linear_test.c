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
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <corral/plugin.h>

#include "test.h"

/* ------------------------------------------------------------------------
 * A small JSON reader, for golden.json (the test links no JSON library)
 * ------------------------------------------------------------------------ */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
	jtype type;
	double num;          /* J_NUM, J_BOOL */
	char *str;           /* J_STR */
	char *key;           /* the member name, inside a J_OBJ */
	struct jval *items;  /* J_ARR, J_OBJ */
	size_t n;
} jval;

typedef struct jparser {
	const char *s;
	int failed;
} jparser;

static void json_free(jval *v)
{
	for (size_t i = 0; i < v->n; i++)
		json_free(&v->items[i]);
	free(v->items);
	free(v->str);
	free(v->key);
	memset(v, 0, sizeof *v);
}

static void json_ws(jparser *p)
{
	while (*p->s == ' ' || *p->s == '\n' || *p->s == '\r' || *p->s == '\t')
		p->s++;
}

static char *json_string(jparser *p)
{
	size_t cap = 16, len = 0;
	char *out = malloc(cap);

	REQUIRE(out != NULL);
	p->s++; /* the opening quote */
	while (*p->s != '"') {
		char c = *p->s++;

		if (c == '\0') {
			p->failed = 1;
			break;
		}
		if (c == '\\') {
			c = *p->s++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': /* not in golden files: keep a marker */
				for (int i = 0; i < 4 && *p->s; i++)
					p->s++;
				c = '?';
				break;
			case '\0': p->failed = 1; p->s--; c = '?'; break;
			default: break; /* \" \\ \/ */
			}
		}
		if (len + 2 > cap) {
			cap *= 2;
			out = realloc(out, cap);
			REQUIRE(out != NULL);
		}
		out[len++] = c;
	}
	if (*p->s == '"')
		p->s++;
	out[len] = '\0';
	return out;
}

static void json_value(jparser *p, jval *v, int depth);

static jval *json_push(jval *v)
{
	v->items = realloc(v->items, (v->n + 1) * sizeof *v->items);
	REQUIRE(v->items != NULL);
	memset(&v->items[v->n], 0, sizeof *v->items);
	return &v->items[v->n++];
}

static void json_value(jparser *p, jval *v, int depth)
{
	char *end;

	json_ws(p);
	if (depth > 32) {
		p->failed = 1;
		return;
	}
	if (*p->s == '{' || *p->s == '[') {
		char close = *p->s == '{' ? '}' : ']';

		v->type = *p->s == '{' ? J_OBJ : J_ARR;
		p->s++;
		json_ws(p);
		if (*p->s == close) {
			p->s++;
			return;
		}
		while (!p->failed) {
			jval *item = json_push(v);

			json_ws(p);
			if (v->type == J_OBJ) {
				if (*p->s != '"') {
					p->failed = 1;
					return;
				}
				item->key = json_string(p);
				json_ws(p);
				if (*p->s++ != ':') {
					p->failed = 1;
					return;
				}
			}
			json_value(p, item, depth + 1);
			json_ws(p);
			if (*p->s == ',') {
				p->s++;
			} else if (*p->s == close) {
				p->s++;
				return;
			} else {
				p->failed = 1;
			}
		}
	} else if (*p->s == '"') {
		v->type = J_STR;
		v->str = json_string(p);
	} else if (strncmp(p->s, "true", 4) == 0) {
		v->type = J_BOOL, v->num = 1, p->s += 4;
	} else if (strncmp(p->s, "false", 5) == 0) {
		v->type = J_BOOL, v->num = 0, p->s += 5;
	} else if (strncmp(p->s, "null", 4) == 0) {
		v->type = J_NULL, p->s += 4;
	} else {
		v->type = J_NUM;
		v->num = strtod(p->s, &end);
		if (end == p->s)
			p->failed = 1;
		p->s = end;
	}
}

/* The whole file at `path`, parsed; REQUIREs success. */
static jval json_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	jparser p = { 0 };
	jval v = { 0 };
	char *text;
	long size;

	if (f == NULL)
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
	REQUIRE(f != NULL);
	REQUIRE(fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0);
	rewind(f);
	text = malloc((size_t)size + 1);
	REQUIRE(text != NULL);
	REQUIRE(fread(text, 1, (size_t)size, f) == (size_t)size);
	text[size] = '\0';
	fclose(f);
	p.s = text;
	json_value(&p, &v, 0);
	json_ws(&p);
	if (p.failed || *p.s != '\0')
		fprintf(stderr, "%s: bad JSON near offset %td\n", path, p.s - text);
	REQUIRE(!p.failed && *p.s == '\0');
	free(text);
	return v;
}

static const jval *json_get(const jval *obj, const char *key)
{
	for (size_t i = 0; obj->type == J_OBJ && i < obj->n; i++)
		if (strcmp(obj->items[i].key, key) == 0)
			return &obj->items[i];
	return NULL;
}

/* A member that must be there, of the given type. */
static const jval *json_need(const jval *obj, const char *key, jtype type)
{
	const jval *v = json_get(obj, key);

	if (v == NULL || v->type != type)
		fprintf(stderr, "golden: \"%s\" missing or mistyped\n", key);
	REQUIRE(v != NULL && v->type == type);
	return v;
}

/* ------------------------------------------------------------------------
 * The test host
 * ------------------------------------------------------------------------ */

#define TEST_MAX_OUTPUTS 4

typedef struct test_output {
	char name[64];
	corral_dtype dtype;
	uint32_t ndim;
	int64_t shape[CORRAL_MAX_DIMS];
	unsigned char *mem;  /* malloc'd */
	unsigned char *data; /* mem + 1: deliberately misaligned */
	size_t nbytes;
} test_output;

struct corral_infer_ctx {
	test_output out[TEST_MAX_OUTPUTS];
	size_t n;
	int fail_alloc; /* make output_alloc answer NULL */
	int bad_calls;  /* calls that broke output_alloc's contract */
};

/* output_alloc as the ABI describes it: NULL for a repeated name, a bad
 * shape, BYTES or no memory. Zero elements get a valid (empty) buffer. */
static void *test_output_alloc(corral_infer_ctx *ctx, const char *name,
    corral_dtype dtype, uint32_t ndim, const int64_t *shape)
{
	test_output *o;
	int64_t elements;

	if (ctx->fail_alloc)
		return NULL;
	if (name == NULL || strlen(name) >= sizeof o->name ||
	    ctx->n == TEST_MAX_OUTPUTS || ndim > CORRAL_MAX_DIMS ||
	    corral_dtype_size(dtype) == 0 ||
	    (elements = corral_shape_elements(shape, ndim)) < 0) {
		ctx->bad_calls++;
		return NULL;
	}
	for (size_t i = 0; i < ctx->n; i++) {
		if (strcmp(ctx->out[i].name, name) == 0) {
			ctx->bad_calls++;
			return NULL;
		}
	}
	o = &ctx->out[ctx->n++];
	memset(o, 0, sizeof *o);
	snprintf(o->name, sizeof o->name, "%s", name);
	o->dtype = dtype;
	o->ndim = ndim;
	memcpy(o->shape, shape, ndim * sizeof *shape);
	o->nbytes = (size_t)elements * corral_dtype_size(dtype);
	o->mem = malloc(o->nbytes + 1);
	REQUIRE(o->mem != NULL);
	o->data = o->mem + 1;
	return o->data;
}

static void ctx_reset(corral_infer_ctx *ctx)
{
	for (size_t i = 0; i < ctx->n; i++)
		free(ctx->out[i].mem);
	memset(ctx, 0, sizeof *ctx);
}

static const test_output *ctx_find(const corral_infer_ctx *ctx,
    const char *name)
{
	for (size_t i = 0; i < ctx->n; i++)
		if (strcmp(ctx->out[i].name, name) == 0)
			return &ctx->out[i];
	return NULL;
}

static int test_log_count[CORRAL_LOG_DEBUG + 1];

static void test_log(int level, const char *msg)
{
	if (level >= 0 && level <= CORRAL_LOG_DEBUG)
		test_log_count[level]++;
	if (getenv("LINEAR_TEST_VERBOSE"))
		fprintf(stderr, "log %d: %s\n", level, msg);
}

static const corral_host_api test_host = {
	.struct_size = sizeof(corral_host_api),
	.output_alloc = test_output_alloc,
	.log = test_log,
};

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
	jval root;
	size_t nf, n_rows;
	double *x; /* n_rows x nf */
	const jval *outputs;
} golden;

static void golden_read(golden *g, const char *dir, const char *name)
{
	char path[4096];
	const jval *rows;

	snprintf(path, sizeof path, "%s/%s/golden.json", dir, name);
	g->root = json_read_file(path);
	g->nf = (size_t)json_need(&g->root, "n_features", J_NUM)->num;
	rows = json_need(&g->root, "inputs", J_ARR);
	g->n_rows = rows->n;
	g->outputs = json_need(&g->root, "outputs", J_ARR);
	g->x = calloc(g->n_rows * g->nf + 1, sizeof *g->x);
	REQUIRE(g->x != NULL);
	for (size_t r = 0; r < g->n_rows; r++) {
		REQUIRE(rows->items[r].type == J_ARR && rows->items[r].n == g->nf);
		for (size_t j = 0; j < g->nf; j++)
			g->x[r * g->nf + j] = rows->items[r].items[j].num;
	}
}

/* Compare what the plugin wrote for rows [r0, r0 + n) with the golden
 * outputs, FP64 values within tol relative to max(1, |expected|). */
static void golden_compare(const golden *g, const corral_infer_ctx *ctx,
    size_t r0, size_t n, double tol, const char *what)
{
	CHECK_MSG(ctx->n == g->outputs->n, "%s: %zu outputs, golden has %zu",
	    what, ctx->n, g->outputs->n);
	CHECK_INT(ctx->bad_calls, 0);
	for (size_t i = 0; i < g->outputs->n; i++) {
		const jval *gout = &g->outputs->items[i];
		const char *name = json_need(gout, "name", J_STR)->str;
		const char *dt = json_need(gout, "datatype", J_STR)->str;
		const jval *shape = json_need(gout, "shape", J_ARR);
		const jval *data = json_need(gout, "data", J_ARR);
		size_t cols = shape->n == 2 ? (size_t)shape->items[1].num : 1;
		const test_output *o = ctx_find(ctx, name);

		CHECK_MSG(o != NULL, "%s: no output \"%s\"", what, name);
		if (o == NULL)
			continue;
		CHECK_STR(corral_dtype_name(o->dtype), dt);
		CHECK_INT(o->ndim, shape->n);
		/* A 1-D input is one row: its outputs are [1, ...] too. */
		CHECK_INT(o->shape[0], n);
		if (o->ndim == 2)
			CHECK_INT(o->shape[1], cols);
		if (o->ndim != shape->n || o->shape[0] != (int64_t)n ||
		    o->nbytes != n * cols * 8)
			continue;
		for (size_t r = 0; r < n; r++) {
			for (size_t c = 0; c < cols; c++) {
				double want = data->items[(r0 + r) * cols + c].num;
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
	CHECK_MSG(sig.n_outputs == g->outputs->n, "%s: %zu declared outputs",
	    name, sig.n_outputs);
	for (size_t i = 0; i < sig.n_outputs && i < g->outputs->n; i++) {
		const jval *gout = &g->outputs->items[i];
		const jval *shape = json_need(gout, "shape", J_ARR);

		CHECK_STR(sig.outputs[i].name, json_need(gout, "name", J_STR)->str);
		CHECK_STR(corral_dtype_name(sig.outputs[i].dtype),
		    json_need(gout, "datatype", J_STR)->str);
		CHECK_INT(sig.outputs[i].ndim, shape->n);
		if (sig.outputs[i].ndim != shape->n)
			continue;
		CHECK_INT(sig.outputs[i].shape[0], -1);
		if (shape->n == 2)
			CHECK_INT(sig.outputs[i].shape[1], shape->items[1].num);
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
	ctx_reset(&ctx);
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
	json_free(&g.root);
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
		ctx_reset(&ctx);
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
		label = ctx_find(&ctx, "label");
		probs = ctx_find(&ctx, "probabilities");
		if (label != NULL && probs != NULL) {
			memcpy(&got, label->data, sizeof got);
			memcpy(p, probs->data, sizeof p);
		}
		CHECK_INT(got, ties[i].label);
		CHECK_NEAR(p[ties[i].label], 0.5, 1e-15);
		CHECK_NEAR(p[0] + p[1] + p[2], 1.0, 1e-15);
		ctx_reset(&ctx);
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
	ctx_reset(ctx);
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
	ctx_reset(&ctx);
	free(in.mem);
	plugin->unload(model);
}

/* ------------------------------------------------------------------------ */

static void test_descriptor(void)
{
	CHECK_INT(plugin->magic, CORRAL_PLUGIN_MAGIC);
	CHECK_INT(plugin->abi_major, CORRAL_PLUGIN_ABI_MAJOR);
	CHECK(plugin->abi_minor <= CORRAL_PLUGIN_ABI_MINOR);
	CHECK_INT(plugin->struct_size, sizeof(corral_plugin));
	CHECK(plugin->struct_size >= CORRAL_PLUGIN_SIZE_1_0);
	CHECK_STR(plugin->name, "linear");
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
	so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (so == NULL)
		fprintf(stderr, "dlopen: %s\n", dlerror());
	REQUIRE(so != NULL);
	/* dlsym returns void *; POSIX guarantees the conversion works. */
	*(void **)&entry = dlsym(so, CORRAL_PLUGIN_ENTRY_NAME);
	REQUIRE(entry != NULL);
	plugin = entry();
	REQUIRE(plugin != NULL && plugin->magic == CORRAL_PLUGIN_MAGIC);
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
