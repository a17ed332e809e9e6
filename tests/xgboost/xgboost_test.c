/*
 * xgboost_test.c - the xgboost plugin, in process, against XGBoost's own
 * predictions (gen_xgb_models.py).
 *
 * usage: xgboost_test PATH/xgboost.so MODELS_DIR
 *
 * Plays the host: dlopens the plugin, checks its descriptor, then for every
 * case, model format (JSON, UBJSON, legacy binary) and run (default,
 * output_margin, iteration range, missing value) loads the model with the
 * run's parameters, checks the signature, and predicts the case's rows as
 * a batch, one by one (2-D and 1-D), a slice and zero rows, in FP32 and
 * FP64, from aligned and misaligned buffers (XGBoost itself refuses
 * misaligned ones). Then the errors: model files at load, parameters, bad
 * tensors at infer; and that no thread is created after load.
 */
#include <dirent.h>
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
#include "test_host.h"
#include "xgb_cases.h"

static const corral_plugin *plugin;

#define TEST_MAX_PARAMS 8

/* Load the model in `dir` with the string parameters of a JSON object
 * (may be NULL) plus `extra` ("key", "value", ..., NULL). */
static corral_plugin_error load_dir(const char *dir, const json_t *params,
    void **model, char *err, size_t errlen, ...)
{
	corral_param p[TEST_MAX_PARAMS];
	size_t n = 0;
	va_list ap;
	const char *k;
	const json_t *v;

	json_object_foreach((json_t *)params, k, v) {
		REQUIRE(n < TEST_MAX_PARAMS && json_is_string(v));
		p[n++] = (corral_param){ k, json_string_value(v) };
	}
	va_start(ap, errlen);
	while ((k = va_arg(ap, const char *)) != NULL) {
		REQUIRE(n < TEST_MAX_PARAMS);
		p[n].key = k;
		p[n++].value = va_arg(ap, const char *);
	}
	va_end(ap);

	corral_load_args args = {
		.struct_size = sizeof args,
		.model_name = "xgb",
		.model_version = 1,
		.version_dir = dir,
		.params = p,
		.n_params = n,
	};
	*model = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	return plugin->load(&test_host, &args, model, err, errlen);
}

/* An input tensor of `n_rows` x `nf` values from `x`, in FP64 or FP32,
 * `offset` bytes past a malloc'd (so aligned) address. ndim 1 makes a
 * single row [nf]. */
typedef struct test_input {
	corral_tensor t;
	int64_t shape[3];
	unsigned char *mem;
} test_input;

static void input_make(test_input *in, corral_dtype dtype, const double *x,
    int64_t n_rows, size_t nf, uint32_t ndim, size_t offset)
{
	size_t n = (size_t)n_rows * nf, esize = corral_dtype_size(dtype);

	memset(in, 0, sizeof *in);
	in->mem = malloc(n * esize + offset + 1);
	REQUIRE(in->mem != NULL);
	for (size_t i = 0; i < n; i++) {
		if (dtype == CORRAL_DT_FP32) {
			float f = (float)x[i];
			memcpy(in->mem + offset + i * esize, &f, sizeof f);
		} else {
			memcpy(in->mem + offset + i * esize, &x[i], sizeof x[i]);
		}
	}
	if (ndim == 1) {
		in->shape[0] = (int64_t)nf;
	} else {
		in->shape[0] = n_rows;
		in->shape[1] = (int64_t)nf;
	}
	in->t = (corral_tensor){ .name = "input", .dtype = dtype, .ndim = ndim,
		.shape = in->shape, .data = n ? in->mem + offset : NULL,
		.nbytes = n * esize };
}

/* Threads of this process, from /proc/self/task. */
static int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	REQUIRE(d != NULL);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* ------------------------------------------------------------------------
 * Golden cases
 * ------------------------------------------------------------------------ */

