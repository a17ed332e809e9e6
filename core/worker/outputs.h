/*
 * outputs.h - the worker's side of corral_host_api.output_alloc: the output
 * tensors a plugin allocates during one infer() call.
 *
 * Buffers are kept between requests and only grow, so a worker in steady
 * state allocates nothing per request. Single-threaded: the worker serves
 * one request at a time.
 */
#ifndef CORRAL_WORKER_OUTPUTS_H
#define CORRAL_WORKER_OUTPUTS_H

#include <corral/plugin.h>

#define OUTPUTS_MAX 64
#define OUTPUT_NAME_MAX 128

struct output_slot {
	char name[OUTPUT_NAME_MAX];
	int64_t shape[CORRAL_MAX_DIMS];
	corral_tensor view; /* name, shape and data point into this slot */
	void *buf;
	size_t cap;
};

/* Defined here, opaque to plugins (plugin.h). */
struct corral_infer_ctx {
	size_t count;
	struct output_slot slots[OUTPUTS_MAX];
};

/* Forget the previous request's outputs (buffers are kept). */
void outputs_reset(corral_infer_ctx *ctx);

/* The host_api entry; see corral_host_api.output_alloc. */
void *outputs_alloc(corral_infer_ctx *ctx, const char *name,
    corral_dtype dtype, uint32_t ndim, const int64_t *shape);

/* The host_api entry for BYTES outputs; see
 * corral_host_api.output_alloc_bytes. */
void *outputs_alloc_bytes(corral_infer_ctx *ctx, const char *name,
    uint32_t ndim, const int64_t *shape, size_t nbytes);

/* The first BYTES output whose data is not exactly its elements in the
 * raw layout (the plugin filled it wrongly), or NULL. */
const corral_tensor *outputs_bad_bytes(const corral_infer_ctx *ctx);

/* The output called name (n bytes), or NULL. */
const corral_tensor *outputs_find(const corral_infer_ctx *ctx,
    const char *name, size_t n);

#endif
