/* request.c - the request envelope of protocol v1 (docs/protocol.md). */
#include <stdarg.h>
#include <stdio.h>

#include "wire.h"

const msgpack_object *wire_map_get(const msgpack_object *map, const char *key)
{
	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	size_t klen = strlen(key);
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR &&
		    kv->key.via.str.size == klen &&
		    memcmp(kv->key.via.str.ptr, key, klen) == 0)
			return &kv->val;
	}
	return NULL;
}

__attribute__((format(printf, 4, 5))) static corral_status request_fail(
    char *err, size_t errlen, corral_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return st;
}

/* Optional string field: absent -> len 0; present but not a str -> error. */
static corral_status request_str(const msgpack_object *root, const char *key,
    wire_str *out, char *err, size_t errlen)
{
	const msgpack_object *o = wire_map_get(root, key);
	out->ptr = "";
	out->len = 0;
	if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
		return CORRAL_OK;
	if (o->type != MSGPACK_OBJECT_STR)
		return request_fail(err, errlen, CORRAL_E_INVALID_ARGUMENT,
		    "field '%s' must be a string", key);
	out->ptr = o->via.str.ptr;
	out->len = o->via.str.size;
	return CORRAL_OK;
}

/* Optional container field of the given type. */
static corral_status request_container(const msgpack_object *root,
    const char *key, msgpack_object_type type, const msgpack_object **out,
    char *err, size_t errlen)
{
	const msgpack_object *o = wire_map_get(root, key);
	*out = NULL;
	if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
		return CORRAL_OK;
	if (o->type != type)
		return request_fail(err, errlen, CORRAL_E_INVALID_ARGUMENT,
		    "field '%s' must be %s", key,
		    type == MSGPACK_OBJECT_MAP ? "a map" : "an array");
	*out = o;
	return CORRAL_OK;
}

