/*
 * client.c - libcorral: protocol v1 over an nng REQ socket (client.h).
 *
 * A result keeps the reply message alive and hands out tensor views whose
 * data points straight into it: no copy of output data.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <corral/client.h>

#include "wire.h"

#define CLIENT_API __attribute__((visibility("default")))
#define CLIENT_REPLY_GRACE_MS 1000
#define CLIENT_DEFAULT_TIMEOUT_MS 30000

struct corral_client {
	nng_socket sock;
	pthread_mutex_t mu;
	int timeout_ms;
	char *token;    /* admin token for control ops, or NULL */
	bool no_log;    /* infers ask to stay out of the prediction log */
	uint64_t next_id;
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

struct corral_result {
	nng_msg *msg; /* the reply; output data points into it */
	int64_t version;
	int64_t prediction_id; /* 0: not logged */
	size_t n;
	corral_tensor *outputs;
	int64_t *shapes; /* n * CORRAL_MAX_DIMS */
	char *names;     /* NUL-terminated copies, back to back */
};

__attribute__((format(printf, 3, 4))) static corral_status client_fail(
    corral_error *err, corral_status code, const char *fmt, ...)
{
	if (err != NULL) {
		err->code = code;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return code;
}

CLIENT_API corral_status corral_client_open(corral_client **out,
    const char *url, corral_error *err)
{
	*out = NULL;
	corral_client *c = calloc(1, sizeof *c);
	if (c == NULL)
		return client_fail(err, CORRAL_E_NOMEM, "out of memory");
	if (url == NULL)
		url = CORRAL_DEFAULT_URL;
	int rv;
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		free(c);
		return client_fail(err, CORRAL_E_CONNECT, "socket: %s", nng_strerror(rv));
	}
	/* No silent resends: a request is answered once or times out. */
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) ||
	    (rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, 0)) ||
	    (rv = nng_dial(c->sock, url, NULL, 0))) {
		nng_close(c->sock);
		free(c);
		return client_fail(err, CORRAL_E_CONNECT, "%s: %s", url, nng_strerror(rv));
	}
	pthread_mutex_init(&c->mu, NULL);
	c->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
	msgpack_sbuffer_init(&c->sb);
	msgpack_packer_init(&c->pk, &c->sb, msgpack_sbuffer_write);
	*out = c;
	return CORRAL_OK;
}

CLIENT_API void corral_client_close(corral_client *c)
{
	if (c == NULL)
		return;
	nng_close(c->sock);
	pthread_mutex_destroy(&c->mu);
	msgpack_sbuffer_destroy(&c->sb);
	free(c->token);
	free(c);
}

CLIENT_API void corral_client_set_timeout(corral_client *c, int timeout_ms)
{
	pthread_mutex_lock(&c->mu);
	c->timeout_ms = timeout_ms;
	pthread_mutex_unlock(&c->mu);
}

CLIENT_API void corral_client_set_logging(corral_client *c, bool log)
{
	pthread_mutex_lock(&c->mu);
	c->no_log = !log;
	pthread_mutex_unlock(&c->mu);
}

/* ---------------------------------------------------------- a round trip --- */

/* Start a request map of n_fields + 3 entries (v, id, op). Lock held. */
static int client_begin(corral_client *c, uint32_t n_fields, const char *op)
{
	msgpack_sbuffer_clear(&c->sb);
	return msgpack_pack_map(&c->pk, n_fields + 3) ||
	    wire_pack_cstr(&c->pk, "v") || msgpack_pack_uint8(&c->pk, WIRE_PROTOCOL_VERSION) ||
	    wire_pack_cstr(&c->pk, "id") || msgpack_pack_uint64(&c->pk, ++c->next_id) ||
	    wire_pack_kv_str(&c->pk, "op", op);
}

/*
 * Send what c->sb holds and wait for the reply. On success *reply is the
 * reply message (the caller frees it) and u holds its parsed root map; a
 * server error reply is turned into its status and message. Lock held.
 */
