/*
 * serve.c - corral-worker's request loop.
 *
 * The daemon sends {"op": "describe"} once, when the worker has connected,
 * and the reply doubles as the READY signal; then any number of
 * {"op": "infer", "inputs": [...], "outputs": [names]} whose tensors the
 * daemon has already decoded, checked and put in canonical form (bin data).
 * Replies are {"outputs": [...]}, the describe map, or {"error": {...}}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../wire/wire.h"
#include "outputs.h"
#include "serve.h"

#define SERVE_ERR_MAX 512

static void host_log(int level, const char *msg)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	const char *lvl = level >= 0 && level <= 3 ? names[level] : "info";
	fprintf(stderr, "corral-worker[%d] plugin %s: %s\n", (int)getpid(), lvl, msg);
}

const corral_host_api worker_host_api = {
	.struct_size = sizeof(corral_host_api),
	.output_alloc = outputs_alloc,
	.log = host_log,
	.output_alloc_bytes = outputs_alloc_bytes,
};

/* Per-request state that lives across requests so the steady state does
 * not allocate: the reply buffer and the plugin's outputs. */
struct serve_state {
	const worker_model *m;
	msgpack_sbuffer reply;
	msgpack_packer pk;
	corral_infer_ctx outputs;
	corral_tensor inputs[OUTPUTS_MAX];
	wire_tensor decoded[OUTPUTS_MAX];
	char err[SERVE_ERR_MAX];
};

/* A plugin's complaint about its input is the client's error; anything
 * else is the model's. */
static corral_status plugin_error_status(corral_plugin_error e)
{
	return e == CORRAL_PLUGIN_INVALID_ARGUMENT ? CORRAL_E_INVALID_ARGUMENT
						   : CORRAL_E_MODEL_ERROR;
}

/* ------------------------------------------------------------ describe --- */

static int pack_specs(msgpack_packer *pk, const corral_tensor_spec *s, size_t n)
{
	if (msgpack_pack_array(pk, n))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (wire_pack_spec(pk, s[i].name, s[i].dtype, s[i].ndim, s[i].shape,
			s[i].labels))
			return -1;
	return 0;
}

/* "accepts": for each input, the further datatypes it takes (the spec's
 * also_accepts), so that corrald checks requests as the worker would. */
static int pack_accepts(msgpack_packer *pk, const corral_signature *sig)
{
	if (wire_pack_cstr(pk, "accepts") || msgpack_pack_array(pk, sig->n_inputs))
		return -1;
	for (size_t i = 0; i < sig->n_inputs; i++) {
		uint32_t mask = sig->inputs[i].also_accepts, n = 0;
		for (int dt = 0; dt < CORRAL_DT_COUNT_; dt++)
			n += (mask >> dt) & 1u && corral_dtype_name((corral_dtype)dt) != NULL;
		if (msgpack_pack_array(pk, n))
			return -1;
		for (int dt = 0; dt < CORRAL_DT_COUNT_; dt++)
			if ((mask >> dt) & 1u && corral_dtype_name((corral_dtype)dt) != NULL &&
			    wire_pack_cstr(pk, corral_dtype_name((corral_dtype)dt)))
				return -1;
	}
	return 0;
}

static int serve_describe(struct serve_state *s)
{
	const worker_model *m = s->m;
	size_t n_extra = 0;
	while (m->plugin->extra_syscalls && m->plugin->extra_syscalls[n_extra])
		n_extra++;
	if (msgpack_pack_map(&s->pk, 6) || pack_accepts(&s->pk, &m->sig) ||
	    wire_pack_cstr(&s->pk, "sandbox") ||
	    msgpack_pack_map(&s->pk, SANDBOX_N_LAYERS + 1))
		return -1;
	for (int l = 0; l < SANDBOX_N_LAYERS; l++)
		if (wire_pack_kv_str(&s->pk, sandbox_layer_name(l), m->sandbox->layer[l]))
			return -1;
	if (wire_pack_cstr(&s->pk, "extra_syscalls") ||
	    msgpack_pack_array(&s->pk, n_extra))
		return -1;
	for (size_t i = 0; i < n_extra; i++)
		if (wire_pack_cstr(&s->pk, m->plugin->extra_syscalls[i]))
			return -1;
	return
	    wire_pack_kv_str(&s->pk, "plugin", m->plugin->name) ||
	    wire_pack_kv_str(&s->pk, "plugin_version", m->plugin->version) ||
	    wire_pack_cstr(&s->pk, "inputs") ||
	    pack_specs(&s->pk, m->sig.inputs, m->sig.n_inputs) ||
	    wire_pack_cstr(&s->pk, "outputs") ||
	    pack_specs(&s->pk, m->sig.outputs, m->sig.n_outputs);
}

/* --------------------------------------------------------------- infer --- */