/* Infer rows [r0, r0 + n) and compare. */
static void run_rows(void *model, const xcase *c, const json_t *want_out,
    corral_dtype dtype, size_t r0, size_t n, uint32_t ndim, size_t offset,
    const char *label)
{
	corral_infer_ctx ctx = { 0 };
	test_input in;
	char err[256] = "", what[256], why[512] = "";
	corral_plugin_error rc;

	snprintf(what, sizeof what, "%s %s rows %zu..%zu %uD +%zu", label,
	    corral_dtype_name(dtype), r0, r0 + n, ndim, offset);
	input_make(&in, dtype, c->x + r0 * c->nf, (int64_t)n, c->nf, ndim,
	    offset);
	rc = plugin->infer(model, &ctx, &in.t, 1, err, sizeof err);
	CHECK_MSG(rc == CORRAL_PLUGIN_OK, "%s: infer = %d (%s)", what, rc, err);
	if (rc == CORRAL_PLUGIN_OK) {
		CHECK_MSG(ctx.n == 1, "%s: %zu outputs, want 1", what, ctx.n);
		CHECK_INT(ctx.bad_calls, 0);
		if (ctx.n == 1) {
			const test_output *o = &ctx.out[0];
			corral_tensor got = { .name = o->name, .dtype = o->dtype,
				.ndim = o->ndim, .shape = o->shape,
				.data = o->data, .nbytes = o->nbytes };

			CHECK_MSG(case_compare(c, want_out, &got, r0, n, why,
			    sizeof why) == 0, "%s: %s", what, why);
		}
	}
	test_ctx_reset(&ctx);
	free(in.mem);
}

static void check_signature(void *model, const xcase *c,
    const json_t *want_out, const char *label)
{
	corral_signature sig = { 0 };
	const json_t *shape = json_need(want_out, "shape", JSON_ARRAY);
	const size_t rank = json_array_size(shape);
	char err[256] = "";

	CHECK_INT(plugin->describe(model, &sig, err, sizeof err), CORRAL_PLUGIN_OK);
	CHECK_INT(sig.n_inputs, 1);
	if (sig.n_inputs == 1) {
		CHECK_STR(sig.inputs[0].name, "input");
		CHECK_INT(sig.inputs[0].dtype, CORRAL_DT_FP32);
		CHECK_INT(sig.inputs[0].also_accepts,
		    CORRAL_ACCEPTS(CORRAL_DT_FP64));
		CHECK_INT(sig.inputs[0].ndim, 2);
		if (sig.inputs[0].ndim == 2) {
			CHECK_INT(sig.inputs[0].shape[0], -1);
			CHECK_INT(sig.inputs[0].shape[1], c->nf);
		}
	}
	CHECK_MSG(sig.n_outputs == 1, "%s: %zu declared outputs", label,
	    sig.n_outputs);
	if (sig.n_outputs != 1)
		return;
	CHECK_STR(sig.outputs[0].name, json_need_str(want_out, "name"));
	CHECK_INT(sig.outputs[0].dtype, CORRAL_DT_FP32);
	CHECK_INT(sig.outputs[0].ndim, rank);
	if (sig.outputs[0].ndim != rank)
		return;
	for (size_t d = 0; d < rank; d++)
		CHECK_INT(sig.outputs[0].shape[d],
		    json_num(json_array_get(shape, d)));
}

