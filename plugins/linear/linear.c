/*
 * linear.c - the `linear` model plugin: linear and logistic regression and
 * multinomial (softmax) regression from a model.json file.
 *
 * load() parses <version_dir>/model.json (linear_model.c) and sets up the
 * signature and scratch rows; infer() computes, per input row,
 * z = W x + b in double, then the link, straight into the host's output
 * buffers. Nothing is allocated on the infer path but those outputs.
 *
 * See docs/plugins/linear.md for the model format and the signature.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <corral/plugin.h>
#include <corral/plugin_util.h>

#include "linear_model.h"

#define LINEAR_INPUT "input"

/* The host services and load arguments this plugin reads, by the ABI 1.0
 * field that must be present. */
#define LINEAR_HOST_API_MIN \
	(offsetof(corral_host_api, log) + sizeof(((corral_host_api *)0)->log))
#define LINEAR_LOAD_ARGS_MIN \
	(offsetof(corral_load_args, n_params) + sizeof(size_t))

typedef struct linear_model {
	const corral_host_api *host; /* valid for the life of the process */
	linear_params p;
	const char *scores_name; /* "prediction", "probability", "probabilities" */

	/* Scratch for one row, so infer() allocates nothing. The host never
	 * calls infer() concurrently for one model. */
	double *x; /* n_features: the row, widened to double */
	double *z; /* n_outputs: its scores */

	/* The signature describe() hands out; owned here until unload. */
	int64_t input_shape[2];
	int64_t scores_shape[2];
	int64_t label_shape[1];
	corral_tensor_spec input;
	corral_tensor_spec outputs[2];
	size_t n_outputs;
} linear_model;

/* ------------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------------ */

static void linear_unload(void *handle)
{
	linear_model *m = handle;

	if (m == NULL)
		return;
	linear_params_free(&m->p);
	free(m->x);
	free(m->z);
	free(m);
}

static void linear_signature(linear_model *m)
{
	const linear_params *p = &m->p;

	m->input_shape[0] = -1;
	m->input_shape[1] = (int64_t)p->n_features;
	/* FP64 is the declared type; FP32 rows are widened in infer(). */
	m->input = (corral_tensor_spec){ .name = LINEAR_INPUT,
		.dtype = CORRAL_DT_FP64, .ndim = 2, .shape = m->input_shape,
		.also_accepts = CORRAL_ACCEPTS(CORRAL_DT_FP32) };

	switch (p->link) {
	case LINEAR_LINK_IDENTITY: m->scores_name = "prediction"; break;
	case LINEAR_LINK_LOGIT: m->scores_name = "probability"; break;
	case LINEAR_LINK_SOFTMAX: m->scores_name = "probabilities"; break;
	}
	m->scores_shape[0] = -1;
	m->scores_shape[1] = (int64_t)p->n_outputs;
	m->outputs[0] = (corral_tensor_spec){ .name = m->scores_name,
		.dtype = CORRAL_DT_FP64, .ndim = 2, .shape = m->scores_shape };
	m->n_outputs = 1;
	if (p->link != LINEAR_LINK_IDENTITY) {
		m->label_shape[0] = -1;
		m->outputs[1] = (corral_tensor_spec){ .name = "label",
			.dtype = CORRAL_DT_INT64, .ndim = 1,
			.shape = m->label_shape };
		m->n_outputs = 2;
	}
}

