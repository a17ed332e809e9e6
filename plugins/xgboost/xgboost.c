/*
 * xgboost.c - the `xgboost` model plugin: XGBoost boosters (gbtree, dart,
 * gblinear) through libxgboost's C API.
 *
 * load() finds the one model file in the version folder, loads it with
 * XGBoosterLoadModel, asks the learner what it is (xgboost_learner.c),
 * fixes the prediction configuration from the load parameters
 * (xgboost_params.c) and predicts once so that every OpenMP thread exists
 * before the worker is confined. infer() hands the request's rows to
 * XGBoost's in-place prediction (XGBoosterPredictFromDense, an
 * __array_interface__ over the input buffer, a proxy DMatrix made once)
 * and copies the scores into the host's output buffer.
 *
 * See docs/plugins/xgboost.md for files, parameters and the signature.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <corral/plugin.h>
#include <corral/plugin_util.h>
#include <omp.h>
#include <xgboost/c_api.h>

#include "xgboost_error.h"
#include "xgboost_learner.h"
#include "xgboost_params.h"

#define XGBOOST_INPUT "input"

/* The host services and load arguments this plugin reads, by the ABI 1.0
 * field that must be present. */
#define XGBOOST_HOST_API_MIN \
	(offsetof(corral_host_api, log) + sizeof(((corral_host_api *)0)->log))
#define XGBOOST_LOAD_ARGS_MIN \
	(offsetof(corral_load_args, n_params) + sizeof(size_t))

typedef struct xgboost_model {
	const corral_host_api *host; /* valid for the life of the process */
	BoosterHandle booster;
	/* In-place prediction's proxy DMatrix, reused by every request;
	 * NULL for gblinear, which XGBoost 1.7 cannot predict in place. */
	DMatrixHandle proxy;
	xgboost_params p;
	xgboost_learner l;
	const char *output_name;
	size_t width; /* output values per row */

	/* XGBoosterPredictFromDense's configuration, fixed at load. */
	char predict_config[256];
	/* XGDMatrixCreateFromDense's, for gblinear. */
	char dmatrix_config[96];

	/* XGBoost refuses an input pointer that is not aligned to its element
	 * size; such rows are copied here first. Grown, never shrunk: the
	 * steady state allocates nothing. */
	void *scratch;
	size_t scratch_cap;

	/* The signature describe() hands out; owned here until unload. */
	int64_t input_shape[2];
	int64_t output_shape[2];
	corral_tensor_spec input;
	corral_tensor_spec output;
	char **feature_names; /* NULL-terminated copies, or NULL: the labels */
} xgboost_model;

/* XGBoost's warnings (a deprecated format, an old model) reach the worker's
 * log. XGBoost's callback takes no context: the host table is the same for
 * every model of a process, and lives as long as it. */
static const corral_host_api *xgboost_log_host;

static void xgboost_log_callback(const char *msg)
{
	const corral_host_api *host = xgboost_log_host;
	char line[512];

	if (host == NULL || host->log == NULL || msg == NULL)
		return;
	memcpy(line, "xgboost: ", 9);
	xgboost_log_line(line + 9, sizeof line - 9, msg);
	host->log(CORRAL_LOG_WARN, line);
}

/* ------------------------------------------------------------------------
 * Prediction
 * ------------------------------------------------------------------------ */

/* A float for XGBoost's JSON reader, which takes NaN and Infinity. */
static void xgboost_json_float(char *buf, size_t n, double v)
{
	if (isnan(v))
		snprintf(buf, n, "NaN");
	else if (isinf(v))
		snprintf(buf, n, "%sInfinity", v < 0 ? "-" : "");
	else
		snprintf(buf, n, "%.17g", v);
}

/*
 * Predict `n_rows` (> 0) rows of FP32 or FP64 values at `data` (any
 * alignment) and copy the n_rows * width float scores to `dst` (any
 * alignment; may be NULL). XGBoost's result buffer belongs to the booster
 * and lives until the next prediction on this thread.
 */