static void run_case(const char *dir, const char *name)
{
	xcase c = { 0 };

	case_read(&c, dir, name);
	for (size_t f = 0; f < json_array_size(c.formats); f++) {
		const char *fmt = json_string_value(json_array_get(c.formats, f));
		char path[4096], err[256];

		snprintf(path, sizeof path, "%s/%s/%s/1", dir, name, fmt);
		for (size_t r = 0; r < json_array_size(c.runs); r++) {
			const json_t *run = json_array_get(c.runs, r);
			const json_t *want = json_need(run, "output", JSON_OBJECT);
			char label[160];
			void *model;
			corral_plugin_error rc;

			snprintf(label, sizeof label, "%.64s/%.8s/%.64s", name, fmt,
			    json_need_str(run, "name"));
			rc = load_dir(path, json_need(run, "params", JSON_OBJECT),
			    &model, err, sizeof err, NULL);
			CHECK_MSG(rc == CORRAL_PLUGIN_OK, "%s: load = %d (%s)",
			    label, rc, err);
			if (rc != CORRAL_PLUGIN_OK)
				continue;
			check_signature(model, &c, want, label);
			/* The whole batch: aligned, and misaligned by one byte
			 * and (FP64) by half an element. */
			run_rows(model, &c, want, CORRAL_DT_FP32, 0, c.n_rows, 2, 0, label);
			run_rows(model, &c, want, CORRAL_DT_FP32, 0, c.n_rows, 2, 1, label);
			run_rows(model, &c, want, CORRAL_DT_FP64, 0, c.n_rows, 2, 0, label);
			run_rows(model, &c, want, CORRAL_DT_FP64, 0, c.n_rows, 2, 1, label);
			run_rows(model, &c, want, CORRAL_DT_FP64, 0, c.n_rows, 2, 4, label);
			for (size_t i = 0; i < c.n_rows; i++) {
				run_rows(model, &c, want, CORRAL_DT_FP32, i, 1, 2,
				    i % 4, label);
				run_rows(model, &c, want, CORRAL_DT_FP64, i, 1,
				    i % 2 ? 1 : 2, i % 3 ? 0 : 3, label);
			}
			run_rows(model, &c, want, CORRAL_DT_FP32, 2, 5, 2, 2, label);
			run_rows(model, &c, want, CORRAL_DT_FP32, 0, 0, 2, 0, label);
			run_rows(model, &c, want, CORRAL_DT_FP64, 0, 0, 2, 1, label);
			plugin->unload(model);
		}
	}
	case_free(&c);
}

/* The legacy binary format holds no feature names; JSON and UBJSON do,
 * and the plugin names them in the log. */
static void test_feature_names(const char *dir)
{
	static const char *const fmts[] = { "json", "ubj" };
	char path[4096], err[256];
	void *model;

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/binary_logistic/%s/1", dir, fmts[i]);
		test_log_last[CORRAL_LOG_INFO][0] = '\0';
		REQUIRE(load_dir(path, NULL, &model, err, sizeof err, NULL) ==
		    CORRAL_PLUGIN_OK);
		CHECK_MSG(strstr(test_log_last[CORRAL_LOG_INFO],
		    "feature names: age, income, tenure, score, visits") != NULL,
		    "feature names logged: \"%s\"", test_log_last[CORRAL_LOG_INFO]);
		plugin->unload(model);
	}
}

/* ------------------------------------------------------------------------
 * Load errors
 * ------------------------------------------------------------------------ */

static char tmp_root[] = "/tmp/xgboost_test.XXXXXX";
static int tmp_count;

/* A new empty version folder under tmp_root. */
static const char *tmp_dir(void)
{
	static char dir[sizeof tmp_root + 32];

	snprintf(dir, sizeof dir, "%s/%d", tmp_root, ++tmp_count);
	REQUIRE(mkdir(dir, 0700) == 0);
	return dir;
}

static void write_file(const char *dir, const char *name, const void *data,
    size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	REQUIRE(f != NULL);
	REQUIRE(len == 0 || fwrite(data, 1, len, f) == len);
	REQUIRE(fclose(f) == 0);
}

/* The bytes of a file, malloc'd. */
static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long size;

	REQUIRE(f != NULL);
	REQUIRE(fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0);
	rewind(f);
	buf = malloc((size_t)size);
	REQUIRE(buf != NULL);
	REQUIRE(fread(buf, 1, (size_t)size, f) == (size_t)size);
	fclose(f);
	*len = (size_t)size;
	return buf;
}