static corral_status client_roundtrip(corral_client *c, nng_msg **reply,
    msgpack_unpacked *u, corral_error *err)
{
	nng_msg *m;
	int rv;
	*reply = NULL;
	if (nng_msg_alloc(&m, 0) != 0)
		return client_fail(err, CORRAL_E_NOMEM, "out of memory");
	if (nng_msg_append(m, c->sb.data, c->sb.size) != 0) {
		nng_msg_free(m);
		return client_fail(err, CORRAL_E_NOMEM, "out of memory");
	}
	/* A little past the deadline sent with an infer, so the server's
	 * DEADLINE_EXCEEDED arrives before our own timeout. */
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, c->timeout_ms + CLIENT_REPLY_GRACE_MS);
	nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, c->timeout_ms);
	if ((rv = nng_sendmsg(c->sock, m, 0)) != 0) {
		nng_msg_free(m);
		return client_fail(err, CORRAL_E_TRANSPORT, "send: %s", nng_strerror(rv));
	}
	if ((rv = nng_recvmsg(c->sock, &m, 0)) != 0)
		return client_fail(err, CORRAL_E_TRANSPORT, "receive: %s", nng_strerror(rv));

	size_t off = 0;
	if (msgpack_unpack_next(u, nng_msg_body(m), nng_msg_len(m), &off) !=
		MSGPACK_UNPACK_SUCCESS ||
	    u->data.type != MSGPACK_OBJECT_MAP) {
		nng_msg_free(m);
		return client_fail(err, CORRAL_E_PROTOCOL, "the reply is not a MessagePack map");
	}
	const msgpack_object *e = wire_map_get(&u->data, "error");
	if (e != NULL) {
		const msgpack_object *code = wire_map_get(e, "code");
		const msgpack_object *msg = wire_map_get(e, "message");
		corral_status st = code && code->type == MSGPACK_OBJECT_STR
		    ? corral_status_parse(code->via.str.ptr, code->via.str.size)
		    : CORRAL_E_PROTOCOL;
		bool has_msg = msg && msg->type == MSGPACK_OBJECT_STR;
		client_fail(err, st, "%.*s", has_msg ? (int)msg->via.str.size : 0,
		    has_msg ? msg->via.str.ptr : "");
		nng_msg_free(m);
		return st;
	}
	*reply = m;
	return CORRAL_OK;
}

/* Does string object o exist and equal s? Copy it out (malloc) or NULL. */
static char *client_strdup(const msgpack_object *o)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return NULL;
	char *s = malloc(o->via.str.size + 1);
	if (s != NULL) {
		memcpy(s, o->via.str.ptr, o->via.str.size);
		s[o->via.str.size] = '\0';
	}
	return s;
}

static int64_t client_i64(const msgpack_object *o)
{
	if (o == NULL)
		return 0;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return o->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)o->via.u64;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return o->via.i64;
	return 0;
}

/* ----------------------------------------------------------------- infer --- */

static corral_status result_build(corral_result *r, const msgpack_object *root,
    corral_error *err)
{
	r->version = client_i64(wire_map_get(root, "model_version"));
	r->prediction_id = client_i64(wire_map_get(root, "prediction_id"));
	const msgpack_object *outs = wire_map_get(root, "outputs");
	if (outs == NULL || outs->type != MSGPACK_OBJECT_ARRAY)
		return client_fail(err, CORRAL_E_PROTOCOL, "the reply has no 'outputs' array");
	size_t n = outs->via.array.size, names_len = 0;
	for (size_t i = 0; i < n; i++) {
		const msgpack_object *name = wire_map_get(&outs->via.array.ptr[i], "name");
		names_len += (name && name->type == MSGPACK_OBJECT_STR ? name->via.str.size : 0) + 1;
	}
	r->outputs = calloc(n ? n : 1, sizeof *r->outputs);
	r->shapes = calloc(n ? n * CORRAL_MAX_DIMS : 1, sizeof *r->shapes);
	r->names = malloc(names_len + 1);
	if (!r->outputs || !r->shapes || !r->names)
		return client_fail(err, CORRAL_E_NOMEM, "out of memory");
	char *name_at = r->names;
	for (size_t i = 0; i < n; i++) {
		wire_tensor t;
		char msg[256];
		if (wire_tensor_decode(&outs->via.array.ptr[i], &t, msg, sizeof msg) != CORRAL_OK ||
		    t.array != NULL)
			return client_fail(err, CORRAL_E_PROTOCOL, "output %zu: %s", i,
			    t.array ? "data is not bin" : msg);
		int64_t *shape = &r->shapes[i * CORRAL_MAX_DIMS];
		memcpy(shape, t.shape, t.ndim * sizeof *shape);
		memcpy(name_at, t.name.ptr, t.name.len);
		name_at[t.name.len] = '\0';
		r->outputs[i] = (corral_tensor){
		    .name = name_at, .dtype = t.dtype, .ndim = t.ndim, .shape = shape,
		    .data = t.raw, .nbytes = t.nbytes};
		name_at += t.name.len + 1;
	}
	r->n = n;
	return CORRAL_OK;
}

