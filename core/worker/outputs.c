/* outputs.c - output tensors allocated by a plugin during infer(). */
#include <stdlib.h>

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

void *outputs_alloc(corral_infer_ctx *ctx, const char *name,
    corral_dtype dtype, uint32_t ndim, const int64_t *shape)
{
	size_t esize = corral_dtype_size(dtype);
	size_t name_len = name ? strlen(name) : 0;
	if (ctx == NULL || name_len == 0 || name_len >= OUTPUT_NAME_MAX ||
	    esize == 0 || ndim > CORRAL_MAX_DIMS ||
	    (ndim > 0 && shape == NULL) || ctx->count == OUTPUTS_MAX ||
	    outputs_find(ctx, name, name_len) != NULL)
		return NULL;
	int64_t n = corral_shape_elements(shape, ndim);
	if (n < 0 || (uint64_t)n > SIZE_MAX / esize)
		return NULL;
	size_t bytes = (size_t)n * esize;

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