static int tmp_rm(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void expect_load(const char *dir, corral_plugin_error want,
    const char *says, const char *what, ...)
{
	corral_param p[TEST_MAX_PARAMS];
	size_t n = 0;
	va_list ap;
	const char *k;
	char err[512] = "";
	void *model = NULL;
	corral_plugin_error rc;

	va_start(ap, what);
	while ((k = va_arg(ap, const char *)) != NULL) {
		REQUIRE(n < TEST_MAX_PARAMS);
		p[n].key = k;
		p[n++].value = va_arg(ap, const char *);
	}
	va_end(ap);
	corral_load_args args = { .struct_size = sizeof args,
		.model_name = "bad", .model_version = 1, .version_dir = dir,
		.params = p, .n_params = n };
	rc = plugin->load(&test_host, &args, &model, err, sizeof err);
	CHECK_MSG(rc == want, "%s: load = %d, want %d (%s)", what, rc, want, err);
	if (getenv("XGBOOST_TEST_VERBOSE"))
		fprintf(stderr, "load error %s: %d %s\n", what, rc, err);
	CHECK_MSG(strstr(err, says) != NULL, "%s: message \"%s\" does not say "
	    "\"%s\"", what, err, says);
	CHECK_MSG(strchr(err, '\n') == NULL, "%s: message is one line: \"%s\"",
	    what, err);
	CHECK_MSG(rc == CORRAL_PLUGIN_OK || strncmp(err, "xgboost: ", 9) == 0,
	    "%s: message \"%s\" does not start with \"xgboost: \"", what, err);
	if (rc == CORRAL_PLUGIN_OK)
		plugin->unload(model);
}

static void test_load_errors(const char *models)
{
	char good[4096], path[4096];
	unsigned char *json, *ubj, *bin;
	size_t json_len, ubj_len, bin_len;
	const char *dir;
	static const unsigned char noise[] = {
		0x00, 0xff, 0x13, 0x37, 0x42, 0x7b, 0x4c, 0x00, 0x00, 0x00, 0x05,
		0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xde, 0xad,
	};

	snprintf(good, sizeof good, "%s/reg_squarederror/json/1/model.json", models);
	json = read_file(good, &json_len);
	snprintf(path, sizeof path, "%s/reg_squarederror/ubj/1/model.ubj", models);
	ubj = read_file(path, &ubj_len);
	snprintf(path, sizeof path, "%s/reg_squarederror/bin/1/model.bin", models);
	bin = read_file(path, &bin_len);

	/* No model file at all, or no folder. */
	dir = tmp_dir();
	write_file(dir, "README", "x", 1);
	expect_load(dir, CORRAL_PLUGIN_IO, "model.json, model.ubj, model.bin "
	    "or model.xgb", "empty folder", NULL);
	snprintf(path, sizeof path, "%s/none", tmp_root);
	expect_load(path, CORRAL_PLUGIN_IO, "no model file", "no folder", NULL);

	/* Two model files: which one is meant? */
	dir = tmp_dir();
	write_file(dir, "model.json", json, json_len);
	write_file(dir, "model.ubj", ubj, ubj_len);
	expect_load(dir, CORRAL_PLUGIN_BAD_MODEL, "exactly one", "json + ubj", NULL);
	dir = tmp_dir();
	write_file(dir, "model.bin", bin, bin_len);
	write_file(dir, "model.xgb", bin, bin_len);
	expect_load(dir, CORRAL_PLUGIN_BAD_MODEL, "model.bin and model.xgb",
	    "bin + xgb", NULL);

	/* A model "file" that is a folder. */
	dir = tmp_dir();
	snprintf(path, sizeof path, "%s/model.ubj", dir);
	REQUIRE(mkdir(path, 0700) == 0);
	expect_load(dir, CORRAL_PLUGIN_IO, "not a regular file", "folder", NULL);

	/* Garbage, empty and truncated files of every format. */
	{
		static const char *const names[] = { "model.json", "model.ubj",
			"model.bin", "model.xgb" };
		const unsigned char *real[] = { json, ubj, bin, bin };
		size_t real_len[] = { json_len, ubj_len, bin_len, bin_len };

		for (size_t i = 0; i < 4; i++) {
			char what[64];

			snprintf(what, sizeof what, "noise in %s", names[i]);
			dir = tmp_dir();
			write_file(dir, names[i], noise, sizeof noise);
			expect_load(dir, CORRAL_PLUGIN_BAD_MODEL, "cannot load",
			    what, NULL);

			snprintf(what, sizeof what, "empty %s", names[i]);
			dir = tmp_dir();
			write_file(dir, names[i], "", 0);
			expect_load(dir, CORRAL_PLUGIN_BAD_MODEL, "cannot load",
			    what, NULL);

			snprintf(what, sizeof what, "half of %s", names[i]);
			dir = tmp_dir();
			write_file(dir, names[i], real[i], real_len[i] / 2);
			expect_load(dir, CORRAL_PLUGIN_BAD_MODEL, "cannot load",
			    what, NULL);

			snprintf(what, sizeof what, "%s less its last byte", names[i]);
			dir = tmp_dir();
			write_file(dir, names[i], real[i], real_len[i] - 1);
			expect_load(dir, CORRAL_PLUGIN_BAD_MODEL, "cannot load",
			    what, NULL);
		}
		dir = tmp_dir();
		write_file(dir, "model.json", "{\"learner\": 3}", 14);
		expect_load(dir, CORRAL_PLUGIN_BAD_MODEL, "model.json",
		    "JSON that is no model", NULL);
		dir = tmp_dir();
		write_file(dir, "model.json", "[1, 2, 3]", 9);
		expect_load(dir, CORRAL_PLUGIN_BAD_MODEL, "model.json",
		    "a JSON array", NULL);
	}

	/* Any extension holds any format for the legacy loader: a JSON model
	 * saved as model.bin still loads. */
	dir = tmp_dir();
	write_file(dir, "model.bin", json, json_len);
	expect_load(dir, CORRAL_PLUGIN_OK, "", "JSON in model.bin", NULL);

	/* Parameters. */
	snprintf(good, sizeof good, "%s/reg_squarederror/json/1", models);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT, "nthread",
	    "nthread abc", "nthread", "abc", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT, "nthread",
	    "nthread -1", "nthread", "-1", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT, "nthread",
	    "nthread 100000", "nthread", "100000", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT, "nthread",
	    "nthread empty", "nthread", "", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT, "missing",
	    "missing x", "missing", "x", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT, "missing",
	    "missing 1e999", "missing", "1e999", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT, "a float can hold",
	    "missing -1e39", "missing", "-1e39", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT, "output_margin",
	    "output_margin maybe", "output_margin", "maybe", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "iteration_end (7) is beyond the model's 6 boosted rounds",
	    "iteration_end 7", "iteration_end", "7", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "iteration_begin (6) leaves none", "iteration_begin 6",
	    "iteration_begin", "6", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT, "less than",
	    "begin 3 end 3", "iteration_begin", "3", "iteration_end", "3", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT, "iteration_end",
	    "iteration_end -2", "iteration_end", "-2", NULL);
	expect_load(good, CORRAL_PLUGIN_UNSUPPORTED, "in-place",
	    "predict_type leaf", "predict_type", "leaf", NULL);
	expect_load(good, CORRAL_PLUGIN_UNSUPPORTED, "in-place",
	    "predict_type contribs", "predict_type", "contribs", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT, "predict_type",
	    "predict_type probability", "predict_type", "probability", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT, "contradicts",
	    "margin vs value", "predict_type", "margin", "output_margin",
	    "false", NULL);
	expect_load(good, CORRAL_PLUGIN_INVALID_ARGUMENT, "twice",
	    "nthread twice", "nthread", "1", "nthread", "2", NULL);
	snprintf(path, sizeof path, "%s/gblinear_reg_squarederror/json/1", models);
	expect_load(path, CORRAL_PLUGIN_INVALID_ARGUMENT, "gblinear",
	    "gblinear range", "iteration_end", "2", NULL);
	/* ... and what loads. */
	expect_load(good, CORRAL_PLUGIN_OK, "", "nthread 0", "nthread", "0", NULL);
	expect_load(good, CORRAL_PLUGIN_OK, "", "YAML .nan", "missing", ".nan",
	    "output_margin", "False", NULL);
	expect_load(good, CORRAL_PLUGIN_OK, "", "missing -999", "missing",
	    "-999", "predict_type", "value", NULL);
	expect_load(good, CORRAL_PLUGIN_OK, "", "range [5, all)",
	    "iteration_begin", "5", NULL);
	expect_load(good, CORRAL_PLUGIN_OK, "", "range [0, 6)",
	    "iteration_begin", "0", "iteration_end", "6", NULL);
	expect_load(path, CORRAL_PLUGIN_OK, "", "gblinear range 0/0",
	    "iteration_begin", "0", "iteration_end", "0", NULL);
	{
		int warns = test_log_count[CORRAL_LOG_WARN];

		expect_load(good, CORRAL_PLUGIN_OK, "", "unknown key",
		    "unknown_knob", "42", NULL);
		CHECK_INT(test_log_count[CORRAL_LOG_WARN], warns + 1);
		CHECK_MSG(strstr(test_log_last[CORRAL_LOG_WARN], "unknown_knob"),
		    "warning names the key: \"%s\"", test_log_last[CORRAL_LOG_WARN]);
	}

	/* A small buffer is filled and terminated, never overrun (ASan
	 * watches the exact-size heap block); no buffer at all is fine. */
	{
		char *small = malloc(8);
		void *model;
		corral_load_args args = { .struct_size = sizeof args,
			.version_dir = tmp_root };

		REQUIRE(small != NULL);
		CHECK_INT(load_dir(tmp_root, NULL, &model, small, 8, NULL),
		    CORRAL_PLUGIN_IO);
		CHECK_INT(strlen(small), 7);
		free(small);
		CHECK_INT(load_dir(tmp_root, NULL, &model, NULL, 0, NULL),
		    CORRAL_PLUGIN_IO);

		/* A host table or load arguments older than ABI 1.0. */
		corral_host_api old = test_host;
		char err[256] = "";

		old.struct_size = sizeof(uint32_t);
		CHECK_INT(plugin->load(&old, &args, &model, err, sizeof err),
		    CORRAL_PLUGIN_INVALID_ARGUMENT);
		CHECK(err[0] != '\0');
		args.struct_size = 4;
		CHECK_INT(plugin->load(&test_host, &args, &model, err, sizeof err),
		    CORRAL_PLUGIN_INVALID_ARGUMENT);
	}
	free(json);
	free(ubj);
	free(bin);
}

