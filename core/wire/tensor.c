/*
 * tensor.c - tensors on the wire: decoding with checks, and the canonical
 * encoding {name, datatype, shape, data: bin}.
 *
 * Raw tensor data is little-endian. corral builds only for little-endian
 * hosts (checked below), so raw values are the host's own bytes.
 */
#include <math.h>
#include <stdio.h>

#include "wire.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "corral's wire format assumes a little-endian host"
#endif

/* ------------------------------------------------- half-precision --- */

/*
 * A 16-bit IEEE-style float with `ebits` exponent and `mbits` mantissa bits
 * (binary16: 5/10, bfloat16: 8/7) from a double, rounding to nearest even
 * in one step (going through float first would round twice). Hand-written
 * because no Debian C library offers it without a C++ or GPU stack.
 */
static uint16_t half_from_double(double d, int ebits, int mbits)
{
	uint64_t x;
	memcpy(&x, &d, 8);
	uint32_t sign = (uint32_t)(x >> 63) << (ebits + mbits);
	int exp = (int)((x >> 52) & 0x7ff);
	uint64_t mant = x & ((1ull << 52) - 1);
	uint32_t inf = ((1u << ebits) - 1) << mbits;
	if (exp == 0x7ff) /* inf, or NaN kept quiet */
		return (uint16_t)(sign | inf | (mant ? 1u << (mbits - 1) : 0));
	if (exp == 0) /* double subnormals are far below any 16-bit value */
		return (uint16_t)sign;
	int e = exp - 1023 + (1 << (ebits - 1)) - 1; /* target's biased exponent */
	if (e >= (1 << ebits) - 1)
		return (uint16_t)(sign | inf);
	mant |= 1ull << 52;
	int shift = 52 - mbits + (e <= 0 ? 1 - e : 0);
	if (shift > 62)
		return (uint16_t)sign;
	uint64_t q = mant >> shift, rem = mant & ((1ull << shift) - 1);
	uint64_t half = 1ull << (shift - 1);
	if (rem > half || (rem == half && (q & 1)))
		q++;
	/* A carry out of the mantissa moves into the exponent (or from the
	 * subnormals into the normals, or up to infinity): the sum is right. */
	uint64_t bits = e <= 0 ? q : ((uint64_t)e << mbits) + q - (1ull << mbits);
	return (uint16_t)(sign | bits);
}

static uint16_t fp16_from_double(double d)
{
	return half_from_double(d, 5, 10);
}

static uint16_t bf16_from_double(double d)
{
	return half_from_double(d, 8, 7);
}

/* ----------------------------------------------- scalar conversion --- */

static bool scalar_is_number(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
	    o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64;
}

static double scalar_as_double(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER: return (double)o->via.u64;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return (double)o->via.i64;
	default: return o->via.f64;
	}
}

/* Does integer object o fit [lo, hi]? */
static bool scalar_int_fits(const msgpack_object *o, int64_t lo, uint64_t hi)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return o->via.u64 <= hi;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return o->via.i64 >= lo;
	return false;
}

/* Can o be stored as dt without loss (floats: without leaving the type)? */
static bool scalar_check(const msgpack_object *o, corral_dtype dt)
{
	switch (dt) {
	case CORRAL_DT_BOOL:
		return o->type == MSGPACK_OBJECT_BOOLEAN ||
		    scalar_int_fits(o, 0, 1);
	case CORRAL_DT_UINT8: return scalar_int_fits(o, 0, UINT8_MAX);
	case CORRAL_DT_UINT16: return scalar_int_fits(o, 0, UINT16_MAX);
	case CORRAL_DT_UINT32: return scalar_int_fits(o, 0, UINT32_MAX);
	case CORRAL_DT_UINT64: return scalar_int_fits(o, 0, UINT64_MAX);
	case CORRAL_DT_INT8: return scalar_int_fits(o, INT8_MIN, INT8_MAX);
	case CORRAL_DT_INT16: return scalar_int_fits(o, INT16_MIN, INT16_MAX);
	case CORRAL_DT_INT32: return scalar_int_fits(o, INT32_MIN, INT32_MAX);
	case CORRAL_DT_INT64: return scalar_int_fits(o, INT64_MIN, INT64_MAX);
	case CORRAL_DT_FP16:
	case CORRAL_DT_BF16:
	case CORRAL_DT_FP32:
	case CORRAL_DT_FP64: return scalar_is_number(o);
	case CORRAL_DT_BYTES:
		return (o->type == MSGPACK_OBJECT_STR ||
			   o->type == MSGPACK_OBJECT_BIN) &&
		    o->via.str.size <= UINT32_MAX;
	default: return false;
	}
}

