/*
 * corral/tensor.h - tensor datatypes and views shared by plugins and clients.
 *
 * Datatype names are the Open Inference Protocol (KServe v2) names, so the
 * same words appear on the wire, in metadata and in this header.
 *
 * Everything here is header-only (static inline), so a plugin that includes
 * it links against nothing of corral.
 */
#ifndef CORRAL_TENSOR_H
#define CORRAL_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values are stable forever: they cross the plugin ABI. Append only. */
typedef enum corral_dtype {
	CORRAL_DT_INVALID = 0,
	CORRAL_DT_BOOL = 1,
	CORRAL_DT_UINT8 = 2,
	CORRAL_DT_UINT16 = 3,
	CORRAL_DT_UINT32 = 4,
	CORRAL_DT_UINT64 = 5,
	CORRAL_DT_INT8 = 6,
	CORRAL_DT_INT16 = 7,
	CORRAL_DT_INT32 = 8,
	CORRAL_DT_INT64 = 9,
	CORRAL_DT_FP16 = 10,
	CORRAL_DT_BF16 = 11,
	CORRAL_DT_FP32 = 12,
	CORRAL_DT_FP64 = 13,
	/* Variable-length elements. Raw form: each element is a 4-byte
	 * little-endian length followed by that many bytes (KServe's binary
	 * tensor layout). */
	CORRAL_DT_BYTES = 14,
	CORRAL_DT_COUNT_ = 15 /* not a type: one past the last */
} corral_dtype;

/* Most dimensions a tensor may have; more is an INVALID_ARGUMENT. */
#define CORRAL_MAX_DIMS 8

/*
 * A view of one tensor. Nothing in it is owned by the view: whoever hands a
 * corral_tensor to someone else states how long the pointers stay valid.
 * `data` holds `nbytes` bytes of little-endian, row-major values; for
 * fixed-size types nbytes == element count * corral_dtype_size(dtype).
 * A dimension of -1 appears only in signatures (dynamic), never in data.
 */
typedef struct corral_tensor {
	const char *name;
	corral_dtype dtype;
	uint32_t ndim;
	const int64_t *shape;
	const void *data;
	size_t nbytes;
} corral_tensor;

/* Size of one element in bytes; 0 for BYTES (variable) and invalid types. */
static inline size_t corral_dtype_size(corral_dtype dt)
{
	switch (dt) {
	case CORRAL_DT_BOOL:
	case CORRAL_DT_UINT8:
	case CORRAL_DT_INT8: return 1;
	case CORRAL_DT_UINT16:
	case CORRAL_DT_INT16:
	case CORRAL_DT_FP16:
	case CORRAL_DT_BF16: return 2;
	case CORRAL_DT_UINT32:
	case CORRAL_DT_INT32:
	case CORRAL_DT_FP32: return 4;
	case CORRAL_DT_UINT64:
	case CORRAL_DT_INT64:
	case CORRAL_DT_FP64: return 8;
	default: return 0;
	}
}

/* The KServe v2 name ("FP32", ...), or NULL for an invalid value. The
 * string is static. */
static inline const char *corral_dtype_name(corral_dtype dt)
{
	static const char *const names[CORRAL_DT_COUNT_] = {
		NULL, "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8",
		"INT16", "INT32", "INT64", "FP16", "BF16", "FP32", "FP64",
		"BYTES",
	};
	return (dt > CORRAL_DT_INVALID && dt < CORRAL_DT_COUNT_) ? names[dt] : NULL;
}

/* Parse a KServe v2 name of `len` bytes (not NUL-terminated);
 * CORRAL_DT_INVALID when unknown. Case-sensitive, as on the wire. */
static inline corral_dtype corral_dtype_parse(const char *s, size_t len)
{
	for (int dt = 1; dt < CORRAL_DT_COUNT_; dt++) {
		const char *n = corral_dtype_name((corral_dtype)dt);
		if (strlen(n) == len && memcmp(n, s, len) == 0)
			return (corral_dtype)dt;
	}
	return CORRAL_DT_INVALID;
}

/* Product of the dimensions; -1 if any is negative or the product
 * overflows int64. The product of zero dimensions (a scalar) is 1. */
static inline int64_t corral_shape_elements(const int64_t *shape, uint32_t ndim)
{
	int64_t n = 1;
	for (uint32_t i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return -1;
		if (shape[i] != 0 && n > INT64_MAX / shape[i])
			return -1;
		n *= shape[i];
	}
	return n;
}

#ifdef __cplusplus
}
#endif
#endif /* CORRAL_TENSOR_H */
