/*
 * wire.h - corral's wire protocol v1 on top of msgpack-c: field lookup,
 * request parsing, tensor decoding and encoding. docs/protocol.md is the
 * specification; this is the one implementation of it that the daemon, the
 * worker and libcorral share.
 *
 * Decoding never copies tensor data: msgpack-c's unpacker leaves str and bin
 * objects pointing into the caller's buffer, so every view handed out here
 * is valid only while that buffer (and the msgpack_unpacked) lives.
 */
#ifndef CORRAL_WIRE_H
#define CORRAL_WIRE_H

#include <msgpack.h>
#include <stdbool.h>

#include <corral/status.h>
#include <corral/tensor.h>

#define WIRE_PROTOCOL_VERSION 1

/* A borrowed string: not NUL-terminated, points into a message. */
typedef struct wire_str {
	const char *ptr;
	size_t len;
} wire_str;

static inline bool wire_str_eq(wire_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* ---------------------------------------------------------- lookup --- */

/* The value stored under `key` in map `map`, or NULL (also when `map` is not
 * a map). */
const msgpack_object *wire_map_get(const msgpack_object *map, const char *key);

/* ------------------------------------------------------------ scan --- */

/* Values one message may hold: what msgpack-c then allocates is about 24
 * bytes each, so this bounds a request's unpacked size to ~25 MB. */
#define WIRE_MAX_OBJECTS (1u << 20)

/*
 * Walk the MessagePack headers in buf[0..len) without allocating: refuse
 * (PAYLOAD_TOO_LARGE) a message of more than max_objects values, and
 * (MALFORMED) one whose containers declare more values than its bytes
 * could hold. Run it before unpacking anything untrusted. Returns
 * CORRAL_OK otherwise, including for bytes msgpack-c will reject itself.
 */
corral_status wire_scan(const void *buf, size_t len, uint64_t max_objects,
    char *err, size_t errlen);

/* --------------------------------------------------------- request --- */

/* A parsed request. Every pointer borrows from the message buffer and from
 * `unpacked`; release with wire_request_fini. */
typedef struct wire_request {
	msgpack_unpacked unpacked;
	const msgpack_object *root;
	const msgpack_object *id;         /* NULL when absent */
	wire_str op;
	wire_str model;                   /* len 0 when absent */
	int64_t version;                  /* 0 when absent (= default) */
	int64_t timeout_ms;               /* the client's deadline; 0 when absent */
	wire_str token;                   /* len 0 when absent */
	const msgpack_object *inputs;     /* array, or NULL */
	const msgpack_object *outputs;    /* array, or NULL */
	const msgpack_object *parameters; /* map, or NULL */
	bool no_log;                      /* `log: false`: not in the
					     prediction log */
} wire_request;

/*
 * Parse the message in buf[0..len) as a request envelope: a single map with
 * `v` == 1 and a string `op`; `model`, `version`, `timeout_ms`, `token`,
 * `inputs`, `outputs`, `parameters`, `log` are type-checked when present. Unknown fields are
 * ignored. On error returns the status and writes a message into err; the
 * request must still be passed to wire_request_fini. The `id` is available
 * whenever the envelope was a map, even on error, so it can be echoed.
 */
corral_status wire_request_parse(wire_request *req, const void *buf,
    size_t len, char *err, size_t errlen);
void wire_request_fini(wire_request *req);

/* ---------------------------------------------------------- tensors --- */

/* A tensor decoded from the wire. When `array` is not NULL the data came as
 * a msgpack array (to be converted with wire_pack_tensor); otherwise `raw`
 * points at the bin payload inside the message. */
typedef struct wire_tensor {
	wire_str name;
	corral_dtype dtype;
	uint32_t ndim;
	int64_t shape[CORRAL_MAX_DIMS];
	int64_t elements;
	const void *raw;
	size_t nbytes;
	const msgpack_object *array;
} wire_tensor;

/*
 * Decode and check one tensor map: a string name, a known datatype, a shape
 * of at most CORRAL_MAX_DIMS non-negative integers, and data whose length
 * agrees with the shape (bin: exactly elements * size bytes, or a
 * well-formed sequence of length-prefixed elements for BYTES; array: exactly
 * `elements` values, flat or nested exactly as the shape, each valid for
 * the datatype: integers within the type's range, bools for BOOL, any
 * number for the float types (rounded to nearest), str or bin for BYTES).
 */
corral_status wire_tensor_decode(const msgpack_object *o, wire_tensor *t,
    char *err, size_t errlen);

/* Does data[0..n) hold exactly `elements` BYTES items (each a 4-byte
 * little-endian length, then that many bytes)? */
bool wire_bytes_layout_ok(const void *data, size_t n, int64_t elements);

/* "[2, 4]" (or "[]") into buf, for messages about shapes. */
void wire_format_shape(char *buf, size_t n, const int64_t *shape, uint32_t ndim);

/* Element i (row-major) of an FP32 or FP64 tensor that passed
 * wire_tensor_decode, as a double, whether its data is bin, a flat array
 * or an array nested as the shape (an integer array value is converted).
 * Requires i < t->elements. */
double wire_tensor_fp_at(const wire_tensor *t, size_t i);

/* Write t as a canonical tensor map {name, datatype, shape, data: bin},
 * converting array data to raw little-endian values. Returns 0, or -1 if
 * the packer's write failed. `t` must have passed wire_tensor_decode. */
int wire_pack_tensor(msgpack_packer *pk, const wire_tensor *t);

/* Write a tensor map from a view whose data is already raw. */
int wire_pack_tensor_view(msgpack_packer *pk, const corral_tensor *t);

/* Write a tensor spec map {name, datatype, shape, labels?} (shape may hold
 * -1; labels is NULL or NULL-terminated, and written only when given). */
int wire_pack_spec(msgpack_packer *pk, const char *name, corral_dtype dtype,
    uint32_t ndim, const int64_t *shape, const char *const *labels);

/* ------------------------------------------------------------ packing --- */

/* Write a NUL-terminated string as a msgpack str. */
int wire_pack_cstr(msgpack_packer *pk, const char *s);
/* Write `key` followed by `value`, both strings. */
int wire_pack_kv_str(msgpack_packer *pk, const char *key, const char *value);

/* Write {v, id?, error: {code, message}} as a whole reply. */
int wire_pack_error(msgpack_packer *pk, const msgpack_object *id,
    corral_status code, const char *message);

/* Write the reply envelope's first fields: `v` and, when id is not NULL,
 * `id`. The caller has already opened a map of n + (id ? 2 : 1) entries. */
int wire_pack_envelope(msgpack_packer *pk, const msgpack_object *id);

/* Pack an int64 as the smallest msgpack integer. */
int wire_pack_i64(msgpack_packer *pk, int64_t v);

#endif /* CORRAL_WIRE_H */