/* XGBoost's own warnings reach the host's log, one line each: a model
 * whose objective has the deprecated name reg:linear loads (as
 * reg:squarederror) with XGBoost's deprecation warning. */
static void test_xgboost_warning(const char *models)
{
	static const char from[] = "reg:squarederror", to[] = "reg:linear";
	char path[4096], err[256] = "";
	unsigned char *json, *out;
	size_t len, n = 0, replaced = 0;
	int warns = test_log_count[CORRAL_LOG_WARN];
	const char *dir, *w = test_log_last[CORRAL_LOG_WARN];
	corral_plugin_error rc;
	void *model;

	snprintf(path, sizeof path, "%s/reg_squarederror/json/1/model.json",
	    models);
	json = read_file(path, &len);
	out = malloc(len);
	REQUIRE(out != NULL);
	for (size_t i = 0; i < len; i++) {
		if (i + sizeof from - 1 <= len &&
		    memcmp(json + i, from, sizeof from - 1) == 0) {
			memcpy(out + n, to, sizeof to - 1);
			n += sizeof to - 1;
			i += sizeof from - 2;
			replaced++;
		} else {
			out[n++] = json[i];
		}
	}
	REQUIRE(replaced > 0);
	dir = tmp_dir();
	write_file(dir, "model.json", out, n);
	rc = load_dir(dir, NULL, &model, err, sizeof err, NULL);
	CHECK_MSG(rc == CORRAL_PLUGIN_OK, "reg:linear: load = %d (%s)", rc, err);
	CHECK_MSG(test_log_count[CORRAL_LOG_WARN] > warns, "no warning logged");
	CHECK_MSG(strncmp(w, "xgboost: reg:linear is now deprecated", 37) == 0 &&
	    strchr(w, '\n') == NULL, "warning: \"%s\"", w);
	if (rc == CORRAL_PLUGIN_OK)
		plugin->unload(model);
	free(json);
	free(out);
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

static void test_infer_errors(const char *models)
{
	double x[10];
	corral_infer_ctx ctx = { 0 };
	char path[4096], err[256] = "";
	test_input in;
	corral_tensor t;
	int64_t shape3[3] = { 1, 2, 5 };
	void *model;

	for (size_t i = 0; i < 10; i++)
		x[i] = (double)i / 7;
	snprintf(path, sizeof path, "%s/multi_softprob/ubj/1", models);
	REQUIRE(load_dir(path, NULL, &model, err, sizeof err, NULL) ==
	    CORRAL_PLUGIN_OK);
	input_make(&in, CORRAL_DT_FP32, x, 2, 5, 2, 1);

	t = in.t;
	t.shape = (int64_t[]){ 2, 4 };
	t.nbytes = 8 * sizeof(float);
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "[N, 5]", "4 features");
	t = in.t;
	t.shape = (int64_t[]){ 1, 10 };
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "[N, 5]", "10 features");
	t = in.t;
	t.shape = (int64_t[]){ 3 };
	t.ndim = 1;
	t.nbytes = 3 * sizeof(float);
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "[5]", "1-D of 3");
	t = in.t;
	t.dtype = CORRAL_DT_INT32;
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "input must be FP32 or FP64, got INT32", "INT32");
	t = in.t;
	t.dtype = CORRAL_DT_FP16;
	t.nbytes = 10 * 2;
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "got FP16", "FP16");
	t = in.t;
	t.dtype = CORRAL_DT_FP64;
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "bytes", "FP64 label on FP32 bytes");
	t = in.t;
	t.ndim = 3;
	t.shape = shape3;
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "[1, 2, 5]", "3-D");
	t = in.t;
	t.ndim = 0;
	expect_infer(model, &ctx, &t, 1, CORRAL_PLUGIN_INVALID_ARGUMENT,
	    "[N, 5]", "scalar");
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
		double bad[10];
		test_input inf_in;

		memcpy(bad, x, sizeof bad);
		bad[9] = INFINITY;
		input_make(&inf_in, CORRAL_DT_FP32, bad, 2, 5, 2, 1);
		expect_infer(model, &ctx, &inf_in.t, 1,
		    CORRAL_PLUGIN_INVALID_ARGUMENT, "row 1, feature 4 is inf",
		    "FP32 inf");
		free(inf_in.mem);
		bad[9] = 1.0;
		bad[2] = -1e39; /* no float holds it: XGBoost would see -inf */
		input_make(&inf_in, CORRAL_DT_FP64, bad, 2, 5, 2, 0);
		expect_infer(model, &ctx, &inf_in.t, 1,
		    CORRAL_PLUGIN_INVALID_ARGUMENT, "row 0, feature 2", "FP64 -1e39");
		free(inf_in.mem);
		bad[2] = 3.4e38; /* rounds to FLT_MAX: a value like any other */
		input_make(&inf_in, CORRAL_DT_FP64, bad, 2, 5, 2, 0);
		CHECK_INT(plugin->infer(model, &ctx, &inf_in.t, 1, err,
		    sizeof err), CORRAL_PLUGIN_OK);
		test_ctx_reset(&ctx);
		free(inf_in.mem);
	}
	ctx.fail_alloc = 1;
	expect_infer(model, &ctx, &in.t, 1, CORRAL_PLUGIN_NO_MEMORY,
	    "probabilities", "output_alloc fails");

	/* After all that, a good request still works. */
	CHECK_INT(plugin->infer(model, &ctx, &in.t, 1, err, sizeof err),
	    CORRAL_PLUGIN_OK);
	CHECK_INT(ctx.n, 1);
	if (ctx.n == 1) {
		float p[6];

		CHECK_INT(ctx.out[0].shape[0], 2);
		CHECK_INT(ctx.out[0].shape[1], 3);
		memcpy(p, ctx.out[0].data, sizeof p);
		CHECK_NEAR(p[0] + p[1] + p[2], 1.0, 1e-6);
		CHECK_NEAR(p[3] + p[4] + p[5], 1.0, 1e-6);
	}
	test_ctx_reset(&ctx);
	free(in.mem);
	plugin->unload(model);
}

