/*
 * onnx_plugin.c - the `onnx` model plugin: ONNX models on ONNX Runtime's
 * C API (CPU execution provider).
 *
 * load() opens <version_dir>/model.onnx in a session with its own small
 * thread pool, reads the signature, and runs the model once on made-up
 * inputs so ORT's threads and lazy allocations exist before the worker is
 * confined. infer() hands the request's buffers to ORT (copying only what
 * ORT could not read in place), runs, and copies the outputs into the
 * host's buffers.
 *
 * See docs/plugins/onnx.md for parameters, types and limits.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_plugin.h"

#define ONNX_MODEL_FILE "model.onnx"
#define ONNX_MAX_THREADS 256
/* A warm-up input larger than this is not made up; the model is then
 * warmed by its first request instead. */
#define ONNX_WARMUP_MAX_BYTES ((size_t)64 << 20)

/* The host services and load arguments this plugin reads, by the ABI 1.0
 * field that must be present. */
#define ONNX_HOST_API_MIN \
	(offsetof(corral_host_api, log) + sizeof(((corral_host_api *)0)->log))
#define ONNX_LOAD_ARGS_MIN \
	(offsetof(corral_load_args, n_params) + sizeof(size_t))

/* What the model's config.yaml `parameters:` may say. */
typedef struct onnx_params {
	int intra_op_threads; /* intra_op_threads: default 1 */
	const char *outputs;  /* outputs: NULL for all */
} onnx_params;

static void onnx_log(const onnx_model *m, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void onnx_log(const onnx_model *m, int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (m->host->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	m->host->log(level, line);
}

/* ------------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------------ */

static void onnx_unload(void *handle)
{
	onnx_model *m = handle;

	if (m == NULL)
		return;
	if (m->ort != NULL) {
		onnx_run_release(m);
		m->ort->ReleaseRunOptions(m->run_options); /* NULL is fine */
		m->ort->ReleaseSession(m->session);
		m->ort->ReleaseMemoryInfo(m->cpu);
		onnx_runtime_release();
	}
	onnx_signature_free(m);
	free(m->input_specs);
	free(m->output_specs);
	free(m->input_names);
	free(m->output_names);
	free(m->input_values);
	free(m->output_values);
	free(m->feed);
	free(m->scratch);
	free(m);
}

static corral_plugin_error onnx_read_params(onnx_model *m,
    const corral_load_args *args, onnx_params *p, char *err, size_t errlen)
{
	p->intra_op_threads = 1;
	p->outputs = NULL;
	for (size_t i = 0; i < args->n_params; i++) {
		const char *key = args->params[i].key ? args->params[i].key : "";
		const char *value = args->params[i].value ? args->params[i].value : "";

		if (strcmp(key, "intra_op_threads") == 0) {
			char *end;
			long n;

			errno = 0;
			n = strtol(value, &end, 10);
			if (errno != 0 || end == value || *end != '\0' || n < 1 ||
			    n > ONNX_MAX_THREADS) {
				corral_errf(err, errlen, "onnx: parameter "
				    "intra_op_threads must be a whole number from 1 "
				    "to %d, got \"%s\"", ONNX_MAX_THREADS, value);
				return CORRAL_PLUGIN_INVALID_ARGUMENT;
			}
			p->intra_op_threads = (int)n;
		} else if (strcmp(key, "outputs") == 0) {
			p->outputs = value;
		} else {
			/* A config may carry keys meant for something else. */
			onnx_log(m, CORRAL_LOG_INFO, "onnx: ignoring parameter "
			    "\"%s\" (this plugin takes intra_op_threads and "
			    "outputs)", key);
		}
	}
	return CORRAL_PLUGIN_OK;
}

/* A session over `path`: a pool of `threads` for the model's operators,
 * none for running branches in parallel, and pool threads that sleep when
 * idle instead of spinning (a worker shares its host with other models'
 * workers). */
static corral_plugin_error onnx_open_session(onnx_model *m, OrtEnv *env,
    const char *path, int threads, char *err, size_t errlen)
{
	const OrtApi *ort = m->ort;
	OrtSessionOptions *opts = NULL;
	corral_plugin_error rc;
	OrtStatus *st;

	if ((st = ort->CreateSessionOptions(&opts)) != NULL ||
	    (st = ort->SetIntraOpNumThreads(opts, threads)) != NULL ||
	    (st = ort->SetInterOpNumThreads(opts, 1)) != NULL ||
	    (st = ort->SetSessionExecutionMode(opts, ORT_SEQUENTIAL)) != NULL ||
	    (st = ort->AddSessionConfigEntry(opts,
		"session.intra_op.allow_spinning", "0")) != NULL ||
	    (st = ort->AddSessionConfigEntry(opts,
		"session.inter_op.allow_spinning", "0")) != NULL) {
		ort->ReleaseSessionOptions(opts);
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "onnx: session options");
	}
	st = ort->CreateSession(env, path, opts, &m->session);
	ort->ReleaseSessionOptions(opts);
	rc = onnx_status(ort, st, CORRAL_PLUGIN_BAD_MODEL, err, errlen,
	    "onnx: %s", path);
	if (rc != CORRAL_PLUGIN_OK)
		return rc;
	/* Runs log only what is fatal: a failed run is answered with ORT's
	 * message, which ORT need not also log, once per bad request. */
	if ((st = ort->CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault,
		&m->cpu)) != NULL ||
	    (st = ort->GetAllocatorWithDefaultOptions(&m->alloc)) != NULL ||
	    (st = ort->CreateRunOptions(&m->run_options)) != NULL ||
	    (st = ort->RunOptionsSetRunLogSeverityLevel(m->run_options,
		ORT_LOGGING_LEVEL_FATAL)) != NULL)
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "onnx: session setup");
	return CORRAL_PLUGIN_OK;
}