static corral_plugin_error xgboost_predict(xgboost_model *m, const void *data,
    corral_dtype dtype, int64_t n_rows, void *dst, char *err, size_t errlen)
{
	const size_t esize = corral_dtype_size(dtype);
	const size_t nbytes = (size_t)n_rows * m->l.num_feature * esize;
	const bst_ulong *shape = NULL;
	bst_ulong dim = 0;
	const float *res = NULL;
	DMatrixHandle dm = NULL;
	char array[192];
	corral_plugin_error rc = CORRAL_PLUGIN_OK;
	int xrc;

	if ((uintptr_t)data % esize != 0) {
		if (nbytes > m->scratch_cap) {
			size_t cap = m->scratch_cap * 2 > nbytes ?
			    m->scratch_cap * 2 : nbytes;
			void *p = realloc(m->scratch, cap);

			if (p == NULL) {
				corral_errf(err, errlen, "out of memory copying "
				    "%zu bytes of input", nbytes);
				return CORRAL_PLUGIN_NO_MEMORY;
			}
			m->scratch = p;
			m->scratch_cap = cap;
		}
		memcpy(m->scratch, data, nbytes);
		data = m->scratch;
	}
	/* NumPy's __array_interface__, version 3: a C-contiguous row-major
	 * matrix of little-endian 4- or 8-byte floats, read only. */
	snprintf(array, sizeof array, "{\"data\": [%" PRIuPTR ", true], "
	    "\"shape\": [%" PRId64 ", %zu], \"typestr\": \"%s\", "
	    "\"version\": 3}", (uintptr_t)data, n_rows, m->l.num_feature,
	    dtype == CORRAL_DT_FP64 ? "<f8" : "<f4");

	if (m->proxy != NULL) {
		xrc = XGBoosterPredictFromDense(m->booster, array,
		    m->predict_config, m->proxy, &shape, &dim, &res);
	} else {
		/* gblinear: a DMatrix for this request, freed below. */
		if (XGDMatrixCreateFromDense(array, m->dmatrix_config, &dm) != 0) {
			xgboost_err_last(err, errlen, "xgboost: cannot take the "
			    "input rows");
			return CORRAL_PLUGIN_INTERNAL;
		}
		xrc = XGBoosterPredictFromDMatrix(m->booster, dm,
		    m->predict_config, &shape, &dim, &res);
	}

	if (xrc != 0) {
		xgboost_err_last(err, errlen, "xgboost: prediction failed");
		rc = CORRAL_PLUGIN_INTERNAL;
	} else if (dim < 1 || dim > 2 || shape[0] != (bst_ulong)n_rows ||
	    (dim == 1 ? 1 : shape[1]) != m->width) {
		/* Never read past what XGBoost returned. */
		corral_errf(err, errlen, "xgboost: XGBoost returned %" PRIu64
		    "-D scores of %" PRIu64 " rows, expected %" PRId64 " rows "
		    "of %zu", (uint64_t)dim, dim ? (uint64_t)shape[0] : 0,
		    n_rows, m->width);
		rc = CORRAL_PLUGIN_INTERNAL;
	} else if (dst != NULL) {
		memcpy(dst, res, (size_t)n_rows * m->width * sizeof(float));
	}
	if (dm != NULL)
		XGDMatrixFree(dm);
	return rc;
}

/* ------------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------------ */

static void xgboost_unload(void *handle)
{
	xgboost_model *m = handle;

	if (m == NULL)
		return;
	if (m->proxy != NULL)
		XGDMatrixFree(m->proxy);
	if (m->booster != NULL)
		XGBoosterFree(m->booster);
	free(m->scratch);
	for (size_t i = 0; m->feature_names != NULL && m->feature_names[i] != NULL; i++)
		free(m->feature_names[i]);
	free(m->feature_names);
	free(m);
}

/* The model files load() looks for, any one of them. */
static const char *const xgboost_model_files[] = {
	"model.json", /* XGBoost's JSON */
	"model.ubj",  /* Universal Binary JSON */
	"model.bin",  /* the legacy binary format */
	"model.xgb",  /* the same, by another common name */
};
#define XGBOOST_N_MODEL_FILES \
	(sizeof xgboost_model_files / sizeof xgboost_model_files[0])

/* Find the one model file in `dir`; its path into `path`. IO when there is
 * none or it cannot be read, BAD_MODEL when there is more than one. */