/* With missing: inf, an infinite feature is missing, like NaN: the same
 * scores as the row with NaN there, for trees and gblinear alike. */
static void test_missing_inf(const char *models)
{
	static const char *const dirs[] = { "reg_squarederror/json",
		"gblinear_reg_squarederror/ubj" };
	const double nan_row[5] = { 0.5, NAN, -1.0, 2.0, NAN };
	const double inf_row[5] = { 0.5, INFINITY, -1.0, 2.0, INFINITY };

	for (size_t i = 0; i < 2; i++) {
		corral_infer_ctx ctx = { 0 };
		char path[4096], err[256] = "";
		test_input in;
		float a = 0, b = 1;
		void *model;

		snprintf(path, sizeof path, "%s/%s/1", models, dirs[i]);
		REQUIRE(load_dir(path, NULL, &model, err, sizeof err, "missing",
		    "inf", NULL) == CORRAL_PLUGIN_OK);
		input_make(&in, CORRAL_DT_FP32, nan_row, 1, 5, 2, 0);
		CHECK_INT(plugin->infer(model, &ctx, &in.t, 1, err, sizeof err),
		    CORRAL_PLUGIN_OK);
		if (ctx.n == 1)
			memcpy(&a, ctx.out[0].data, sizeof a);
		test_ctx_reset(&ctx);
		free(in.mem);
		input_make(&in, CORRAL_DT_FP64, inf_row, 1, 5, 2, 0);
		CHECK_MSG(plugin->infer(model, &ctx, &in.t, 1, err, sizeof err) ==
		    CORRAL_PLUGIN_OK, "%s missing inf: %s", dirs[i], err);
		if (ctx.n == 1)
			memcpy(&b, ctx.out[0].data, sizeof b);
		test_ctx_reset(&ctx);
		free(in.mem);
		CHECK_MSG(a == b, "%s: NaN row %.9g, inf row %.9g", dirs[i], a, b);
		plugin->unload(model);
	}
}