/* The specs describe() hands out and the arrays each run uses. */
static corral_plugin_error onnx_prepare(onnx_model *m, char *err,
    size_t errlen)
{
	size_t ni = m->n_inputs ? m->n_inputs : 1, no = m->n_outputs;

	m->input_specs = calloc(ni, sizeof *m->input_specs);
	m->output_specs = calloc(no, sizeof *m->output_specs);
	m->input_names = calloc(ni, sizeof *m->input_names);
	m->output_names = calloc(no, sizeof *m->output_names);
	m->input_values = calloc(ni, sizeof *m->input_values);
	m->output_values = calloc(no, sizeof *m->output_values);
	m->feed = calloc(ni, sizeof *m->feed);
	if (!m->input_specs || !m->output_specs || !m->input_names ||
	    !m->output_names || !m->input_values || !m->output_values ||
	    !m->feed) {
		corral_errf(err, errlen, "onnx: out of memory");
		return CORRAL_PLUGIN_NO_MEMORY;
	}
	for (size_t i = 0; i < m->n_inputs; i++) {
		const onnx_port *p = &m->inputs[i];

		m->input_names[i] = p->name;
		m->input_specs[i] = (corral_tensor_spec){ .name = p->name,
			.dtype = p->dtype, .ndim = p->ndim, .shape = p->shape };
	}
	for (size_t j = 0; j < m->n_outputs; j++) {
		const onnx_port *p = &m->outputs[j];

		m->output_names[j] = p->name;
		m->output_specs[j] = (corral_tensor_spec){ .name = p->name,
			.dtype = p->dtype, .ndim = p->ndim, .shape = p->shape };
	}
	return CORRAL_PLUGIN_OK;
}

/* Outputs that declare no shape: take the rank the warm-up produced, every
 * dimension dynamic, so metadata does not call them scalars. */
static void onnx_learn_ranks(onnx_model *m)
{
	const OrtApi *ort = m->ort;

	for (size_t j = 0; j < m->n_outputs; j++) {
		onnx_port *p = &m->outputs[j];
		OrtTensorTypeAndShapeInfo *info;
		OrtStatus *st;
		size_t nd;

		if (p->rank_known)
			continue;
		st = ort->GetTensorTypeAndShape(m->output_values[j], &info);
		if (st != NULL) {
			ort->ReleaseStatus(st);
			continue;
		}
		st = ort->GetDimensionsCount(info, &nd);
		ort->ReleaseTensorTypeAndShapeInfo(info);
		if (st != NULL || nd > CORRAL_MAX_DIMS) {
			ort->ReleaseStatus(st);
			continue;
		}
		p->ndim = (uint32_t)nd;
		for (size_t d = 0; d < nd; d++)
			p->shape[d] = -1;
		p->rank_known = 1;
		m->output_specs[j].ndim = p->ndim;
	}
}

/*
 * Run once on inputs of the declared shapes (dynamic dimensions 1): ORT
 * creates its pool threads, fills its arena and initialises kernels lazily,
 * and all of that must happen before the worker is confined. Values are
 * 0 for floats and BOOL, 1 for integers (a 0 could be an integer divisor,
 * which traps), empty strings. A model these inputs do not suit (a reshape
 * that wants more elements, an index that must be in range) only loses
 * its warm-up: ORT's error is logged and the model serves anyway.
 */
