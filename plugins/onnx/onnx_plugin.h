/*
 * onnx_plugin.h - the onnx plugin's shared state, internal to the plugin
 * (built with hidden visibility: only corral_plugin_entry is exported).
 *
 *   onnx_plugin.c     the descriptor: load, describe, unload, warm-up
 *   onnx_runtime.c    ONNX Runtime for the whole process: API table, one
 *                     shared environment, its logger, error mapping
 *   onnx_signature.c  a session's inputs and outputs as corral specs
 *   onnx_run.c        one run: request tensors in, ORT values, outputs out
 */
#ifndef CORRAL_ONNX_PLUGIN_H
#define CORRAL_ONNX_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <corral/plugin.h>
#include <corral/plugin_util.h>
#include <onnxruntime_c_api.h>

/* One input or output of the model, as ONNX Runtime declares it. */
typedef struct onnx_port {
	char *name;                     /* owned */
	ONNXTensorElementDataType type; /* ORT's element type */
	corral_dtype dtype;             /* the same, in corral's words */
	uint32_t ndim;
	int64_t shape[CORRAL_MAX_DIMS]; /* -1: dynamic */
	int rank_known;                 /* 0: the model declares no shape */
} onnx_port;

typedef struct onnx_model {
	const corral_host_api *host; /* valid for the life of the process */
	const OrtApi *ort;
	OrtSession *session;
	OrtRunOptions *run_options;
	OrtMemoryInfo *cpu;     /* describes the buffers we hand to ORT */
	OrtAllocator *alloc;    /* ORT's default CPU allocator (not owned) */

	onnx_port *inputs;
	size_t n_inputs;
	onnx_port *outputs;     /* only those selected (parameter `outputs`) */
	size_t n_outputs;

	/* The signature describe() hands out; points into inputs/outputs. */
	corral_tensor_spec *input_specs;
	corral_tensor_spec *output_specs;

	/* Per-run arrays, sized once at load so infer() allocates none. */
	const char **input_names;   /* for Run(), in model order */
	const char **output_names;
	OrtValue **input_values;
	OrtValue **output_values;
	const corral_tensor **feed; /* the request's inputs, in model order */

	/* Copies of inputs that cannot be used in place (misaligned data,
	 * BOOL bytes other than 0 and 1). Grows, never shrinks. */
	unsigned char *scratch;
	size_t scratch_cap;
} onnx_model;

/* ------------------------------------------------------ onnx_runtime.c --- */

/* ORT's API table for ORT_API_VERSION, and a reference to the process's
 * one OrtEnv (created on first use, logging through host->log). Returns
 * NULL with a message in err. Pair with onnx_runtime_release(). */
const OrtApi *onnx_runtime_acquire(const corral_host_api *host, OrtEnv **env,
    char *err, size_t errlen);
void onnx_runtime_release(void);

/*
 * Turn a failed OrtStatus into a plugin error: err gets "<what>: <ORT's
 * message>", and the status is released. ORT's codes pick the error (a
 * missing file is IO, a bad protobuf or graph BAD_MODEL, a bad argument
 * INVALID_ARGUMENT, NOT_IMPLEMENTED UNSUPPORTED); any other code gives
 * `fallback`. A NULL status is OK.
 */
corral_plugin_error onnx_status(const OrtApi *ort, OrtStatus *st,
    corral_plugin_error fallback, char *err, size_t errlen,
    const char *what, ...) __attribute__((format(printf, 6, 7)));

/* The corral datatype that carries an ORT element type, or
 * CORRAL_DT_INVALID; STRING is carried as BYTES. */
corral_dtype onnx_dtype_from_ort(ONNXTensorElementDataType t);
/* "FLOAT", "COMPLEX64", ... as ONNX names them (static strings). */
const char *onnx_ort_type_name(ONNXTensorElementDataType t);


/* "[2, -1, 4]" into buf (truncated to fit). */
void onnx_format_shape(char *buf, size_t n, const int64_t *shape,
    size_t ndim);

/* ---------------------------------------------------- onnx_signature.c --- */

/*
 * Read m->session's inputs and the outputs to serve into m->inputs and
 * m->outputs. `select` is the `outputs` parameter (comma-separated names,
 * NULL for all). Inputs and selected outputs must be tensors of types
 * corral carries, else UNSUPPORTED naming the tensor.
 */
corral_plugin_error onnx_signature_read(onnx_model *m, const char *select,
    char *err, size_t errlen);

/* Free what onnx_signature_read() allocated. */
void onnx_signature_free(onnx_model *m);

/* ---------------------------------------------------------- onnx_run.c --- */

/*
 * Run the model on m->feed (one tensor per input, in model order, already
 * checked against the signature): build ORT values over the request's
 * buffers, run, and leave the outputs in m->output_values. On error every
 * value is released. onnx_run_release() releases them after a success.
 */
corral_plugin_error onnx_run(onnx_model *m, char *err, size_t errlen);
void onnx_run_release(onnx_model *m);

/* Copy m->output_values into buffers from host->output_alloc. */
corral_plugin_error onnx_run_emit(onnx_model *m, corral_infer_ctx *ctx,
    char *err, size_t errlen);

/* Check the request's inputs against the signature and fill m->feed. */
corral_plugin_error onnx_run_bind(onnx_model *m, const corral_tensor *inputs,
    size_t n_inputs, char *err, size_t errlen);

#endif