/* ------------------------------------------------------------------------
 * Threads: every one exists when load() returns
 * ------------------------------------------------------------------------ */

static void test_no_threads_after_load(const char *models, const char *nthread)
{
	const size_t big = 20000, nf = 5;
	double *x = malloc(big * nf * sizeof *x);
	char path[4096], err[256] = "";
	corral_infer_ctx ctx = { 0 };
	test_input in;
	void *model;
	int before;

	REQUIRE(x != NULL);
	for (size_t i = 0; i < big * nf; i++)
		x[i] = (double)((i * 7919) % 1000) / 250.0 - 2.0;
	snprintf(path, sizeof path, "%s/multi_softmax/json/1", models);
	REQUIRE(load_dir(path, NULL, &model, err, sizeof err, "nthread",
	    nthread, NULL) == CORRAL_PLUGIN_OK);
	before = thread_count();
	for (size_t n = 1; n <= big; n *= 4) {
		for (size_t off = 0; off < 2; off++) {
			input_make(&in, off ? CORRAL_DT_FP64 : CORRAL_DT_FP32, x,
			    (int64_t)n, nf, 2, off);
			CHECK_INT(plugin->infer(model, &ctx, &in.t, 1, err,
			    sizeof err), CORRAL_PLUGIN_OK);
			test_ctx_reset(&ctx);
			free(in.mem);
		}
	}
	CHECK_MSG(thread_count() == before, "nthread %s: %d threads after "
	    "load, %d after predicting", nthread, before, thread_count());
	plugin->unload(model);
	free(x);
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
}

