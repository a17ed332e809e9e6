/*
 * outputs_test.c - the worker's output_alloc (core/worker/outputs.c): sizes,
 * refusals, the slot limit, reuse of buffers across requests, lookup.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outputs.h"
#include "test.h"

/* Outputs allocated so far, and nothing else was added by a refusal. */
#define CHECK_REFUSED(ctx, call)                                          \
	do {                                                              \
		size_t before_ = (ctx)->count;                            \
		CHECK((call) == NULL);                                    \
		CHECK_INT((ctx)->count, before_);                         \
	} while (0)

static void test_sizes(corral_infer_ctx *ctx)
{
	outputs_reset(ctx);
	int64_t shape[2] = {2, 3};
	void *y = outputs_alloc(ctx, "y", CORRAL_DT_FP32, 2, shape);
	REQUIRE(y != NULL);
	CHECK_INT((uintptr_t)y % 8, 0);
	memset(y, 0xab, 6 * sizeof(float)); /* ASan: exactly this many bytes */
	CHECK_INT(ctx->count, 1);

	const corral_tensor *t = outputs_find(ctx, "y", 1);
	REQUIRE(t != NULL);
	CHECK_STR(t->name, "y");
	CHECK_INT(t->dtype, CORRAL_DT_FP32);
	CHECK_INT(t->ndim, 2);
	CHECK_INT(t->shape[0], 2);
	CHECK_INT(t->shape[1], 3);
	CHECK(t->data == y);
	CHECK_INT(t->nbytes, 24);

	/* The name and shape are copied. */
	char name[8] = "z";
	int64_t s1[1] = {5};
	void *z = outputs_alloc(ctx, name, CORRAL_DT_INT64, 1, s1);
	REQUIRE(z != NULL);
	name[0] = 'q';
	s1[0] = 99;
	t = outputs_find(ctx, "z", 1);
	REQUIRE(t != NULL);
	CHECK_STR(t->name, "z");
	CHECK_INT(t->shape[0], 5);
	CHECK_INT(t->nbytes, 40);
	CHECK(outputs_find(ctx, "q", 1) == NULL);

	/* Every fixed-size datatype: elements * size bytes. */
	for (int dt = CORRAL_DT_BOOL; dt < CORRAL_DT_BYTES; dt++) {
		char n[16];
		snprintf(n, sizeof n, "dt%d", dt);
		int64_t sh[3] = {2, 1, 3};
		void *p = outputs_alloc(ctx, n, (corral_dtype)dt, 3, sh);
		CHECK_MSG(p != NULL, "dtype %d refused", dt);
		if (p == NULL)
			continue;
		size_t want = 6 * corral_dtype_size((corral_dtype)dt);
		memset(p, 0x5a, want);
		t = outputs_find(ctx, n, strlen(n));
		CHECK(t != NULL && t->nbytes == want && t->dtype == (corral_dtype)dt);
	}

	/* A scalar: no dimensions, one element; shape may be NULL then. */
	void *sc = outputs_alloc(ctx, "scalar", CORRAL_DT_FP64, 0, NULL);
	REQUIRE(sc != NULL);
	memset(sc, 0, 8);
	t = outputs_find(ctx, "scalar", 6);
	CHECK(t != NULL && t->nbytes == 8 && t->ndim == 0);

	/* Zero elements: success is a non-NULL pointer all the same. */
	int64_t zs[2] = {0, 4};
	void *e = outputs_alloc(ctx, "empty", CORRAL_DT_FP32, 2, zs);
	CHECK(e != NULL);
	t = outputs_find(ctx, "empty", 5);
	CHECK(t != NULL && t->nbytes == 0 && t->shape[0] == 0 && t->shape[1] == 4);

	/* Eight dimensions is the most, and fine. */
	int64_t s8[8] = {1, 2, 1, 2, 1, 2, 1, 2};
	void *p8 = outputs_alloc(ctx, "eight", CORRAL_DT_UINT8, 8, s8);
	CHECK(p8 != NULL);
	t = outputs_find(ctx, "eight", 5);
	CHECK(t != NULL && t->nbytes == 16 && t->ndim == 8 && t->shape[7] == 2);
}