CLIENT_API corral_status corral_infer(corral_client *c, const char *model,
    int64_t version, const corral_tensor *inputs, size_t n_inputs,
    const char *const *output_names, size_t n_outputs, corral_result **out,
    corral_error *err)
{
	*out = NULL;
	if (model == NULL || (n_inputs > 0 && inputs == NULL) ||
	    (n_outputs > 0 && output_names == NULL))
		return client_fail(err, CORRAL_E_INVALID_ARGUMENT, "missing model, inputs or output names");
	for (size_t i = 0; i < n_inputs; i++)
		if (inputs[i].name == NULL || corral_dtype_name(inputs[i].dtype) == NULL ||
		    inputs[i].ndim > CORRAL_MAX_DIMS || (inputs[i].nbytes && !inputs[i].data))
			return client_fail(err, CORRAL_E_INVALID_ARGUMENT,
			    "input %zu has no name, a bad datatype, too many dimensions or no data", i);

	pthread_mutex_lock(&c->mu);
	msgpack_packer *pk = &c->pk;
	/* The server gives up at our deadline too (and answers
	 * DEADLINE_EXCEEDED), rather than work for a caller who has gone. */
	int rc = client_begin(c, 3 + (version > 0) + (n_outputs > 0) + c->no_log, "infer") ||
	    wire_pack_kv_str(pk, "model", model) ||
	    (c->no_log && (wire_pack_cstr(pk, "log") || msgpack_pack_false(pk))) ||
	    wire_pack_cstr(pk, "timeout_ms") || wire_pack_i64(pk, c->timeout_ms) ||
	    (version > 0 && (wire_pack_cstr(pk, "version") || wire_pack_i64(pk, version))) ||
	    wire_pack_cstr(pk, "inputs") || msgpack_pack_array(pk, n_inputs);
	for (size_t i = 0; rc == 0 && i < n_inputs; i++)
		rc = wire_pack_tensor_view(pk, &inputs[i]);
	if (rc == 0 && n_outputs > 0) {
		rc = wire_pack_cstr(pk, "outputs") || msgpack_pack_array(pk, n_outputs);
		for (size_t i = 0; rc == 0 && i < n_outputs; i++)
			rc = wire_pack_cstr(pk, output_names[i]);
	}
	corral_status st = rc ? client_fail(err, CORRAL_E_NOMEM, "out of memory") : CORRAL_OK;

	corral_result *r = NULL;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	nng_msg *reply = NULL;
	if (st == CORRAL_OK)
		st = client_roundtrip(c, &reply, &u, err);
	pthread_mutex_unlock(&c->mu);
	if (st == CORRAL_OK) {
		r = calloc(1, sizeof *r);
		st = r ? result_build(r, &u.data, err)
		       : client_fail(err, CORRAL_E_NOMEM, "out of memory");
		if (r)
			r->msg = reply;
		else
			nng_msg_free(reply);
	}
	msgpack_unpacked_destroy(&u);
	if (st != CORRAL_OK) {
		corral_result_free(r);
		return st;
	}
	*out = r;
	return CORRAL_OK;
}

CLIENT_API int64_t corral_result_model_version(const corral_result *r)
{
	return r->version;
}

CLIENT_API int64_t corral_result_prediction_id(const corral_result *r)
{
	return r->prediction_id;
}

CLIENT_API size_t corral_result_output_count(const corral_result *r)
{
	return r->n;
}

CLIENT_API const corral_tensor *corral_result_output(const corral_result *r, size_t i)
{
	return i < r->n ? &r->outputs[i] : NULL;
}

CLIENT_API const corral_tensor *corral_result_find(const corral_result *r,
    const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->outputs[i].name, name) == 0)
			return &r->outputs[i];
	return NULL;
}

CLIENT_API void corral_result_free(corral_result *r)
{
	if (r == NULL)
		return;
	if (r->msg)
		nng_msg_free(r->msg);
	free(r->outputs);
	free(r->shapes);
	free(r->names);
	free(r);
}

/* -------------------------------------------------------------- metadata --- */