/* Raw bytes of a checked scalar; returns how many were written to out
 * (BYTES: only the 4-byte length prefix; the caller writes the body). */
static size_t scalar_encode(const msgpack_object *o, corral_dtype dt,
    unsigned char out[8])
{
	union {
		uint8_t u8;
		uint16_t u16;
		uint32_t u32;
		uint64_t u64;
		float f32;
		double f64;
	} v;
	int64_t i = o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? o->via.i64
							       : (int64_t)o->via.u64;
	switch (dt) {
	case CORRAL_DT_BOOL:
		v.u8 = o->type == MSGPACK_OBJECT_BOOLEAN ? o->via.boolean : (uint8_t)i;
		break;
	case CORRAL_DT_UINT8:
	case CORRAL_DT_INT8: v.u8 = (uint8_t)i; break;
	case CORRAL_DT_UINT16:
	case CORRAL_DT_INT16: v.u16 = (uint16_t)i; break;
	case CORRAL_DT_UINT32:
	case CORRAL_DT_INT32: v.u32 = (uint32_t)i; break;
	case CORRAL_DT_UINT64:
	case CORRAL_DT_INT64: v.u64 = (uint64_t)i; break;
	case CORRAL_DT_FP16: v.u16 = fp16_from_double(scalar_as_double(o)); break;
	case CORRAL_DT_BF16: v.u16 = bf16_from_double(scalar_as_double(o)); break;
	case CORRAL_DT_FP32: v.f32 = (float)scalar_as_double(o); break;
	case CORRAL_DT_FP64: v.f64 = scalar_as_double(o); break;
	case CORRAL_DT_BYTES: v.u32 = o->via.str.size; memcpy(out, &v, 4); return 4;
	default: return 0;
	}
	size_t n = corral_dtype_size(dt);
	memcpy(out, &v, n);
	return n;
}

/* ------------------------------------------------ walking array data --- */

/* Calls fn on each scalar of a (possibly nested) array in row-major order;
 * stops at the first non-zero return and returns it. Depth is bounded by
 * the unpacker's own nesting limit. */
typedef int (*scalar_fn)(const msgpack_object *o, void *arg);

static int walk_scalars(const msgpack_object *o, scalar_fn fn, void *arg)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return fn(o, arg);
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		int r = walk_scalars(&o->via.array.ptr[i], fn, arg);
		if (r)
			return r;
	}
	return 0;
}

struct count_state {
	corral_dtype dtype;
	int64_t count;
	size_t nbytes;
};

static int count_scalar(const msgpack_object *o, void *arg)
{
	struct count_state *s = arg;
	if (!scalar_check(o, s->dtype))
		return 1;
	s->count++;
	s->nbytes += s->dtype == CORRAL_DT_BYTES ? 4 + (size_t)o->via.str.size
						 : corral_dtype_size(s->dtype);
	return 0;
}

/* Buffered writer for converted values: fewer, larger packer writes. */
struct pack_state {
	msgpack_packer *pk;
	corral_dtype dtype;
	size_t used;
	unsigned char buf[4096];
};

static int pack_flush(struct pack_state *s)
{
	int r = s->used ? msgpack_pack_bin_body(s->pk, s->buf, s->used) : 0;
	s->used = 0;
	return r;
}