static const corral_tensor_spec *find_spec(const corral_tensor_spec *specs,
    size_t n, wire_str name)
{
	for (size_t i = 0; i < n; i++)
		if (wire_str_eq(name, specs[i].name))
			return &specs[i];
	return NULL;
}

/* "[2, -1, 4]" into buf, truncated to fit. */

/* Check decoded inputs against the signature; on success fill s->inputs. */
static corral_status check_inputs(struct serve_state *s,
    const msgpack_object *inputs, size_t *n_out)
{
	const corral_signature *sig = &s->m->sig;
	size_t n = inputs ? inputs->via.array.size : 0;
	if (n > OUTPUTS_MAX) {
		snprintf(s->err, sizeof s->err, "at most %d inputs", OUTPUTS_MAX);
		return CORRAL_E_INVALID_ARGUMENT;
	}
	if (n != sig->n_inputs) {
		snprintf(s->err, sizeof s->err, "the model takes %zu inputs, got %zu",
		    sig->n_inputs, n);
		return CORRAL_E_INVALID_ARGUMENT;
	}
	for (size_t i = 0; i < n; i++) {
		wire_tensor *t = &s->decoded[i];
		corral_status st = wire_tensor_decode(&inputs->via.array.ptr[i], t,
		    s->err, sizeof s->err);
		if (st != CORRAL_OK)
			return st;
		int nl = (int)(t->name.len > 64 ? 64 : t->name.len);
		const corral_tensor_spec *spec = find_spec(sig->inputs, sig->n_inputs, t->name);
		if (spec == NULL) {
			snprintf(s->err, sizeof s->err, "the model has no input '%.*s'",
			    nl, t->name.ptr);
			return CORRAL_E_INVALID_ARGUMENT;
		}
		for (size_t j = 0; j < i; j++)
			if (s->inputs[j].name == spec->name) {
				snprintf(s->err, sizeof s->err, "input '%s' given twice", spec->name);
				return CORRAL_E_INVALID_ARGUMENT;
			}
		if (t->dtype != spec->dtype &&
		    !(spec->also_accepts & CORRAL_ACCEPTS(t->dtype))) {
			snprintf(s->err, sizeof s->err, "input '%s' must be %s, got %s",
			    spec->name, corral_dtype_name(spec->dtype),
			    corral_dtype_name(t->dtype));
			return CORRAL_E_TYPE_MISMATCH;
		}
		bool shape_ok = t->ndim == spec->ndim;
		for (uint32_t d = 0; shape_ok && d < t->ndim; d++)
			shape_ok = spec->shape[d] < 0 || spec->shape[d] == t->shape[d];
		if (!shape_ok) {
			char want[128], got[128];
			wire_format_shape(want, sizeof want, spec->shape, spec->ndim);
			wire_format_shape(got, sizeof got, t->shape, t->ndim);
			snprintf(s->err, sizeof s->err,
			    "input '%s' has shape %s, the model takes %s (-1: any)",
			    spec->name, got, want);
			return CORRAL_E_SHAPE_MISMATCH;
		}
		s->inputs[i] = (corral_tensor){
		    .name = spec->name, .dtype = t->dtype, .ndim = t->ndim,
		    .shape = t->shape, .data = t->raw, .nbytes = t->nbytes};
	}
	*n_out = n;
	return CORRAL_OK;
}

/* Requested output names: NULL/empty means all. Each must be declared. */
static corral_status check_requested(struct serve_state *s,
    const msgpack_object *outputs)
{
	if (outputs == NULL)
		return CORRAL_OK;
	for (uint32_t i = 0; i < outputs->via.array.size; i++) {
		const msgpack_object *o = &outputs->via.array.ptr[i];
		wire_str name = {o->via.str.ptr, o->via.str.size};
		if (o->type != MSGPACK_OBJECT_STR ||
		    find_spec(s->m->sig.outputs, s->m->sig.n_outputs, name) == NULL) {
			snprintf(s->err, sizeof s->err,
			    "requested output %u is not an output of the model", i);
			return CORRAL_E_INVALID_ARGUMENT;
		}
	}
	return CORRAL_OK;
}

static int pack_outputs(struct serve_state *s, const msgpack_object *requested)
{
	const corral_infer_ctx *ctx = &s->outputs;
	if (msgpack_pack_map(&s->pk, 1) || wire_pack_cstr(&s->pk, "outputs"))
		return -1;
	if (requested == NULL || requested->via.array.size == 0) {
		if (msgpack_pack_array(&s->pk, ctx->count))
			return -1;
		for (size_t i = 0; i < ctx->count; i++)
			if (wire_pack_tensor_view(&s->pk, &ctx->slots[i].view))
				return -1;
		return 0;
	}
	if (msgpack_pack_array(&s->pk, requested->via.array.size))
		return -1;
	for (uint32_t i = 0; i < requested->via.array.size; i++) {
		const msgpack_object *o = &requested->via.array.ptr[i];
		const corral_tensor *t = outputs_find(ctx, o->via.str.ptr, o->via.str.size);
		if (t == NULL)
			return 1; /* declared but not produced: the plugin's fault */
		if (wire_pack_tensor_view(&s->pk, t))
			return -1;
	}
	return 0;
}