static corral_status meta_tensors(const msgpack_object *arr,
    struct corral_meta_tensor **out, size_t *n, corral_error *err)
{
	*n = 0;
	*out = NULL;
	if (arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY)
		return client_fail(err, CORRAL_E_PROTOCOL, "metadata lacks inputs or outputs");
	size_t count = arr->via.array.size;
	*out = calloc(count ? count : 1, sizeof **out);
	if (*out == NULL)
		return client_fail(err, CORRAL_E_NOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		const msgpack_object *t = &arr->via.array.ptr[i];
		const msgpack_object *dt = wire_map_get(t, "datatype");
		const msgpack_object *shape = wire_map_get(t, "shape");
		struct corral_meta_tensor *m = &(*out)[i];
		m->name = client_strdup(wire_map_get(t, "name"));
		*n = i + 1;
		if (m->name == NULL || dt == NULL || dt->type != MSGPACK_OBJECT_STR ||
		    shape == NULL || shape->type != MSGPACK_OBJECT_ARRAY ||
		    shape->via.array.size > CORRAL_MAX_DIMS)
			return client_fail(err, CORRAL_E_PROTOCOL, "metadata tensor %zu is malformed", i);
		m->dtype = corral_dtype_parse(dt->via.str.ptr, dt->via.str.size);
		m->ndim = shape->via.array.size;
		for (uint32_t d = 0; d < m->ndim; d++)
			m->shape[d] = client_i64(&shape->via.array.ptr[d]);
		const msgpack_object *labels = wire_map_get(t, "labels");
		if (labels == NULL || labels->type != MSGPACK_OBJECT_ARRAY)
			continue;
		m->labels = calloc(labels->via.array.size + 1, sizeof *m->labels);
		if (m->labels == NULL)
			return client_fail(err, CORRAL_E_NOMEM, "out of memory");
		for (uint32_t k = 0; k < labels->via.array.size; k++) {
			if ((m->labels[k] = client_strdup(&labels->via.array.ptr[k])) == NULL)
				return client_fail(err, CORRAL_E_PROTOCOL,
				    "metadata tensor %zu: label %u is not a string", i, k);
			m->n_labels = k + 1;
		}
	}
	return CORRAL_OK;
}

static void meta_tensors_free(struct corral_meta_tensor *t, size_t n)
{
	for (size_t i = 0; t != NULL && i < n; i++) {
		for (size_t k = 0; k < t[i].n_labels; k++)
			free(t[i].labels[k]);
		free(t[i].labels);
		free(t[i].name);
	}
	free(t);
}

CLIENT_API corral_status corral_get_metadata(corral_client *c,
    const char *model, int64_t version, corral_metadata **out, corral_error *err)
{
	*out = NULL;
	pthread_mutex_lock(&c->mu);
	int rc = client_begin(c, 1 + (version > 0), "metadata") ||
	    wire_pack_kv_str(&c->pk, "model", model) ||
	    (version > 0 && (wire_pack_cstr(&c->pk, "version") || wire_pack_i64(&c->pk, version)));
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	nng_msg *reply = NULL;
	corral_status st = rc ? client_fail(err, CORRAL_E_NOMEM, "out of memory")
			      : client_roundtrip(c, &reply, &u, err);
	pthread_mutex_unlock(&c->mu);
	corral_metadata *m = NULL;
	if (st == CORRAL_OK && (m = calloc(1, sizeof *m)) == NULL)
		st = client_fail(err, CORRAL_E_NOMEM, "out of memory");
	if (st == CORRAL_OK) {
		const msgpack_object *root = &u.data;
		m->name = client_strdup(wire_map_get(root, "name"));
		m->version = client_i64(wire_map_get(root, "version"));
		m->plugin = client_strdup(wire_map_get(root, "plugin"));
		m->plugin_version = client_strdup(wire_map_get(root, "plugin_version"));
		st = meta_tensors(wire_map_get(root, "inputs"), &m->inputs, &m->n_inputs, err);
		if (st == CORRAL_OK)
			st = meta_tensors(wire_map_get(root, "outputs"), &m->outputs,
			    &m->n_outputs, err);
		if (st == CORRAL_OK && (!m->name || !m->plugin || !m->plugin_version))
			st = client_fail(err, CORRAL_E_PROTOCOL, "metadata lacks name or plugin");
	}
	msgpack_unpacked_destroy(&u);
	if (reply)
		nng_msg_free(reply);
	if (st != CORRAL_OK) {
		corral_metadata_free(m);
		return st;
	}
	*out = m;
	return CORRAL_OK;
}