static int pack_scalar(const msgpack_object *o, void *arg)
{
	struct pack_state *s = arg;
	if (s->used + 8 > sizeof s->buf && pack_flush(s))
		return -1;
	s->used += scalar_encode(o, s->dtype, s->buf + s->used);
	if (s->dtype == CORRAL_DT_BYTES) {
		if (pack_flush(s) ||
		    msgpack_pack_bin_body(s->pk, o->via.str.ptr, o->via.str.size))
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------- decoding --- */

/* Nested array data must follow the shape exactly: level k holds shape[k]
 * entries and scalars sit at the bottom. */
static bool nesting_matches(const msgpack_object *o, const int64_t *shape,
    uint32_t ndim)
{
	if (ndim == 0)
		return o->type != MSGPACK_OBJECT_ARRAY;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != (uint64_t)shape[0])
		return false;
	for (uint32_t i = 0; i < o->via.array.size; i++)
		if (!nesting_matches(&o->via.array.ptr[i], shape + 1, ndim - 1))
			return false;
	return true;
}

/* Flat array data holds no arrays at all. */
static bool is_flat(const msgpack_object *o)
{
	for (uint32_t i = 0; i < o->via.array.size; i++)
		if (o->via.array.ptr[i].type == MSGPACK_OBJECT_ARRAY)
			return false;
	return true;
}

bool wire_bytes_layout_ok(const void *data, size_t n, int64_t elements)
{
	const unsigned char *p = data;
	size_t off = 0;
	if (elements < 0)
		return false;
	for (int64_t i = 0; i < elements; i++) {
		uint32_t len;
		if (n - off < 4)
			return false;
		memcpy(&len, p + off, 4);
		off += 4;
		if (n - off < len)
			return false;
		off += len;
	}
	return off == n;
}

corral_status wire_tensor_decode(const msgpack_object *o, wire_tensor *t,
    char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	if (o->type != MSGPACK_OBJECT_MAP) {
		snprintf(err, errlen, "a tensor must be a map");
		return CORRAL_E_INVALID_ARGUMENT;
	}
	const msgpack_object *name = wire_map_get(o, "name");
	if (name == NULL || name->type != MSGPACK_OBJECT_STR || name->via.str.size == 0) {
		snprintf(err, errlen, "a tensor needs a non-empty string 'name'");
		return CORRAL_E_INVALID_ARGUMENT;
	}
	t->name.ptr = name->via.str.ptr;
	t->name.len = name->via.str.size;
	int nl = t->name.len > 64 ? 64 : (int)t->name.len;

	const msgpack_object *dt = wire_map_get(o, "datatype");
	if (dt == NULL || dt->type != MSGPACK_OBJECT_STR) {
		snprintf(err, errlen, "tensor '%.*s' needs a string 'datatype'", nl, t->name.ptr);
		return CORRAL_E_INVALID_ARGUMENT;
	}
	t->dtype = corral_dtype_parse(dt->via.str.ptr, dt->via.str.size);
	if (t->dtype == CORRAL_DT_INVALID) {
		snprintf(err, errlen, "tensor '%.*s': unknown datatype '%.*s'", nl,
		    t->name.ptr, dt->via.str.size > 32 ? 32 : (int)dt->via.str.size,
		    dt->via.str.ptr);
		return CORRAL_E_INVALID_ARGUMENT;
	}

	const msgpack_object *shape = wire_map_get(o, "shape");
	if (shape == NULL || shape->type != MSGPACK_OBJECT_ARRAY) {
		snprintf(err, errlen, "tensor '%.*s' needs an array 'shape'", nl, t->name.ptr);
		return CORRAL_E_INVALID_ARGUMENT;
	}
	if (shape->via.array.size > CORRAL_MAX_DIMS) {
		snprintf(err, errlen, "tensor '%.*s' has %u dimensions (at most %d)", nl,
		    t->name.ptr, shape->via.array.size, CORRAL_MAX_DIMS);
		return CORRAL_E_INVALID_ARGUMENT;
	}
	t->ndim = shape->via.array.size;
	for (uint32_t i = 0; i < t->ndim; i++) {
		const msgpack_object *d = &shape->via.array.ptr[i];
		if (d->type != MSGPACK_OBJECT_POSITIVE_INTEGER || d->via.u64 > INT64_MAX) {
			snprintf(err, errlen, "tensor '%.*s': shape[%u] must be a non-negative integer",
			    nl, t->name.ptr, i);
			return CORRAL_E_INVALID_ARGUMENT;
		}
		t->shape[i] = (int64_t)d->via.u64;
	}
	t->elements = corral_shape_elements(t->shape, t->ndim);
	if (t->elements < 0) {
		snprintf(err, errlen, "tensor '%.*s': shape has too many elements", nl, t->name.ptr);
		return CORRAL_E_SHAPE_MISMATCH;
	}

	const msgpack_object *data = wire_map_get(o, "data");
	if (data == NULL) {
		snprintf(err, errlen, "tensor '%.*s' needs 'data'", nl, t->name.ptr);
		return CORRAL_E_INVALID_ARGUMENT;
	}
	if (data->type == MSGPACK_OBJECT_BIN) {
		t->raw = data->via.bin.ptr;
		t->nbytes = data->via.bin.size;
		size_t esize = corral_dtype_size(t->dtype);
		bool ok = t->dtype == CORRAL_DT_BYTES
		    ? wire_bytes_layout_ok(t->raw, t->nbytes, t->elements)
		    : (uint64_t)t->elements <= SIZE_MAX / esize &&
			(size_t)t->elements * esize == t->nbytes;
		if (!ok) {
			snprintf(err, errlen,
			    "tensor '%.*s': %zu data bytes do not hold %lld %s elements",
			    nl, t->name.ptr, t->nbytes, (long long)t->elements,
			    corral_dtype_name(t->dtype));
			return CORRAL_E_SHAPE_MISMATCH;
		}
		return CORRAL_OK;
	}
	if (data->type != MSGPACK_OBJECT_ARRAY) {
		snprintf(err, errlen, "tensor '%.*s': 'data' must be bin or array", nl, t->name.ptr);
		return CORRAL_E_INVALID_ARGUMENT;
	}
	bool nested = data->via.array.size > 0 &&
	    data->via.array.ptr[0].type == MSGPACK_OBJECT_ARRAY;
	if (nested ? !nesting_matches(data, t->shape, t->ndim) : !is_flat(data)) {
		snprintf(err, errlen,
		    "tensor '%.*s': array data must be flat, or nested exactly as the shape",
		    nl, t->name.ptr);
		return CORRAL_E_SHAPE_MISMATCH;
	}
	struct count_state cs = {t->dtype, 0, 0};
	if (walk_scalars(data, count_scalar, &cs)) {
		snprintf(err, errlen,
		    "tensor '%.*s': element %lld is not a valid %s value", nl,
		    t->name.ptr, (long long)cs.count, corral_dtype_name(t->dtype));
		return CORRAL_E_TYPE_MISMATCH;
	}
	if (cs.count != t->elements) {
		snprintf(err, errlen, "tensor '%.*s': %lld values for shape of %lld elements",
		    nl, t->name.ptr, (long long)cs.count, (long long)t->elements);
		return CORRAL_E_SHAPE_MISMATCH;
	}
	t->array = data;
	t->nbytes = cs.nbytes;
	return CORRAL_OK;
}

/* ------------------------------------------------------- encoding --- */

static int pack_shape(msgpack_packer *pk, uint32_t ndim, const int64_t *shape)
{
	if (msgpack_pack_array(pk, ndim))
		return -1;
	for (uint32_t i = 0; i < ndim; i++)
		if (wire_pack_i64(pk, shape[i]))
			return -1;
	return 0;
}

/* {name, datatype, shape, then `extra` more entries the caller writes}. */
static int pack_header(msgpack_packer *pk, const char *name, size_t name_len,
    corral_dtype dtype, uint32_t ndim, const int64_t *shape, uint32_t extra)
{
	if (msgpack_pack_map(pk, 3 + extra) ||
	    wire_pack_cstr(pk, "name") ||
	    msgpack_pack_str_with_body(pk, name, name_len) ||
	    wire_pack_kv_str(pk, "datatype", corral_dtype_name(dtype)) ||
	    wire_pack_cstr(pk, "shape") || pack_shape(pk, ndim, shape))
		return -1;
	return 0;
}

int wire_pack_tensor(msgpack_packer *pk, const wire_tensor *t)
{
	if (pack_header(pk, t->name.ptr, t->name.len, t->dtype, t->ndim,
		t->shape, 1) ||
	    wire_pack_cstr(pk, "data") || msgpack_pack_bin(pk, t->nbytes))
		return -1;
	if (t->array == NULL)
		return msgpack_pack_bin_body(pk, t->raw, t->nbytes);
	struct pack_state ps = {.pk = pk, .dtype = t->dtype};
	if (walk_scalars(t->array, pack_scalar, &ps))
		return -1;
	return pack_flush(&ps);
}

int wire_pack_tensor_view(msgpack_packer *pk, const corral_tensor *t)
{
	return pack_header(pk, t->name, strlen(t->name), t->dtype, t->ndim,
		   t->shape, 1) ||
		wire_pack_cstr(pk, "data") ||
		msgpack_pack_bin_with_body(pk, t->data, t->nbytes)
	    ? -1
	    : 0;
}

int wire_pack_spec(msgpack_packer *pk, const char *name, corral_dtype dtype,
    uint32_t ndim, const int64_t *shape, const char *const *labels)
{
	if (pack_header(pk, name, strlen(name), dtype, ndim, shape, labels ? 1 : 0))
		return -1;
	if (labels == NULL)
		return 0;
	size_t n = 0;
	while (labels[n] != NULL)
		n++;
	if (wire_pack_cstr(pk, "labels") || msgpack_pack_array(pk, n))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (wire_pack_cstr(pk, labels[i]))
			return -1;
	return 0;
}

double wire_tensor_fp_at(const wire_tensor *t, size_t i)
{
	if (t->array == NULL) {
		if (t->dtype == CORRAL_DT_FP64) {
			double v;
			memcpy(&v, (const char *)t->raw + 8 * i, 8);
			return v;
		}
		float f;
		memcpy(&f, (const char *)t->raw + 4 * i, 4);
		return f;
	}
	const msgpack_object *o = t->array;
	bool flat = o->via.array.size == 0 || o->via.array.ptr[0].type != MSGPACK_OBJECT_ARRAY;
	if (flat) {
		o = &o->via.array.ptr[i];
	} else {
		/* nested exactly as the shape: walk down one index per dimension */
		size_t rest = i;
		for (uint32_t d = 0; d < t->ndim; d++) {
			size_t stride = 1;
			for (uint32_t k = d + 1; k < t->ndim; k++)
				stride *= (size_t)t->shape[k];
			o = &o->via.array.ptr[rest / stride];
			rest %= stride;
		}
	}
	switch (o->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return o->via.f64;
	case MSGPACK_OBJECT_POSITIVE_INTEGER: return (double)o->via.u64;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return (double)o->via.i64;
	default: return NAN;
	}
}

void wire_format_shape(char *buf, size_t n, const int64_t *shape, uint32_t ndim)
{
	size_t off = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i <= ndim && off < n; i++) {
		int k = i == ndim ? snprintf(buf + off, n - off, "]")
				  : snprintf(buf + off, n - off, "%s%lld", i ? ", " : "[",
					(long long)shape[i]);
		if (k < 0)
			return;
		off += (size_t)k;
	}
	if (ndim == 0)
		snprintf(buf, n, "[]");
}