static corral_plugin_error xgboost_find_model(const char *dir, char *path,
    size_t pathlen, char *err, size_t errlen)
{
	const char *found[XGBOOST_N_MODEL_FILES];
	size_t n_found = 0;
	struct stat st;
	FILE *f;

	for (size_t i = 0; i < XGBOOST_N_MODEL_FILES; i++) {
		if ((size_t)snprintf(path, pathlen, "%s/%s", dir,
		    xgboost_model_files[i]) >= pathlen) {
			corral_errf(err, errlen, "xgboost: the version folder "
			    "path is too long");
			return CORRAL_PLUGIN_IO;
		}
		if (stat(path, &st) == 0) {
			found[n_found++] = xgboost_model_files[i];
		} else if (errno != ENOENT && errno != ENOTDIR) {
			corral_errf(err, errlen, "xgboost: %s: %s", path,
			    strerror(errno));
			return CORRAL_PLUGIN_IO;
		}
	}
	if (n_found == 0) {
		corral_errf(err, errlen, "xgboost: no model file in %s: expected "
		    "one of model.json, model.ubj, model.bin or model.xgb", dir);
		return CORRAL_PLUGIN_IO;
	}
	if (n_found > 1) {
		corral_errf(err, errlen, "xgboost: %s holds %s and %s%s: keep "
		    "exactly one model file", dir, found[0], found[1],
		    n_found > 2 ? " and more" : "");
		return CORRAL_PLUGIN_BAD_MODEL;
	}
	snprintf(path, pathlen, "%s/%s", dir, found[0]);
	/* Say "cannot read" ourselves rather than let XGBoost call an
	 * unreadable file a bad model. */
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		corral_errf(err, errlen, "xgboost: %s is not a regular file",
		    path);
		return CORRAL_PLUGIN_IO;
	}
	f = fopen(path, "rb");
	if (f == NULL) {
		corral_errf(err, errlen, "xgboost: cannot open %s: %s", path,
		    strerror(errno));
		return CORRAL_PLUGIN_IO;
	}
	fclose(f);
	return CORRAL_PLUGIN_OK;
}

/* Check the iteration range against the model, as XGBoost would at the
 * first request, so a bad range stops the load instead. */
