/* outputs.c - output tensors allocated by a plugin during infer(). */
#include <stdlib.h>

#include "../wire/wire.h"
#include "outputs.h"

void outputs_reset(corral_infer_ctx *ctx)
{
	ctx->count = 0;
}

const corral_tensor *outputs_find(const corral_infer_ctx *ctx,
    const char *name, size_t n)
{
	for (size_t i = 0; i < ctx->count; i++) {
		const char *s = ctx->slots[i].name;
		if (strlen(s) == n && memcmp(s, name, n) == 0)
			return &ctx->slots[i].view;
	}
	return NULL;
}

/* A slot for output `name` of `bytes` bytes (checked by the callers). */
static void *outputs_slot(corral_infer_ctx *ctx, const char *name,
    corral_dtype dtype, uint32_t ndim, const int64_t *shape, size_t bytes)
{
	size_t name_len = name ? strlen(name) : 0;
	if (ctx == NULL || name_len == 0 || name_len >= OUTPUT_NAME_MAX ||
	    ndim > CORRAL_MAX_DIMS || (ndim > 0 && shape == NULL) ||
	    ctx->count == OUTPUTS_MAX || outputs_find(ctx, name, name_len) != NULL)
		return NULL;
	struct output_slot *s = &ctx->slots[ctx->count];
	if (bytes > s->cap) {
		void *p = realloc(s->buf, bytes);
		if (p == NULL)
			return NULL;
		s->buf = p;
		s->cap = bytes;
	}
	memcpy(s->name, name, name_len + 1);
	if (ndim > 0)
		memcpy(s->shape, shape, ndim * sizeof *shape);
	s->view = (corral_tensor){
	    .name = s->name, .dtype = dtype, .ndim = ndim, .shape = s->shape,
	    .data = s->buf, .nbytes = bytes};
	ctx->count++;
	/* A zero-byte output still needs a non-NULL pointer to mean success. */
	return bytes ? s->buf : (void *)s->shape;
}

void *outputs_alloc(corral_infer_ctx *ctx, const char *name,
    corral_dtype dtype, uint32_t ndim, const int64_t *shape)
{
	size_t esize = corral_dtype_size(dtype);
	if (esize == 0 || ndim > CORRAL_MAX_DIMS || (ndim > 0 && shape == NULL))
		return NULL;
	int64_t n = corral_shape_elements(shape, ndim);
	if (n < 0 || (uint64_t)n > SIZE_MAX / esize)
		return NULL;
	return outputs_slot(ctx, name, dtype, ndim, shape, (size_t)n * esize);
}

void *outputs_alloc_bytes(corral_infer_ctx *ctx, const char *name,
    uint32_t ndim, const int64_t *shape, size_t nbytes)
{
	if (ndim > CORRAL_MAX_DIMS || (ndim > 0 && shape == NULL))
		return NULL;
	int64_t n = corral_shape_elements(shape, ndim);
	/* Each element takes at least its 4-byte length. */
	if (n < 0 || (uint64_t)n > nbytes / 4)
		return NULL;
	return outputs_slot(ctx, name, CORRAL_DT_BYTES, ndim, shape, nbytes);
}

const corral_tensor *outputs_bad_bytes(const corral_infer_ctx *ctx)
{
	for (size_t i = 0; i < ctx->count; i++) {
		const corral_tensor *t = &ctx->slots[i].view;
		if (t->dtype == CORRAL_DT_BYTES &&
		    !wire_bytes_layout_ok(t->data, t->nbytes,
			corral_shape_elements(t->shape, t->ndim)))
			return t;
	}
	return NULL;
}
