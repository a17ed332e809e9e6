/*
 * cli_encode.c - parsed numbers to raw tensor bytes.
 */
#include "cli_encode.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum encode_conv {
	CONV_OK,
	CONV_NOT_INTEGER,
	CONV_OUT_OF_RANGE,
} encode_conv;

bool cli_encode_supports(corral_dtype dt)
{
	switch (dt) {
	case CORRAL_DT_UINT8:
	case CORRAL_DT_UINT16:
	case CORRAL_DT_UINT32:
	case CORRAL_DT_UINT64:
	case CORRAL_DT_INT8:
	case CORRAL_DT_INT16:
	case CORRAL_DT_INT32:
	case CORRAL_DT_INT64:
	case CORRAL_DT_FP32:
	case CORRAL_DT_FP64: return true;
	default: return false;
	}
}

static double num_to_double(const cli_num *n)
{
	switch (n->kind) {
	case CLI_NUM_INT: return (double)n->v.i;
	case CLI_NUM_UINT: return (double)n->v.u;
	case CLI_NUM_REAL: break;
	}
	return n->v.r;
}

/* n as an integer in [lo, hi]. Range checks come before the cast because
 * converting an out-of-range double to an integer is undefined. */
static encode_conv num_to_signed(const cli_num *n, int64_t lo, int64_t hi,
    int64_t *out)
{
	int64_t i;

	switch (n->kind) {
	case CLI_NUM_INT:
		i = n->v.i;
		break;
	case CLI_NUM_UINT:
		return CONV_OUT_OF_RANGE;
	case CLI_NUM_REAL:
	default:
		if (!isfinite(n->v.r))
			return CONV_NOT_INTEGER;
		if (n->v.r >= 0x1p63 || n->v.r < -0x1p63)
			return CONV_OUT_OF_RANGE;
		i = (int64_t)n->v.r;
		if ((double)i != n->v.r)
			return CONV_NOT_INTEGER;
		break;
	}
	if (i < lo || i > hi)
		return CONV_OUT_OF_RANGE;
	*out = i;
	return CONV_OK;
}

static encode_conv num_to_unsigned(const cli_num *n, uint64_t hi,
    uint64_t *out)
{
	uint64_t u;

	switch (n->kind) {
	case CLI_NUM_INT:
		if (n->v.i < 0)
			return CONV_OUT_OF_RANGE;
		u = (uint64_t)n->v.i;
		break;
	case CLI_NUM_UINT:
		u = n->v.u;
		break;
	case CLI_NUM_REAL:
	default:
		if (!isfinite(n->v.r))
			return CONV_NOT_INTEGER;
		if (n->v.r >= 0x1p64 || n->v.r <= -1.0)
			return CONV_OUT_OF_RANGE;
		/* In (-1, 2^64): the truncation is defined. */
		u = (uint64_t)n->v.r;
		if ((double)u != n->v.r)
			return CONV_NOT_INTEGER;
		break;
	}
	if (u > hi)
		return CONV_OUT_OF_RANGE;
	*out = u;
	return CONV_OK;
}

/* Values at or past this round to infinity as a float (FLT_MAX plus half
 * an ulp), so anything below it, e.g. FLT_MAX printed with %.9g, fits. */
#define ENCODE_FP32_LIMIT 0x1.ffffffp+127

static encode_conv num_to_fp32(const cli_num *n, float *out)
{
	double d = num_to_double(n);
	if (isfinite(d) && (d >= ENCODE_FP32_LIMIT || d <= -ENCODE_FP32_LIMIT))
		return CONV_OUT_OF_RANGE;
	*out = (float)d;
	return CONV_OK;
}

static void store_le(unsigned char *p, uint64_t v, size_t size)
{
	for (size_t i = 0; i < size; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* One value, as `dt`, into the `size` bytes at p. */
static encode_conv encode_one(const cli_num *n, corral_dtype dt,
    unsigned char *p, size_t size)
{
	encode_conv c = CONV_OK;
	int64_t i = 0;
	uint64_t u = 0;

	switch (dt) {
	case CORRAL_DT_INT8: c = num_to_signed(n, INT8_MIN, INT8_MAX, &i); break;
	case CORRAL_DT_INT16: c = num_to_signed(n, INT16_MIN, INT16_MAX, &i); break;
	case CORRAL_DT_INT32: c = num_to_signed(n, INT32_MIN, INT32_MAX, &i); break;
	case CORRAL_DT_INT64: c = num_to_signed(n, INT64_MIN, INT64_MAX, &i); break;
	case CORRAL_DT_UINT8: c = num_to_unsigned(n, UINT8_MAX, &u); break;
	case CORRAL_DT_UINT16: c = num_to_unsigned(n, UINT16_MAX, &u); break;
	case CORRAL_DT_UINT32: c = num_to_unsigned(n, UINT32_MAX, &u); break;
	case CORRAL_DT_UINT64: c = num_to_unsigned(n, UINT64_MAX, &u); break;
	case CORRAL_DT_FP32: {
		float f = 0;
		uint32_t bits;
		c = num_to_fp32(n, &f);
		memcpy(&bits, &f, sizeof bits);
		u = bits;
		break;
	}
	case CORRAL_DT_FP64:
	default: {
		double d = num_to_double(n);
		memcpy(&u, &d, sizeof u);
		break;
	}
	}
	if (c != CONV_OK)
		return c;
	switch (dt) {
	case CORRAL_DT_INT8:
	case CORRAL_DT_INT16:
	case CORRAL_DT_INT32:
	case CORRAL_DT_INT64:
		/* Two's complement: the low `size` bytes are the value. */
		u = (uint64_t)i;
		break;
	default: break;
	}
	store_le(p, u, size);
	return CONV_OK;
}

static void format_num(const cli_num *n, char *buf, size_t len)
{
	switch (n->kind) {
	case CLI_NUM_INT: snprintf(buf, len, "%" PRId64, n->v.i); break;
	case CLI_NUM_UINT: snprintf(buf, len, "%" PRIu64, n->v.u); break;
	case CLI_NUM_REAL: snprintf(buf, len, "%.17g", n->v.r); break;
	}
}

cli_rc cli_encode(const cli_table *t, const char *name, corral_dtype dt,
    void **out, size_t *nbytes, char *err, size_t errlen)
{
	size_t size = corral_dtype_size(dt);
	size_t count = t->rows * t->cols; /* t->values holds that many */
	unsigned char *buf;

	if (!cli_encode_supports(dt)) {
		snprintf(err, errlen, "input '%s' is %s; corral infer sends only "
		    "FP32, FP64 and integer inputs", name,
		    corral_dtype_name(dt) ? corral_dtype_name(dt) : "INVALID");
		return CLI_EINVAL;
	}
	if (count > SIZE_MAX / size) {
		snprintf(err, errlen, "input '%s' is too large", name);
		return CLI_ENOMEM;
	}
	buf = malloc(count * size);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return CLI_ENOMEM;
	}
	for (size_t k = 0; k < count; k++) {
		encode_conv c = encode_one(&t->values[k], dt, buf + k * size,
		    size);
		char num[64];

		if (c == CONV_OK)
			continue;
		format_num(&t->values[k], num, sizeof num);
		snprintf(err, errlen, "input '%s', row %zu, column %zu: %s %s "
		    "(the model takes %s)", name, k / t->cols + 1,
		    k % t->cols + 1, num,
		    c == CONV_NOT_INTEGER ? "is not an integer" :
		    "is out of range", corral_dtype_name(dt));
		free(buf);
		return CLI_EINVAL;
	}
	*out = buf;
	*nbytes = count * size;
	return CLI_OK;
}