static corral_plugin_error xgboost_check_range(const xgboost_model *m,
    char *err, size_t errlen)
{
	const xgboost_params *p = &m->p;

	if (!p->range_given)
		return CORRAL_PLUGIN_OK;
	if (strcmp(m->l.booster, "gblinear") == 0 &&
	    (p->iteration_begin != 0 || p->iteration_end != 0)) {
		corral_errf(err, errlen, "xgboost: a gblinear model has no "
		    "iteration range (every round updates the same weights): "
		    "leave iteration_begin and iteration_end unset");
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	if (p->iteration_end > (unsigned)m->l.rounds) {
		corral_errf(err, errlen, "xgboost: iteration_end (%u) is beyond "
		    "the model's %d boosted rounds", p->iteration_end,
		    m->l.rounds);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	if (p->iteration_end == 0 && p->iteration_begin > 0 &&
	    p->iteration_begin >= (unsigned)m->l.rounds) {
		corral_errf(err, errlen, "xgboost: iteration_begin (%u) leaves "
		    "none of the model's %d boosted rounds", p->iteration_begin,
		    m->l.rounds);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	return CORRAL_PLUGIN_OK;
}

/* Copy the model's feature names (the booster owns its strings only until
 * the next call), when it has one per feature. Returns -1 if out of memory. */
static int xgboost_copy_feature_names(xgboost_model *m)
{
	const char **names = NULL;
	bst_ulong n = 0;
	if (XGBoosterGetStrFeatureInfo(m->booster, "feature_name", &n, &names) != 0 ||
	    n == 0 || n != m->l.num_feature)
		return 0;
	m->feature_names = calloc(n + 1, sizeof *m->feature_names);
	if (m->feature_names == NULL)
		return -1;
	for (bst_ulong i = 0; i < n; i++)
		if ((m->feature_names[i] = strdup(names[i])) == NULL)
			return -1;
	return 0;
}

static void xgboost_signature(xgboost_model *m)
{
	m->input_shape[0] = -1;
	m->input_shape[1] = (int64_t)m->l.num_feature;
	/* XGBoost predicts from float features: FP32 is the declared type;
	 * FP64 rows are handed over as they are and narrowed by XGBoost. */
	m->input = (corral_tensor_spec){ .name = XGBOOST_INPUT,
		.dtype = CORRAL_DT_FP32, .ndim = 2, .shape = m->input_shape,
		.also_accepts = CORRAL_ACCEPTS(CORRAL_DT_FP64),
		.labels = (const char *const *)m->feature_names };
	m->output_shape[0] = -1;
	m->output_shape[1] = (int64_t)m->width;
	m->output = (corral_tensor_spec){ .name = m->output_name,
		.dtype = CORRAL_DT_FP32, .ndim = m->width == 1 ? 1 : 2,
		.shape = m->output_shape };
}

/* Log what was loaded, and the feature names when the model has them. */
static void xgboost_log_loaded(const xgboost_model *m,
    const corral_load_args *args, const char *path)
{
	const char **names = NULL;
	bst_ulong n_names = 0;
	char msg[512];
	size_t len;

	if (m->host->log == NULL)
		return;
	snprintf(msg, sizeof msg, "xgboost: loaded %.128s version %" PRId64
	    " from %s: %s %s, %d rounds, %zu features, output \"%s\" of %zu "
	    "per row, nthread %d%s", args->model_name ? args->model_name : "?",
	    args->model_version, strrchr(path, '/') + 1, m->l.booster, m->l.objective,
	    m->l.rounds, m->l.num_feature, m->output_name, m->width,
	    m->p.nthread, m->proxy == NULL ? ", a DMatrix per request" : "");
	m->host->log(CORRAL_LOG_INFO, msg);

	if (XGBoosterGetStrFeatureInfo(m->booster, "feature_name", &n_names,
	    &names) != 0 || n_names == 0)
		return;
	len = (size_t)snprintf(msg, sizeof msg, "xgboost: feature names:");
	for (bst_ulong i = 0; i < n_names && len < sizeof msg; i++)
		len += (size_t)snprintf(msg + len, sizeof msg - len, "%s %s",
		    i ? "," : "", names[i]);
	m->host->log(CORRAL_LOG_INFO, msg);
}

static corral_plugin_error xgboost_load(const corral_host_api *host,
    const corral_load_args *args, void **model, char *err, size_t errlen)
{
	corral_plugin_error rc;
	xgboost_model *m = NULL;
	char path[4096], nthread[16], missing[40];
	float *warm = NULL;

	if (host == NULL || host->struct_size < XGBOOST_HOST_API_MIN ||
	    host->output_alloc == NULL) {
		corral_errf(err, errlen, "xgboost: the host API is missing or "
		    "older than ABI 1.0");
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	if (args == NULL || args->struct_size < XGBOOST_LOAD_ARGS_MIN ||
	    args->version_dir == NULL ||
	    (args->n_params > 0 && args->params == NULL)) {
		corral_errf(err, errlen, "xgboost: the load arguments are "
		    "missing or older than ABI 1.0");
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	if (host->log != NULL) {
		xgboost_log_host = host;
		XGBRegisterLogCallback(xgboost_log_callback);
	}

	m = calloc(1, sizeof *m);
	if (m == NULL) {
		corral_errf(err, errlen, "xgboost: out of memory");
		return CORRAL_PLUGIN_NO_MEMORY;
	}
	m->host = host;
	rc = xgboost_params_parse(args->params, args->n_params, &m->p,
	    host->log, err, errlen);
	if (rc != CORRAL_PLUGIN_OK)
		goto fail;
	rc = xgboost_find_model(args->version_dir, path, sizeof path, err,
	    errlen);
	if (rc != CORRAL_PLUGIN_OK)
		goto fail;

	/* XGBoost parallelises some work with OpenMP's default thread count
	 * (one per CPU) whatever nthread says: loading a JSON model does,
	 * before the booster knows its nthread. Make that default nthread
	 * too, so that a worker starts no more threads than it was given, on
	 * any host. The setting belongs to this (the host's) thread and is
	 * left in place: a later parallel region on it stays within the
	 * threads the warm-up below starts. */
	if (m->p.nthread > 0)
		omp_set_num_threads(m->p.nthread);

	rc = CORRAL_PLUGIN_BAD_MODEL;
	if (XGBoosterCreate(NULL, 0, &m->booster) != 0) {
		xgboost_err_last(err, errlen, "xgboost: cannot create a booster");
		m->booster = NULL;
		rc = CORRAL_PLUGIN_INTERNAL;
		goto fail;
	}
	if (XGBoosterLoadModel(m->booster, path) != 0) {
		char what[sizeof path + 32];

		snprintf(what, sizeof what, "xgboost: cannot load %s", path);
		xgboost_err_last(err, errlen, what);
		goto fail;
	}
	snprintf(nthread, sizeof nthread, "%d", m->p.nthread);
	if (XGBoosterSetParam(m->booster, "nthread", nthread) != 0) {
		xgboost_err_last(err, errlen, "xgboost: cannot set nthread");
		rc = CORRAL_PLUGIN_INVALID_ARGUMENT;
		goto fail;
	}
	rc = xgboost_learner_read(m->booster, &m->l, err, errlen);
	if (rc != CORRAL_PLUGIN_OK)
		goto fail;
	rc = xgboost_check_range(m, err, errlen);
	if (rc != CORRAL_PLUGIN_OK)
		goto fail;
	xgboost_learner_output(&m->l, m->p.output_margin, &m->output_name,
	    &m->width);

	xgboost_json_float(missing, sizeof missing, m->p.missing);
	snprintf(m->predict_config, sizeof m->predict_config,
	    "{\"type\": %d, \"training\": false, \"iteration_begin\": %u, "
	    "\"iteration_end\": %u, \"strict_shape\": false, \"cache_id\": 0, "
	    "\"missing\": %s}", m->p.output_margin ? 1 : 0,
	    m->p.iteration_begin, m->p.iteration_end, missing);
	snprintf(m->dmatrix_config, sizeof m->dmatrix_config,
	    "{\"missing\": %s, \"nthread\": %d}", missing, m->p.nthread);
	if (strcmp(m->l.booster, "gblinear") != 0 &&
	    XGProxyDMatrixCreate(&m->proxy) != 0) {
		xgboost_err_last(err, errlen, "xgboost: cannot create a proxy "
		    "DMatrix");
		m->proxy = NULL;
		rc = CORRAL_PLUGIN_INTERNAL;
		goto fail;
	}
	if (xgboost_copy_feature_names(m) != 0) {
		snprintf(err, errlen, "xgboost: out of memory");
		rc = CORRAL_PLUGIN_NO_MEMORY;
		goto fail;
	}
	xgboost_signature(m);

	/* Predict one row, all missing, now: XGBoost configures itself at the
	 * first prediction and OpenMP starts its threads at the first parallel
	 * region, and both must happen before the worker is confined (infer()
	 * may not create threads). It also proves the output shape. */
	rc = CORRAL_PLUGIN_NO_MEMORY;
	warm = malloc((m->l.num_feature + m->width) * sizeof *warm);
	if (warm == NULL) {
		corral_errf(err, errlen, "xgboost: out of memory");
		goto fail;
	}
	for (size_t j = 0; j < m->l.num_feature; j++)
		warm[j] = NAN;
	rc = xgboost_predict(m, warm, CORRAL_DT_FP32, 1,
	    warm + m->l.num_feature, err, errlen);
	if (rc != CORRAL_PLUGIN_OK) {
		if (rc == CORRAL_PLUGIN_INTERNAL)
			rc = CORRAL_PLUGIN_BAD_MODEL;
		goto fail;
	}
	free(warm);

	xgboost_log_loaded(m, args, path);
	*model = m;
	return CORRAL_PLUGIN_OK;

fail:
	free(warm);
	xgboost_unload(m);
	return rc;
}

static corral_plugin_error xgboost_describe(void *handle,
    corral_signature *sig, char *err, size_t errlen)
{
	xgboost_model *m = handle;

	(void)err;
	(void)errlen;
	sig->inputs = &m->input;
	sig->n_inputs = 1;
	sig->outputs = &m->output;
	sig->n_outputs = 1;
	return CORRAL_PLUGIN_OK;
}

/* ------------------------------------------------------------------------
 * Inference
 * ------------------------------------------------------------------------ */

/* Check the request's one input and find its row count. */
static corral_plugin_error xgboost_check_input(const xgboost_model *m,
    const corral_tensor *inputs, size_t n_inputs, int64_t *n_rows,
    char *err, size_t errlen)
{
	corral_plugin_error rc = corral_check_rows(inputs, n_inputs, XGBOOST_INPUT,
	    m->l.num_feature, n_rows, err, errlen);
	/* XGBoost writes n_rows * width floats of output. */
	if (rc == CORRAL_PLUGIN_OK &&
	    (uint64_t)*n_rows > SIZE_MAX / sizeof(float) / m->width) {
		corral_errf(err, errlen, "input shape is too large");
		rc = CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	return rc;
}

/*
 * XGBoost's own predict() refuses infinite feature values (its DMatrix
 * says "Input data contains `inf`") unless `missing` is infinite, while
 * its in-place prediction would take them as values: refuse them here,
 * for every booster alike. An FP64 value beyond the float range counts:
 * XGBoost narrows it to infinity.
 */
static corral_plugin_error xgboost_check_values(const xgboost_model *m,
    const corral_tensor *in, int64_t n_rows, char *err, size_t errlen)
{
	const size_t n = (size_t)n_rows * m->l.num_feature;
	const unsigned char *src = in->data;

	if (isinf(m->p.missing))
		return CORRAL_PLUGIN_OK;
	for (size_t i = 0; i < n; i++) {
		double v;

		/* The data may sit at any address: memcpy, not a cast. */
		if (in->dtype == CORRAL_DT_FP64) {
			memcpy(&v, src + i * sizeof v, sizeof v);
		} else {
			float f;

			memcpy(&f, src + i * sizeof f, sizeof f);
			v = f;
		}
		if (isinf((float)v)) {
			corral_errf(err, errlen, "input row %zu, feature %zu is "
			    "%g: XGBoost takes no infinite values (a missing "
			    "value is NaN%s)", i / m->l.num_feature,
			    i % m->l.num_feature, v,
			    isnan(m->p.missing) ? "" : " or the missing parameter");
			return CORRAL_PLUGIN_INVALID_ARGUMENT;
		}
	}
	return CORRAL_PLUGIN_OK;
}

static corral_plugin_error xgboost_infer(void *handle, corral_infer_ctx *ctx,
    const corral_tensor *inputs, size_t n_inputs, char *err, size_t errlen)
{
	xgboost_model *m = handle;
	int64_t n_rows, shape[2];
	void *out;
	corral_plugin_error rc;

	rc = xgboost_check_input(m, inputs, n_inputs, &n_rows, err, errlen);
	if (rc == CORRAL_PLUGIN_OK)
		rc = xgboost_check_values(m, inputs, n_rows, err, errlen);
	if (rc != CORRAL_PLUGIN_OK)
		return rc;

	shape[0] = n_rows;
	shape[1] = (int64_t)m->width;
	out = m->host->output_alloc(ctx, m->output_name, CORRAL_DT_FP32,
	    m->output.ndim, shape);
	if (out == NULL) {
		if (m->width == 1)
			corral_errf(err, errlen, "cannot allocate output \"%s\" "
			    "[%" PRId64 "]", m->output_name, shape[0]);
		else
			corral_errf(err, errlen, "cannot allocate output \"%s\" "
			    "[%" PRId64 ", %" PRId64 "]", m->output_name,
			    shape[0], shape[1]);
		return CORRAL_PLUGIN_NO_MEMORY;
	}
	/* No rows, no scores: XGBoost is not asked. */
	if (n_rows == 0)
		return CORRAL_PLUGIN_OK;
	return xgboost_predict(m, inputs[0].data, inputs[0].dtype, n_rows, out,
	    err, errlen);
}

/* ------------------------------------------------------------------------
 * The descriptor
 * ------------------------------------------------------------------------ */

static const corral_plugin xgboost_plugin = {
	.magic = CORRAL_PLUGIN_MAGIC,
	.abi_major = CORRAL_PLUGIN_ABI_MAJOR,
	.abi_minor = CORRAL_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(corral_plugin),
	.name = "xgboost",
	.version = "1.0.0",
	.load = xgboost_load,
	.describe = xgboost_describe,
	.infer = xgboost_infer,
	.unload = xgboost_unload,
	.extra_syscalls = NULL,
};

CORRAL_PLUGIN_EXPORT const corral_plugin *CORRAL_PLUGIN_ENTRY(void)
{
	return &xgboost_plugin;
}