static void onnx_warm_up(onnx_model *m)
{
	corral_tensor *t = calloc(m->n_inputs ? m->n_inputs : 1, sizeof *t);
	int64_t *shapes = calloc(m->n_inputs ? m->n_inputs * CORRAL_MAX_DIMS : 1,
	    sizeof *shapes);
	unsigned char **data = calloc(m->n_inputs ? m->n_inputs : 1,
	    sizeof *data);
	char err[512] = "";
	corral_plugin_error rc = CORRAL_PLUGIN_NO_MEMORY;

	if (t == NULL || shapes == NULL || data == NULL)
		goto out;
	for (size_t i = 0; i < m->n_inputs; i++) {
		const onnx_port *p = &m->inputs[i];
		int64_t *shape = shapes + i * CORRAL_MAX_DIMS, elements;
		size_t esize = corral_dtype_size(p->dtype);
		size_t unit = esize ? esize : 4; /* BYTES: an empty string */

		for (uint32_t d = 0; d < p->ndim; d++)
			shape[d] = p->shape[d] < 0 ? 1 : p->shape[d];
		elements = corral_shape_elements(shape, p->ndim);
		if (elements < 0 ||
		    (uint64_t)elements > ONNX_WARMUP_MAX_BYTES / unit) {
			onnx_log(m, CORRAL_LOG_WARN, "onnx: no warm-up: input "
			    "'%s' would take more than %zu bytes", p->name,
			    ONNX_WARMUP_MAX_BYTES);
			rc = CORRAL_PLUGIN_OK;
			goto out;
		}
		data[i] = calloc((size_t)elements ? (size_t)elements : 1, unit);
		if (data[i] == NULL)
			goto out;
		for (int64_t k = 0; k < elements; k++) {
			switch (p->dtype) {
			case CORRAL_DT_UINT8:
			case CORRAL_DT_INT8: data[i][k] = 1; break;
			case CORRAL_DT_UINT16:
			case CORRAL_DT_INT16: ((uint16_t *)data[i])[k] = 1; break;
			case CORRAL_DT_UINT32:
			case CORRAL_DT_INT32: ((uint32_t *)data[i])[k] = 1; break;
			case CORRAL_DT_UINT64:
			case CORRAL_DT_INT64: ((uint64_t *)data[i])[k] = 1; break;
			default: break; /* 0.0, false, "" */
			}
		}
		t[i] = (corral_tensor){ .name = p->name, .dtype = p->dtype,
			.ndim = p->ndim, .shape = shape, .data = data[i],
			.nbytes = (size_t)elements * unit };
		m->feed[i] = &t[i];
	}
	rc = onnx_run(m, err, sizeof err);
	if (rc == CORRAL_PLUGIN_OK)
		onnx_learn_ranks(m);
	onnx_run_release(m);
	if (rc != CORRAL_PLUGIN_OK)
		onnx_log(m, CORRAL_LOG_WARN, "onnx: warm-up run failed, so the "
		    "first request will warm the model up (confined); %s", err);
out:
	for (size_t j = 0; j < m->n_outputs; j++)
		if (!m->outputs[j].rank_known)
			onnx_log(m, CORRAL_LOG_WARN, "onnx: output '%s' declares "
			    "no shape and the warm-up could not show its rank: "
			    "metadata shows it as a scalar, replies carry its "
			    "real shape", m->outputs[j].name);
	if (rc == CORRAL_PLUGIN_NO_MEMORY && err[0] == '\0')
		onnx_log(m, CORRAL_LOG_WARN, "onnx: no warm-up: out of memory");
	for (size_t i = 0; data != NULL && i < m->n_inputs; i++)
		free(data[i]);
	for (size_t i = 0; i < m->n_inputs; i++)
		m->feed[i] = NULL;
	free(data);
	free(shapes);
	free(t);
}