corral_status wire_request_parse(wire_request *req, const void *buf,
    size_t len, char *err, size_t errlen)
{
	memset(req, 0, sizeof *req);
	msgpack_unpacked_init(&req->unpacked);
	req->op.ptr = req->model.ptr = req->token.ptr = "";

	corral_status scanned = wire_scan(buf, len, WIRE_MAX_OBJECTS, err, errlen);
	if (scanned != CORRAL_OK)
		return scanned;
	size_t off = 0;
	msgpack_unpack_return ret =
	    msgpack_unpack_next(&req->unpacked, buf, len, &off);
	if (ret == MSGPACK_UNPACK_CONTINUE || ret == MSGPACK_UNPACK_EXTRA_BYTES) {
		snprintf(err, errlen, "truncated message (%zu bytes)", len);
		return CORRAL_E_MALFORMED;
	}
	if (ret == MSGPACK_UNPACK_NOMEM_ERROR) {
		snprintf(err, errlen,
		    "message nests too deeply or declares more items than memory allows");
		return CORRAL_E_MALFORMED;
	}
	if (ret != MSGPACK_UNPACK_SUCCESS) {
		snprintf(err, errlen, "not valid MessagePack");
		return CORRAL_E_MALFORMED;
	}
	const msgpack_object *root = &req->unpacked.data;
	if (root->type == MSGPACK_OBJECT_MAP) {
		/* Known from here on, so even the errors below echo it. */
		req->root = root;
		req->id = wire_map_get(root, "id");
	}
	if (off != len) {
		snprintf(err, errlen, "%zu trailing bytes after the request map",
		    len - off);
		return CORRAL_E_MALFORMED;
	}
	if (root->type != MSGPACK_OBJECT_MAP) {
		snprintf(err, errlen, "a request must be a MessagePack map");
		return CORRAL_E_MALFORMED;
	}

	const msgpack_object *v = wire_map_get(root, "v");
	if (v == NULL)
		return request_fail(err, errlen, CORRAL_E_INVALID_ARGUMENT,
		    "missing field '%s'", "v");
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return request_fail(err, errlen, CORRAL_E_INVALID_ARGUMENT,
		    "field '%s' must be a positive integer", "v");
	if (v->via.u64 != WIRE_PROTOCOL_VERSION) {
		snprintf(err, errlen,
		    "protocol version %llu is not supported (this server speaks %d)",
		    (unsigned long long)v->via.u64, WIRE_PROTOCOL_VERSION);
		return CORRAL_E_UNSUPPORTED_VERSION;
	}

	corral_status st;
	if ((st = request_str(root, "op", &req->op, err, errlen)) != CORRAL_OK)
		return st;
	if (req->op.len == 0)
		return request_fail(err, errlen, CORRAL_E_INVALID_ARGUMENT,
		    "missing field '%s'", "op");
	if ((st = request_str(root, "model", &req->model, err, errlen)) ||
	    (st = request_str(root, "token", &req->token, err, errlen)) ||
	    (st = request_container(root, "inputs", MSGPACK_OBJECT_ARRAY,
		 &req->inputs, err, errlen)) ||
	    (st = request_container(root, "outputs", MSGPACK_OBJECT_ARRAY,
		 &req->outputs, err, errlen)) ||
	    (st = request_container(root, "parameters", MSGPACK_OBJECT_MAP,
		 &req->parameters, err, errlen)))
		return st;

	/* `log: false` keeps an infer out of the prediction log */
	const msgpack_object *log = wire_map_get(root, "log");
	if (log != NULL && log->type != MSGPACK_OBJECT_NIL && log->type != MSGPACK_OBJECT_BOOLEAN)
		return request_fail(err, errlen, CORRAL_E_INVALID_ARGUMENT,
		    "field '%s' must be a bool", "log");
	req->no_log = log != NULL && log->type == MSGPACK_OBJECT_BOOLEAN && !log->via.boolean;

	/* version 0 means the default version; a deadline of 0 means none */
	static const char *const ints[] = {"version", "timeout_ms"};
	int64_t *dst[] = {&req->version, &req->timeout_ms};
	for (size_t i = 0; i < 2; i++) {
		const msgpack_object *o = wire_map_get(root, ints[i]);
		if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
			continue;
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > INT64_MAX)
			return request_fail(err, errlen, CORRAL_E_INVALID_ARGUMENT,
			    "field '%s' must be a non-negative integer", ints[i]);
		*dst[i] = (int64_t)o->via.u64;
	}
	return CORRAL_OK;
}

void wire_request_fini(wire_request *req)
{
	msgpack_unpacked_destroy(&req->unpacked);
}

/* ----------------------------------------------------------- packing --- */

int wire_pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	return msgpack_pack_str_with_body(pk, s, n);
}

int wire_pack_kv_str(msgpack_packer *pk, const char *key, const char *value)
{
	return wire_pack_cstr(pk, key) || wire_pack_cstr(pk, value) ? -1 : 0;
}

int wire_pack_i64(msgpack_packer *pk, int64_t v)
{
	return v >= 0 ? msgpack_pack_uint64(pk, (uint64_t)v)
		      : msgpack_pack_int64(pk, v);
}

int wire_pack_envelope(msgpack_packer *pk, const msgpack_object *id)
{
	if (wire_pack_cstr(pk, "v") || msgpack_pack_uint8(pk, WIRE_PROTOCOL_VERSION))
		return -1;
	if (id != NULL &&
	    (wire_pack_cstr(pk, "id") || msgpack_pack_object(pk, *id)))
		return -1;
	return 0;
}

int wire_pack_error(msgpack_packer *pk, const msgpack_object *id,
    corral_status code, const char *message)
{
	if (msgpack_pack_map(pk, id ? 3 : 2) || wire_pack_envelope(pk, id) ||
	    wire_pack_cstr(pk, "error") || msgpack_pack_map(pk, 2) ||
	    wire_pack_kv_str(pk, "code", corral_status_name(code)) ||
	    wire_pack_kv_str(pk, "message", message))
		return -1;
	return 0;
}