int main(int argc, char **argv)
{
	corral_plugin_entry_fn entry;
	char path[4096], line[256];
	FILE *list;
	void *so;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PATH/xgboost.so MODELS_DIR\n", argv[0]);
		return 2;
	}
	test_log_verbose = getenv("XGBOOST_TEST_VERBOSE") != NULL;
	plugin = test_plugin_open(argv[1], "xgboost", &so, &entry);
	REQUIRE(plugin->magic == CORRAL_PLUGIN_MAGIC);
	CHECK(entry() == plugin);
	/* Nothing but the entry point is exported. */
	CHECK(dlsym(so, "xgboost_params_parse") == NULL);
	CHECK(dlsym(so, "xgboost_errf") == NULL);
	test_descriptor();

	snprintf(path, sizeof path, "%s/cases.txt", argv[2]);
	list = fopen(path, "r");
	REQUIRE(list != NULL);
	while (fgets(line, sizeof line, list) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '\0')
			run_case(argv[2], line);
	}
	fclose(list);

	test_feature_names(argv[2]);
	REQUIRE(mkdtemp(tmp_root) != NULL);
	test_load_errors(argv[2]);
	test_xgboost_warning(argv[2]);
	test_infer_errors(argv[2]);
	test_missing_inf(argv[2]);
	test_no_threads_after_load(argv[2], "2");
	test_no_threads_after_load(argv[2], "3");
	nftw(tmp_root, tmp_rm, 16, FTW_DEPTH | FTW_PHYS);

	CHECK(test_log_count[CORRAL_LOG_INFO] > 0);
	case_print_max_diff();
	TEST_MAIN_END();
}