static corral_plugin_error onnx_load(const corral_host_api *host,
    const corral_load_args *args, void **model, char *err, size_t errlen)
{
	static const char file[] = "/" ONNX_MODEL_FILE;
	corral_plugin_error rc;
	onnx_model *m = NULL;
	char *path = NULL;
	onnx_params params;
	OrtEnv *env;
	size_t dir_len;
	FILE *f;

	if (host == NULL || host->struct_size < ONNX_HOST_API_MIN ||
	    host->output_alloc == NULL) {
		corral_errf(err, errlen, "onnx: the host API is missing or older "
		    "than ABI 1.0");
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	if (args == NULL || args->struct_size < ONNX_LOAD_ARGS_MIN ||
	    args->version_dir == NULL ||
	    (args->n_params > 0 && args->params == NULL)) {
		corral_errf(err, errlen, "onnx: the load arguments are missing or "
		    "older than ABI 1.0");
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}

	rc = CORRAL_PLUGIN_NO_MEMORY;
	dir_len = strlen(args->version_dir);
	path = malloc(dir_len + sizeof file);
	m = calloc(1, sizeof *m);
	if (path == NULL || m == NULL) {
		corral_errf(err, errlen, "onnx: out of memory");
		goto fail;
	}
	memcpy(path, args->version_dir, dir_len);
	memcpy(path + dir_len, file, sizeof file);
	m->host = host;

	rc = onnx_read_params(m, args, &params, err, errlen);
	if (rc != CORRAL_PLUGIN_OK)
		goto fail;
	/* Say plainly when the file is not there or not readable; ORT's
	 * message for it is less direct. */
	f = fopen(path, "rb");
	if (f == NULL) {
		corral_errf(err, errlen, "onnx: cannot open %s: %s", path,
		    strerror(errno));
		rc = CORRAL_PLUGIN_IO;
		goto fail;
	}
	fclose(f);

	m->ort = onnx_runtime_acquire(host, &env, err, errlen);
	if (m->ort == NULL) {
		rc = CORRAL_PLUGIN_INTERNAL;
		goto fail;
	}
	rc = onnx_open_session(m, env, path, params.intra_op_threads, err,
	    errlen);
	if (rc != CORRAL_PLUGIN_OK)
		goto fail;
	rc = onnx_signature_read(m, params.outputs, err, errlen);
	if (rc != CORRAL_PLUGIN_OK)
		goto fail;
	rc = onnx_prepare(m, err, errlen);
	if (rc != CORRAL_PLUGIN_OK)
		goto fail;
	onnx_warm_up(m);

	onnx_log(m, CORRAL_LOG_INFO, "onnx: loaded %s version %" PRId64 ": %zu "
	    "inputs, %zu outputs, intra_op_threads %d, ONNX Runtime %s",
	    args->model_name ? args->model_name : "?", args->model_version,
	    m->n_inputs, m->n_outputs, params.intra_op_threads,
	    OrtGetApiBase()->GetVersionString());
	free(path);
	*model = m;
	return CORRAL_PLUGIN_OK;

fail:
	free(path);
	onnx_unload(m);
	return rc;
}

static corral_plugin_error onnx_describe(void *handle, corral_signature *sig,
    char *err, size_t errlen)
{
	onnx_model *m = handle;

	(void)err, (void)errlen;
	sig->inputs = m->input_specs;
	sig->n_inputs = m->n_inputs;
	sig->outputs = m->output_specs;
	sig->n_outputs = m->n_outputs;
	return CORRAL_PLUGIN_OK;
}

/* ------------------------------------------------------------------------
 * Inference
 * ------------------------------------------------------------------------ */

static corral_plugin_error onnx_infer(void *handle, corral_infer_ctx *ctx,
    const corral_tensor *inputs, size_t n_inputs, char *err, size_t errlen)
{
	onnx_model *m = handle;
	corral_plugin_error rc;

	rc = onnx_run_bind(m, inputs, n_inputs, err, errlen);
	if (rc == CORRAL_PLUGIN_OK)
		rc = onnx_run(m, err, errlen);
	if (rc == CORRAL_PLUGIN_OK) {
		rc = onnx_run_emit(m, ctx, err, errlen);
		onnx_run_release(m);
	}
	return rc;
}

/* ------------------------------------------------------------------------
 * The descriptor
 * ------------------------------------------------------------------------ */

static const corral_plugin onnx_plugin = {
	.magic = CORRAL_PLUGIN_MAGIC,
	.abi_major = CORRAL_PLUGIN_ABI_MAJOR,
	.abi_minor = CORRAL_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(corral_plugin),
	.name = "onnx",
	.version = "1.0.0",
	.load = onnx_load,
	.describe = onnx_describe,
	.infer = onnx_infer,
	.unload = onnx_unload,
	/*
	 * None. ORT's pool threads are made at load and sleep on futexes;
	 * runs use memory calls the base policy allows (mmap without
	 * PROT_EXEC, madvise, munmap). The one other thing ORT 1.30 does
	 * confined is telemetry (getrusage at a session's first run, then
	 * file writes and HTTPS uploads from its own threads): that is
	 * turned off (onnx_runtime.c), not allowed. Checked with strace
	 * and by onnx_daemon_test, intra_op_threads 1 and 2.
	 */
	.extra_syscalls = NULL,
};

CORRAL_PLUGIN_EXPORT const corral_plugin *CORRAL_PLUGIN_ENTRY(void)
{
	return &onnx_plugin;
}