CLIENT_API void corral_metadata_free(corral_metadata *m)
{
	if (m == NULL)
		return;
	meta_tensors_free(m->inputs, m->n_inputs);
	meta_tensors_free(m->outputs, m->n_outputs);
	free(m->name);
	free(m->plugin);
	free(m->plugin_version);
	free(m);
}

/* ---------------------------------------------------------------- models --- */

CLIENT_API corral_status corral_list_models(corral_client *c,
    corral_model_list **out, corral_error *err)
{
	*out = NULL;
	pthread_mutex_lock(&c->mu);
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	nng_msg *reply = NULL;
	corral_status st = client_begin(c, 0, "models")
	    ? client_fail(err, CORRAL_E_NOMEM, "out of memory")
	    : client_roundtrip(c, &reply, &u, err);
	pthread_mutex_unlock(&c->mu);
	corral_model_list *l = NULL;
	const msgpack_object *arr = st == CORRAL_OK ? wire_map_get(&u.data, "models") : NULL;
	if (st == CORRAL_OK && (arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY))
		st = client_fail(err, CORRAL_E_PROTOCOL, "the reply has no 'models' array");
	if (st == CORRAL_OK &&
	    ((l = calloc(1, sizeof *l)) == NULL ||
		(l->entries = calloc(arr->via.array.size + 1, sizeof *l->entries)) == NULL))
		st = client_fail(err, CORRAL_E_NOMEM, "out of memory");
	for (uint32_t i = 0; st == CORRAL_OK && i < arr->via.array.size; i++) {
		const msgpack_object *e = &arr->via.array.ptr[i];
		const msgpack_object *def = wire_map_get(e, "default");
		struct corral_model_entry *me = &l->entries[i];
		me->name = client_strdup(wire_map_get(e, "name"));
		me->state = client_strdup(wire_map_get(e, "state"));
		me->version = client_i64(wire_map_get(e, "version"));
		me->is_default = def && def->type == MSGPACK_OBJECT_BOOLEAN && def->via.boolean;
		me->last_error = client_strdup(wire_map_get(e, "last_error"));
		l->count = i + 1;
		if (me->name == NULL || me->state == NULL)
			st = client_fail(err, CORRAL_E_PROTOCOL, "model entry %u is malformed", i);
	}
	msgpack_unpacked_destroy(&u);
	if (reply)
		nng_msg_free(reply);
	if (st != CORRAL_OK) {
		corral_model_list_free(l);
		return st;
	}
	*out = l;
	return CORRAL_OK;
}

CLIENT_API void corral_model_list_free(corral_model_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->count; i++) {
		free(l->entries[i].name);
		free(l->entries[i].state);
		free(l->entries[i].last_error);
	}
	free(l->entries);
	free(l);
}

/* ---------------------------------------------------------------- health --- */

CLIENT_API corral_status corral_health(corral_client *c, bool *live,
    bool *ready, corral_error *err)
{
	return corral_model_health(c, NULL, live, ready, err);
}

CLIENT_API corral_status corral_model_health(corral_client *c, const char *model,
    bool *live, bool *ready, corral_error *err)
{
	pthread_mutex_lock(&c->mu);
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	nng_msg *reply = NULL;
	corral_status st = client_begin(c, model ? 1 : 0, "health") ||
		(model && wire_pack_kv_str(&c->pk, "model", model))
	    ? client_fail(err, CORRAL_E_NOMEM, "out of memory")
	    : client_roundtrip(c, &reply, &u, err);
	pthread_mutex_unlock(&c->mu);
	if (st == CORRAL_OK) {
		const msgpack_object *l = wire_map_get(&u.data, "live");
		const msgpack_object *r = wire_map_get(&u.data, "ready");
		if (l == NULL || l->type != MSGPACK_OBJECT_BOOLEAN || r == NULL ||
		    r->type != MSGPACK_OBJECT_BOOLEAN)
			st = client_fail(err, CORRAL_E_PROTOCOL, "the reply lacks live/ready");
		else {
			*live = l->via.boolean;
			*ready = r->via.boolean;
		}
	}
	msgpack_unpacked_destroy(&u);
	if (reply)
		nng_msg_free(reply);
	return st;
}

/* ------------------------------------------------------------ status --- */

/* A MessagePack object as a jansson value; NULL when out of memory. The
 * status reply holds only maps with string keys, arrays, strings, integers
 * and booleans. */