static void test_refusals(corral_infer_ctx *ctx)
{
	outputs_reset(ctx);
	int64_t shape[2] = {2, 2};
	REQUIRE(outputs_alloc(ctx, "y", CORRAL_DT_FP32, 2, shape) != NULL);

	CHECK_REFUSED(ctx, outputs_alloc(ctx, "y", CORRAL_DT_FP32, 2, shape));
	CHECK_REFUSED(ctx, outputs_alloc(ctx, "y", CORRAL_DT_INT8, 1, shape));
	CHECK_REFUSED(ctx, outputs_alloc(ctx, "b", CORRAL_DT_BYTES, 2, shape));
	CHECK_REFUSED(ctx, outputs_alloc(ctx, "i", CORRAL_DT_INVALID, 2, shape));
	CHECK_REFUSED(ctx, outputs_alloc(ctx, "i", CORRAL_DT_COUNT_, 2, shape));
	CHECK_REFUSED(ctx, outputs_alloc(ctx, "i", (corral_dtype)1000, 2, shape));

	int64_t s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	CHECK_REFUSED(ctx, outputs_alloc(ctx, "nine", CORRAL_DT_FP32, 9, s9));
	CHECK_REFUSED(ctx, outputs_alloc(ctx, "huge_ndim", CORRAL_DT_FP32, UINT32_MAX, s9));

	int64_t neg[2] = {-1, 3};
	CHECK_REFUSED(ctx, outputs_alloc(ctx, "neg", CORRAL_DT_FP32, 2, neg));
	int64_t neg2[3] = {2, 3, INT64_MIN};
	CHECK_REFUSED(ctx, outputs_alloc(ctx, "neg2", CORRAL_DT_FP32, 3, neg2));
	CHECK_REFUSED(ctx, outputs_alloc(ctx, "noshape", CORRAL_DT_FP32, 2, NULL));

	/* Element counts past int64, and byte counts past size_t: refused
	 * before anything is allocated. */
	int64_t ovf[2] = {INT64_MAX / 2 + 1, 2};
	CHECK_REFUSED(ctx, outputs_alloc(ctx, "ovf", CORRAL_DT_UINT8, 2, ovf));
	int64_t big[1] = {INT64_MAX / 4 + 1}; /* 2^61 * 8 = 2^64 */
	CHECK_REFUSED(ctx, outputs_alloc(ctx, "big", CORRAL_DT_FP64, 1, big));

	CHECK_REFUSED(ctx, outputs_alloc(ctx, "", CORRAL_DT_FP32, 2, shape));
	CHECK_REFUSED(ctx, outputs_alloc(ctx, NULL, CORRAL_DT_FP32, 2, shape));
	CHECK(outputs_alloc(NULL, "x", CORRAL_DT_FP32, 2, shape) == NULL);

	char name[OUTPUT_NAME_MAX + 1];
	memset(name, 'n', OUTPUT_NAME_MAX);
	name[OUTPUT_NAME_MAX] = '\0';
	CHECK_REFUSED(ctx, outputs_alloc(ctx, name, CORRAL_DT_FP32, 2, shape));
	name[OUTPUT_NAME_MAX - 1] = '\0'; /* the longest name that fits */
	CHECK(outputs_alloc(ctx, name, CORRAL_DT_FP32, 2, shape) != NULL);
	const corral_tensor *t = outputs_find(ctx, name, OUTPUT_NAME_MAX - 1);
	CHECK(t != NULL && strcmp(t->name, name) == 0);

	/* Still usable after all those refusals. */
	CHECK(outputs_alloc(ctx, "after", CORRAL_DT_FP32, 2, shape) != NULL);
	CHECK_INT(ctx->count, 3);
}

static void test_limit(corral_infer_ctx *ctx)
{
	outputs_reset(ctx);
	int64_t shape[1] = {3};
	for (int i = 0; i < OUTPUTS_MAX; i++) {
		char n[16];
		snprintf(n, sizeof n, "o%d", i);
		CHECK_MSG(outputs_alloc(ctx, n, CORRAL_DT_INT32, 1, shape) != NULL,
		    "output %d refused", i);
	}
	CHECK_INT(ctx->count, OUTPUTS_MAX);
	CHECK_REFUSED(ctx, outputs_alloc(ctx, "one_more", CORRAL_DT_INT32, 1, shape));
	CHECK(outputs_find(ctx, "o0", 2) != NULL);
	CHECK(outputs_find(ctx, "o63", 3) != NULL);
	CHECK(outputs_find(ctx, "one_more", 8) == NULL);
}