static corral_plugin_error linear_load(const corral_host_api *host,
    const corral_load_args *args, void **model, char *err, size_t errlen)
{
	static const char file[] = "/model.json";
	corral_plugin_error rc;
	linear_model *m = NULL;
	char *path = NULL;
	size_t dir_len;
	char msg[256];

	if (host == NULL || host->struct_size < LINEAR_HOST_API_MIN ||
	    host->output_alloc == NULL) {
		corral_errf(err, errlen, "linear: the host API is missing or "
		    "older than ABI 1.0");
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	if (args == NULL || args->struct_size < LINEAR_LOAD_ARGS_MIN ||
	    args->version_dir == NULL) {
		corral_errf(err, errlen, "linear: the load arguments are missing "
		    "or older than ABI 1.0");
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}

	rc = CORRAL_PLUGIN_NO_MEMORY;
	dir_len = strlen(args->version_dir);
	path = malloc(dir_len + sizeof file);
	m = calloc(1, sizeof *m);
	if (path == NULL || m == NULL) {
		corral_errf(err, errlen, "linear: out of memory");
		goto fail;
	}
	memcpy(path, args->version_dir, dir_len);
	memcpy(path + dir_len, file, sizeof file);
	m->host = host;

	rc = linear_params_read(path, &m->p, host->log, err, errlen);
	if (rc != CORRAL_PLUGIN_OK)
		goto fail;
	rc = CORRAL_PLUGIN_NO_MEMORY;
	m->x = malloc(m->p.n_features * sizeof(double));
	m->z = malloc(m->p.n_outputs * sizeof(double));
	if (m->x == NULL || m->z == NULL) {
		corral_errf(err, errlen, "linear: out of memory");
		goto fail;
	}
	linear_signature(m);

	if (host->log != NULL) {
		/* The plugin takes no parameters; say so rather than fail, as
		 * a config may carry keys meant for something else. */
		for (size_t i = 0; i < args->n_params; i++) {
			snprintf(msg, sizeof msg, "linear: ignoring parameter "
			    "\"%s\" (this plugin takes none)",
			    args->params[i].key ? args->params[i].key : "");
			host->log(CORRAL_LOG_INFO, msg);
		}
		snprintf(msg, sizeof msg, "linear: loaded %s version %" PRId64
		    ": %s link, %zu features, %zu outputs",
		    args->model_name ? args->model_name : "?",
		    args->model_version, linear_link_name(m->p.link),
		    m->p.n_features, m->p.n_outputs);
		host->log(CORRAL_LOG_INFO, msg);
	}
	free(path);
	*model = m;
	return CORRAL_PLUGIN_OK;

fail:
	free(path);
	linear_unload(m);
	return rc;
}

static corral_plugin_error linear_describe(void *handle,
    corral_signature *sig, char *err, size_t errlen)
{
	linear_model *m = handle;

	(void)err;
	(void)errlen;
	sig->inputs = &m->input;
	sig->n_inputs = 1;
	sig->outputs = m->outputs;
	sig->n_outputs = m->n_outputs;
	return CORRAL_PLUGIN_OK;
}

/* ------------------------------------------------------------------------
 * Inference
 * ------------------------------------------------------------------------ */

/* Check the request's one input and find its row count. */
static corral_plugin_error linear_check_input(const linear_model *m,
    const corral_tensor *inputs, size_t n_inputs, int64_t *n_rows,
    char *err, size_t errlen)
{
	corral_plugin_error rc = corral_check_rows(inputs, n_inputs, LINEAR_INPUT,
	    m->p.n_features, n_rows, err, errlen);
	return rc;
}

/* Widen row `r` of the input into m->x. The data may sit at any address
 * (it points into a network message), so every value goes through memcpy. */
static int linear_read_row(linear_model *m, const corral_tensor *in,
    int64_t r, char *err, size_t errlen)
{
	const size_t nf = m->p.n_features;
	const unsigned char *src = in->data;

	if (in->dtype == CORRAL_DT_FP64) {
		src += (size_t)r * nf * sizeof(double);
		for (size_t j = 0; j < nf; j++)
			memcpy(&m->x[j], src + j * sizeof(double), sizeof(double));
	} else {
		src += (size_t)r * nf * sizeof(float);
		for (size_t j = 0; j < nf; j++) {
			float f;

			memcpy(&f, src + j * sizeof(float), sizeof f);
			m->x[j] = f;
		}
	}
	for (size_t j = 0; j < nf; j++) {
		if (!isfinite(m->x[j])) {
			corral_errf(err, errlen, "input row %" PRId64 ", feature "
			    "%zu is %g: inputs must be finite", r, j, m->x[j]);
			return -1;
		}
	}
	return 0;
}

/* m->z = W m->x + b. */
static int linear_scores(linear_model *m, int64_t r, char *err,
    size_t errlen)
{
	const linear_params *p = &m->p;

	for (size_t k = 0; k < p->n_outputs; k++) {
		const double *w = &p->weights[k * p->n_features];
		double z = p->intercepts[k];

		for (size_t j = 0; j < p->n_features; j++)
			z += w[j] * m->x[j];
		if (!isfinite(z)) {
			corral_errf(err, errlen, "input row %" PRId64 ": score "
			    "%zu overflows a double", r, k);
			return -1;
		}
		m->z[k] = z;
	}
	return 0;
}

/* 1 / (1 + e^-z) without overflow: exp() only ever sees -|z|. */
static double linear_sigmoid(double z)
{
	double e;

	if (z >= 0)
		return 1.0 / (1.0 + exp(-z));
	e = exp(z);
	return e / (1.0 + e);
}

/* Store by memcpy: the ABI aligns output buffers, but memcpy keeps this
 * code correct even for views a test host hands out unaligned. */
static void linear_put_f64(unsigned char *dst, size_t i, double v)
{
	memcpy(dst + i * sizeof v, &v, sizeof v);
}

static void linear_put_i64(unsigned char *dst, size_t i, int64_t v)
{
	memcpy(dst + i * sizeof v, &v, sizeof v);
}

/* Write row r of the outputs from m->z. */
static void linear_link_row(linear_model *m, size_t r, unsigned char *scores,
    unsigned char *labels)
{
	const size_t k_n = m->p.n_outputs;
	const double *z = m->z;
	double max, sum;
	size_t best;

	switch (m->p.link) {
	case LINEAR_LINK_IDENTITY:
		for (size_t k = 0; k < k_n; k++)
			linear_put_f64(scores, r * k_n + k, z[k]);
		break;
	case LINEAR_LINK_LOGIT:
		linear_put_f64(scores, r, linear_sigmoid(z[0]));
		linear_put_i64(labels, r, z[0] > 0 ? 1 : 0);
		break;
	case LINEAR_LINK_SOFTMAX:
		/* Shift by the largest score so exp() cannot overflow. The
		 * first largest is the label: ties go to the lowest class. */
		best = 0;
		for (size_t k = 1; k < k_n; k++)
			if (z[k] > z[best])
				best = k;
		max = z[best];
		sum = 0;
		for (size_t k = 0; k < k_n; k++)
			sum += exp(z[k] - max);
		for (size_t k = 0; k < k_n; k++)
			linear_put_f64(scores, r * k_n + k, exp(z[k] - max) / sum);
		linear_put_i64(labels, r, (int64_t)best);
		break;
	}
}

static corral_plugin_error linear_infer(void *handle, corral_infer_ctx *ctx,
    const corral_tensor *inputs, size_t n_inputs, char *err, size_t errlen)
{
	linear_model *m = handle;
	const corral_host_api *host = m->host;
	unsigned char *scores, *labels = NULL;
	int64_t n_rows, shape[2];
	corral_plugin_error rc;

	rc = linear_check_input(m, inputs, n_inputs, &n_rows, err, errlen);
	if (rc != CORRAL_PLUGIN_OK)
		return rc;

	shape[0] = n_rows;
	shape[1] = (int64_t)m->p.n_outputs;
	scores = host->output_alloc(ctx, m->scores_name, CORRAL_DT_FP64, 2,
	    shape);
	if (scores == NULL) {
		corral_errf(err, errlen, "cannot allocate output \"%s\" "
		    "[%" PRId64 ", %" PRId64 "]", m->scores_name, shape[0],
		    shape[1]);
		return CORRAL_PLUGIN_NO_MEMORY;
	}
	if (m->p.link != LINEAR_LINK_IDENTITY) {
		labels = host->output_alloc(ctx, "label", CORRAL_DT_INT64, 1,
		    &n_rows);
		if (labels == NULL) {
			corral_errf(err, errlen, "cannot allocate output "
			    "\"label\" [%" PRId64 "]", n_rows);
			return CORRAL_PLUGIN_NO_MEMORY;
		}
	}

	for (int64_t r = 0; r < n_rows; r++) {
		if (linear_read_row(m, &inputs[0], r, err, errlen) != 0 ||
		    linear_scores(m, r, err, errlen) != 0)
			return CORRAL_PLUGIN_INVALID_ARGUMENT;
		linear_link_row(m, (size_t)r, scores, labels);
	}
	return CORRAL_PLUGIN_OK;
}

/* ------------------------------------------------------------------------
 * The descriptor
 * ------------------------------------------------------------------------ */

static const corral_plugin linear_plugin = {
	.magic = CORRAL_PLUGIN_MAGIC,
	.abi_major = CORRAL_PLUGIN_ABI_MAJOR,
	.abi_minor = CORRAL_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(corral_plugin),
	.name = "linear",
	.version = "1.0.0",
	.load = linear_load,
	.describe = linear_describe,
	.infer = linear_infer,
	.unload = linear_unload,
	.extra_syscalls = NULL,
};


CORRAL_PLUGIN_EXPORT const corral_plugin *CORRAL_PLUGIN_ENTRY(void)
{
	return &linear_plugin;
}