static json_t *to_json(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: return json_null();
	case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER: return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR: return json_stringn(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_ARRAY: {
		json_t *a = json_array();
		for (uint32_t i = 0; a && i < o->via.array.size; i++)
			if (json_array_append_new(a, to_json(&o->via.array.ptr[i])) != 0) {
				json_decref(a);
				a = NULL;
			}
		return a;
	}
	case MSGPACK_OBJECT_MAP: {
		json_t *m = json_object();
		for (uint32_t i = 0; m && i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (kv->key.type != MSGPACK_OBJECT_STR)
				continue;
			char key[128];
			snprintf(key, sizeof key, "%.*s", (int)kv->key.via.str.size,
			    kv->key.via.str.ptr);
			if (json_object_set_new(m, key, to_json(&kv->val)) != 0) {
				json_decref(m);
				m = NULL;
			}
		}
		return m;
	}
	default: return json_null(); /* bin and ext do not occur */
	}
}

/* Send what c->sb holds (lock held) and return the reply, less its
 * envelope (the transport's business), as JSON in *json when json is not
 * NULL. For the replies people read: status and control ops. */
static corral_status json_roundtrip(corral_client *c, char **json, corral_error *err)
{
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	nng_msg *reply = NULL;
	corral_status st = client_roundtrip(c, &reply, &u, err);
	if (st == CORRAL_OK && json != NULL) {
		json_t *j = to_json(&u.data);
		json_object_del(j, "v");
		json_object_del(j, "id");
		*json = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
		json_decref(j);
		if (*json == NULL)
			st = client_fail(err, CORRAL_E_NOMEM, "out of memory");
	}
	msgpack_unpacked_destroy(&u);
	if (reply)
		nng_msg_free(reply);
	return st;
}

CLIENT_API corral_status corral_get_status(corral_client *c, const char *model,
    char **json, corral_error *err)
{
	*json = NULL;
	pthread_mutex_lock(&c->mu);
	corral_status st = client_begin(c, model ? 1 : 0, "status") ||
		(model && wire_pack_kv_str(&c->pk, "model", model))
	    ? client_fail(err, CORRAL_E_NOMEM, "out of memory")
	    : json_roundtrip(c, json, err);
	pthread_mutex_unlock(&c->mu);
	return st;
}

/* ----------------------------------------------------------- control --- */

CLIENT_API void corral_client_set_token(corral_client *c, const char *token)
{
	pthread_mutex_lock(&c->mu);
	free(c->token);
	c->token = token ? strdup(token) : NULL;
	pthread_mutex_unlock(&c->mu);
}

/* Start a control op for model: v, id, op, model, token (when set), and
 * n_more fields the caller packs. Lock held. */
static int control_begin(corral_client *c, const char *op, const char *model,
    uint32_t n_more)
{
	return client_begin(c, 1 + (c->token != NULL) + n_more, op) ||
	    wire_pack_kv_str(&c->pk, "model", model) ||
	    (c->token != NULL && wire_pack_kv_str(&c->pk, "token", c->token));
}

CLIENT_API corral_status corral_promote(corral_client *c, const char *model,
    int64_t version, char **routing, corral_error *err)
{
	if (routing)
		*routing = NULL;
	pthread_mutex_lock(&c->mu);
	corral_status st = control_begin(c, "promote", model, 1) ||
		wire_pack_cstr(&c->pk, "version") || wire_pack_i64(&c->pk, version)
	    ? client_fail(err, CORRAL_E_NOMEM, "out of memory")
	    : json_roundtrip(c, routing, err);
	pthread_mutex_unlock(&c->mu);
	return st;
}

CLIENT_API corral_status corral_rollback(corral_client *c, const char *model,
    char **routing, corral_error *err)
{
	if (routing)
		*routing = NULL;
	pthread_mutex_lock(&c->mu);
	corral_status st = control_begin(c, "rollback", model, 0)
	    ? client_fail(err, CORRAL_E_NOMEM, "out of memory")
	    : json_roundtrip(c, routing, err);
	pthread_mutex_unlock(&c->mu);
	return st;
}

