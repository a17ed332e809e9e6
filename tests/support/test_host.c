/* test_host.c - the in-process test host (test_host.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_host.h"

size_t test_host_output_offset = 1;
int test_log_count[CORRAL_LOG_DEBUG + 1];
char test_log_last[CORRAL_LOG_DEBUG + 1][1024];
int test_log_verbose;

/* A new output slot for name, or NULL (counted as a bad call) when name
 * is missing, too long, repeated or one too many, or the shape is bad or
 * has more than max_elements elements. */
static test_output *output_new(corral_infer_ctx *ctx, const char *name,
    uint32_t ndim, const int64_t *shape, uint64_t max_elements,
    int64_t *elements)
{
	test_output *o;

	if (name == NULL || strlen(name) >= sizeof o->name ||
	    ctx->n == TEST_MAX_OUTPUTS || ndim > CORRAL_MAX_DIMS ||
	    (ndim > 0 && shape == NULL) ||
	    (*elements = corral_shape_elements(shape, ndim)) < 0 ||
	    (uint64_t)*elements > max_elements) {
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
	o->ndim = ndim;
	if (ndim > 0)
		memcpy(o->shape, shape, ndim * sizeof *shape);
	return o;
}

static void *output_buffer(test_output *o, size_t nbytes)
{
	o->nbytes = nbytes;
	o->mem = malloc(nbytes + test_host_output_offset + 1);
	REQUIRE(o->mem != NULL);
	o->data = o->mem + test_host_output_offset;
	return o->data;
}

/* output_alloc as the ABI describes it: NULL for a repeated name, a bad
 * shape, BYTES or no memory. Zero elements get a valid (empty) buffer. */
static void *test_output_alloc(corral_infer_ctx *ctx, const char *name,
    corral_dtype dtype, uint32_t ndim, const int64_t *shape)
{
	test_output *o;
	int64_t elements;

	if (ctx->fail_alloc)
		return NULL;
	if (corral_dtype_size(dtype) == 0) {
		ctx->bad_calls++;
		return NULL;
	}
	o = output_new(ctx, name, ndim, shape, UINT64_MAX, &elements);
	if (o == NULL)
		return NULL;
	o->dtype = dtype;
	return output_buffer(o, (size_t)elements * corral_dtype_size(dtype));
}

/* output_alloc_bytes as the ABI describes it: room for at least the
 * 4-byte length of every element. The layout is checked when the output
 * is compared. */
static void *test_output_alloc_bytes(corral_infer_ctx *ctx, const char *name,
    uint32_t ndim, const int64_t *shape, size_t nbytes)
{
	test_output *o;
	int64_t elements;

	if (ctx->fail_alloc)
		return NULL;
	o = output_new(ctx, name, ndim, shape, nbytes / 4, &elements);
	if (o == NULL)
		return NULL;
	o->dtype = CORRAL_DT_BYTES;
	return output_buffer(o, nbytes);
}

void test_ctx_reset(corral_infer_ctx *ctx)
{
	for (size_t i = 0; i < ctx->n; i++)
		free(ctx->out[i].mem);
	memset(ctx, 0, sizeof *ctx);
}

const test_output *test_ctx_find(const corral_infer_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->n; i++)
		if (strcmp(ctx->out[i].name, name) == 0)
			return &ctx->out[i];
	return NULL;
}

static void test_log(int level, const char *msg)
{
	if (level >= 0 && level <= CORRAL_LOG_DEBUG) {
		test_log_count[level]++;
		snprintf(test_log_last[level], sizeof test_log_last[level], "%s",
		    msg);
	}
	if (test_log_verbose)
		fprintf(stderr, "log %d: %s\n", level, msg);
}

void test_log_clear(void)
{
	memset(test_log_count, 0, sizeof test_log_count);
	memset(test_log_last, 0, sizeof test_log_last);
}

const corral_host_api test_host = {
	.struct_size = sizeof(corral_host_api),
	.output_alloc = test_output_alloc,
	.log = test_log,
	.output_alloc_bytes = test_output_alloc_bytes,
};