static void test_reuse_and_find(corral_infer_ctx *ctx)
{
	outputs_reset(ctx);
	CHECK_INT(ctx->count, 0);
	CHECK(outputs_find(ctx, "o0", 2) == NULL);

	int64_t big[1] = {100};
	void *a = outputs_alloc(ctx, "a", CORRAL_DT_FP64, 1, big);
	REQUIRE(a != NULL);
	memset(a, 1, 800);

	/* Next request: a smaller output in the same slot keeps the buffer. */
	outputs_reset(ctx);
	CHECK(outputs_find(ctx, "a", 1) == NULL);
	int64_t small[1] = {10};
	void *b = outputs_alloc(ctx, "b", CORRAL_DT_FP64, 1, small);
	CHECK(b == a);
	const corral_tensor *t = outputs_find(ctx, "b", 1);
	CHECK(t != NULL && t->nbytes == 80);
	/* ... and the name freed by the reset can be used again. */
	void *a2 = outputs_alloc(ctx, "a", CORRAL_DT_FP64, 1, big);
	REQUIRE(a2 != NULL);
	memset(a2, 2, 800);

	/* A larger one grows the slot. */
	outputs_reset(ctx);
	int64_t bigger[2] = {100, 10};
	void *c = outputs_alloc(ctx, "c", CORRAL_DT_FP64, 2, bigger);
	REQUIRE(c != NULL);
	memset(c, 3, 8000);
	t = outputs_find(ctx, "c", 1);
	CHECK(t != NULL && t->nbytes == 8000 && t->data == c);

	/* Lookup compares exactly n bytes against the whole name. */
	CHECK(outputs_alloc(ctx, "cat", CORRAL_DT_UINT8, 1, small) != NULL);
	CHECK(outputs_find(ctx, "c", 1) != NULL && strcmp(outputs_find(ctx, "c", 1)->name, "c") == 0);
	CHECK(strcmp(outputs_find(ctx, "cat", 3)->name, "cat") == 0);
	CHECK(strcmp(outputs_find(ctx, "catalog", 3)->name, "cat") == 0);
	CHECK(outputs_find(ctx, "ca", 2) == NULL);
	CHECK(outputs_find(ctx, "cats", 4) == NULL);
	CHECK(outputs_find(ctx, "", 0) == NULL);
}

/* BYTES outputs: the plugin sizes the buffer; the host checks the layout. */
static void test_bytes(corral_infer_ctx *ctx)
{
	outputs_reset(ctx);
	int64_t shape[1] = {2};
	/* "ab" and "" : 4 + 2 + 4 bytes */
	unsigned char *b = outputs_alloc_bytes(ctx, "s", 1, shape, 10);
	REQUIRE(b != NULL);
	const unsigned char good[10] = {2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0};
	memcpy(b, good, sizeof good);
	const corral_tensor *t = outputs_find(ctx, "s", 1);
	CHECK(t && t->dtype == CORRAL_DT_BYTES && t->nbytes == 10);
	CHECK(outputs_bad_bytes(ctx) == NULL);
	b[0] = 3; /* the first length now runs into the second element */
	CHECK(outputs_bad_bytes(ctx) == t);

	/* Too small to hold even the lengths; duplicate name; bad shape. */
	CHECK(outputs_alloc_bytes(ctx, "t", 1, shape, 7) == NULL);
	CHECK(outputs_alloc_bytes(ctx, "s", 1, shape, 10) == NULL);
	int64_t neg[1] = {-1};
	CHECK(outputs_alloc_bytes(ctx, "u", 1, neg, 10) == NULL);
	/* Zero elements, zero bytes: a valid, empty output. */
	int64_t none[1] = {0};
	CHECK(outputs_alloc_bytes(ctx, "v", 1, none, 0) != NULL);
	b[0] = 2;
	CHECK(outputs_bad_bytes(ctx) == NULL);
	outputs_reset(ctx);
}

int main(void)
{
	corral_infer_ctx *ctx = calloc(1, sizeof *ctx);
	REQUIRE(ctx != NULL);

	test_sizes(ctx);
	test_refusals(ctx);
	test_limit(ctx);
	test_reuse_and_find(ctx);
	test_bytes(ctx);
	/* Twice round the whole lot: every slot now has an old buffer. */
	test_sizes(ctx);
	test_limit(ctx);

	for (size_t i = 0; i < OUTPUTS_MAX; i++)
		free(ctx->slots[i].buf);
	free(ctx);
	TEST_MAIN_END();
}