CLIENT_API corral_status corral_set_traffic(corral_client *c, const char *model,
    const int64_t *versions, const int64_t *weights, size_t n, char **routing,
    corral_error *err)
{
	if (routing)
		*routing = NULL;
	pthread_mutex_lock(&c->mu);
	int rc = control_begin(c, "set-traffic", model, 1) ||
	    wire_pack_cstr(&c->pk, "weights") || msgpack_pack_map(&c->pk, (uint32_t)n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char v[24];
		snprintf(v, sizeof v, "%lld", (long long)versions[i]);
		rc = wire_pack_cstr(&c->pk, v) || wire_pack_i64(&c->pk, weights[i]);
	}
	corral_status st = rc ? client_fail(err, CORRAL_E_NOMEM, "out of memory")
			      : json_roundtrip(c, routing, err);
	pthread_mutex_unlock(&c->mu);
	return st;
}

CLIENT_API corral_status corral_shadow(corral_client *c, const char *model,
    int64_t version, int percent, char **routing, corral_error *err)
{
	if (routing)
		*routing = NULL;
	pthread_mutex_lock(&c->mu);
	corral_status st = control_begin(c, "shadow", model, 2) ||
		wire_pack_cstr(&c->pk, "version") || wire_pack_i64(&c->pk, version) ||
		wire_pack_cstr(&c->pk, "percent") || wire_pack_i64(&c->pk, percent)
	    ? client_fail(err, CORRAL_E_NOMEM, "out of memory")
	    : json_roundtrip(c, routing, err);
	pthread_mutex_unlock(&c->mu);
	return st;
}

/* load, unload and reload: model (NULL only for reload) and version
 * (0: none). */
static corral_status lifecycle_op(corral_client *c, const char *op, const char *model,
    int64_t version, char **changes, corral_error *err)
{
	if (changes)
		*changes = NULL;
	pthread_mutex_lock(&c->mu);
	uint32_t n = (model != NULL) + (c->token != NULL) + (version > 0);
	corral_status st = client_begin(c, n, op) ||
		(model && wire_pack_kv_str(&c->pk, "model", model)) ||
		(c->token && wire_pack_kv_str(&c->pk, "token", c->token)) ||
		(version > 0 && (wire_pack_cstr(&c->pk, "version") ||
				    wire_pack_i64(&c->pk, version)))
	    ? client_fail(err, CORRAL_E_NOMEM, "out of memory")
	    : json_roundtrip(c, changes, err);
	pthread_mutex_unlock(&c->mu);
	return st;
}

CLIENT_API corral_status corral_load(corral_client *c, const char *model,
    int64_t version, char **changes, corral_error *err)
{
	return lifecycle_op(c, "load", model, version, changes, err);
}

CLIENT_API corral_status corral_unload(corral_client *c, const char *model,
    int64_t version, char **changes, corral_error *err)
{
	return lifecycle_op(c, "unload", model, version, changes, err);
}

CLIENT_API corral_status corral_reload(corral_client *c, const char *model,
    char **changes, corral_error *err)
{
	return lifecycle_op(c, "reload", model, 0, changes, err);
}

CLIENT_API corral_status corral_feedback(corral_client *c, int64_t prediction_id,
    const double *truth, size_t n, char **reply, corral_error *err)
{
	if (reply)
		*reply = NULL;
	if (n > 0 && truth == NULL)
		return client_fail(err, CORRAL_E_INVALID_ARGUMENT, "no truth values");
	pthread_mutex_lock(&c->mu);
	msgpack_packer *pk = &c->pk;
	int rc = client_begin(c, 2, "feedback") || wire_pack_cstr(pk, "prediction_id") ||
	    wire_pack_i64(pk, prediction_id) || wire_pack_cstr(pk, "truth") ||
	    msgpack_pack_array(pk, (uint32_t)n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = msgpack_pack_double(pk, truth[i]);
	corral_status st = rc ? client_fail(err, CORRAL_E_NOMEM, "out of memory")
			      : json_roundtrip(c, reply, err);
	pthread_mutex_unlock(&c->mu);
	return st;
}

CLIENT_API corral_status corral_validate(corral_client *c, const char *model,
    int64_t version, bool *passed, char **report, corral_error *err)
{
	char *json = NULL;
	*passed = false;
	if (report)
		*report = NULL;
	corral_status st = lifecycle_op(c, "validate", model, version, &json, err);
	if (st == CORRAL_OK) {
		json_t *j = json_loads(json, 0, NULL);
		*passed = json_is_true(json_object_get(j, "passed"));
		json_decref(j);
	}
	if (report)
		*report = json;
	else
		free(json);
	return st;
}