static corral_status serve_infer(struct serve_state *s, const wire_request *req)
{
	size_t n = 0;
	corral_status st = check_inputs(s, req->inputs, &n);
	if (st == CORRAL_OK)
		st = check_requested(s, req->outputs);
	if (st != CORRAL_OK)
		return st;

	outputs_reset(&s->outputs);
	s->err[0] = '\0';
	corral_plugin_error pe = s->m->plugin->infer(s->m->handle, &s->outputs,
	    s->inputs, n, s->err, sizeof s->err);
	s->err[sizeof s->err - 1] = '\0'; /* whatever the plugin wrote */
	if (pe != CORRAL_PLUGIN_OK) {
		if (s->err[0] == '\0')
			snprintf(s->err, sizeof s->err, "plugin error %d", (int)pe);
		return plugin_error_status(pe);
	}
	const corral_tensor *bad = outputs_bad_bytes(&s->outputs);
	if (bad != NULL) {
		snprintf(s->err, sizeof s->err,
		    "the plugin filled BYTES output '%s' wrongly: its data is not %lld "
		    "length-prefixed elements", bad->name,
		    (long long)corral_shape_elements(bad->shape, bad->ndim));
		return CORRAL_E_MODEL_ERROR;
	}
	int r = pack_outputs(s, req->outputs);
	if (r > 0) {
		snprintf(s->err, sizeof s->err, "the plugin did not produce a requested output");
		return CORRAL_E_MODEL_ERROR;
	}
	if (r < 0) {
		snprintf(s->err, sizeof s->err, "out of memory encoding outputs");
		return CORRAL_E_INTERNAL;
	}
	return CORRAL_OK;
}

/* ---------------------------------------------------------------- loop --- */

static void serve_one(struct serve_state *s, const void *buf, size_t len)
{
	wire_request req;
	corral_status st = wire_request_parse(&req, buf, len, s->err, sizeof s->err);
	msgpack_sbuffer_clear(&s->reply);
	if (st == CORRAL_OK) {
		if (wire_str_eq(req.op, "infer")) {
			st = serve_infer(s, &req);
		} else if (wire_str_eq(req.op, "describe")) {
			if (serve_describe(s) != 0) {
				st = CORRAL_E_INTERNAL;
				snprintf(s->err, sizeof s->err, "out of memory");
			}
		} else {
			st = CORRAL_E_UNKNOWN_OP;
			snprintf(s->err, sizeof s->err, "unknown worker op");
		}
	}
	if (st != CORRAL_OK) {
		msgpack_sbuffer_clear(&s->reply);
		wire_pack_error(&s->pk, NULL, st, s->err);
	}
	wire_request_fini(&req);
}

int worker_serve(nng_socket sock, const worker_model *m, size_t max_reply)
{
	struct serve_state *s = calloc(1, sizeof *s);
	if (s == NULL)
		return -1;
	s->m = m;
	msgpack_sbuffer_init(&s->reply);
	msgpack_packer_init(&s->pk, &s->reply, msgpack_sbuffer_write);

	int rc = 0;
	for (;;) {
		nng_msg *msg;
		int rv = nng_recvmsg(sock, &msg, 0);
		if (rv == NNG_ECLOSED)
			break;
		if (rv != 0) {
			fprintf(stderr, "corral-worker[%d]: receive failed: %s\n",
			    (int)getpid(), nng_strerror(rv));
			rc = -1;
			break;
		}
		serve_one(s, nng_msg_body(msg), nng_msg_len(msg));
		if (max_reply > 0 && s->reply.size > max_reply) {
			snprintf(s->err, sizeof s->err,
			    "the reply of %zu bytes is over the daemon's max_response_bytes (%zu)",
			    s->reply.size, max_reply);
			msgpack_sbuffer_clear(&s->reply);
			wire_pack_error(&s->pk, NULL, CORRAL_E_PAYLOAD_TOO_LARGE, s->err);
		}
		/* Reuse the request's message for the reply: no allocation when
		 * the reply fits the request's capacity. */
		nng_msg_clear(msg);
		if (nng_msg_append(msg, s->reply.data, s->reply.size) != 0 ||
		    nng_sendmsg(sock, msg, 0) != 0)
			nng_msg_free(msg);
	}
	msgpack_sbuffer_destroy(&s->reply);
	for (size_t i = 0; i < OUTPUTS_MAX; i++)
		free(s->outputs.slots[i].buf);
	free(s);
	return rc;
}
