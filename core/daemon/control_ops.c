/*
 * control_ops.c - the ops that change what corrald serves (docs/protocol.md):
 * promote, rollback, set-traffic and shadow. Each needs the admin token (the
 * request's `token` equal to the content of the daemon's admin_token_file);
 * without one configured, control ops are off. A change is saved before
 * it is answered (routing.h); the reply is the model's routing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_ops.h"
#include "log.h"
#include "routing.h"

/* Compare in time independent of where the strings differ. */
static bool same_secret(wire_str given, const char *want)
{
	size_t n = strlen(want);
	unsigned char diff = given.len != n;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(i < given.len ? given.ptr[i] : 0) ^ (unsigned char)want[i];
	return diff == 0;
}

corral_status control_check_admin(const corrald *d, const wire_request *req, char *err,
    size_t errlen)
{
	if (d->admin_token == NULL) {
		snprintf(err, errlen, "control ops are off: the daemon config names no "
		    "admin_token_file");
		return CORRAL_E_UNAUTHENTICATED;
	}
	if (!same_secret(req->token, d->admin_token)) {
		snprintf(err, errlen, "control ops need the admin token ('token')");
		return CORRAL_E_UNAUTHENTICATED;
	}
	return CORRAL_OK;
}

/* set-traffic's {"weights": {"VERSION": WEIGHT, ...}} */
static corral_status read_weights(const wire_request *req, int64_t *versions,
    int64_t *weights, size_t *n, char *err, size_t errlen)
{
	const msgpack_object *w = wire_map_get(req->root, "weights");
	if (w == NULL || w->type != MSGPACK_OBJECT_MAP || w->via.map.size > ROUTING_MAX_TRAFFIC) {
		snprintf(err, errlen, "set-traffic needs 'weights': a map of up to %d "
		    "versions (as strings) to integer weights", ROUTING_MAX_TRAFFIC);
		return CORRAL_E_INVALID_ARGUMENT;
	}
	for (uint32_t i = 0; i < w->via.map.size; i++) {
		const msgpack_object_kv *kv = &w->via.map.ptr[i];
		char key[24] = "";
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size < sizeof key)
			memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
		char *end;
		long long v = strtoll(key, &end, 10);
		if (key[0] == '\0' || *end != '\0' || v <= 0 ||
		    kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
			snprintf(err, errlen, "weights: each key is a version number (a string), "
			    "each value a non-negative integer");
			return CORRAL_E_INVALID_ARGUMENT;
		}
		versions[i] = v;
		weights[i] = kv->val.via.u64 > 1000000 ? -1 : (int64_t)kv->val.via.u64;
	}
	*n = w->via.map.size;
	return CORRAL_OK;
}

corral_status op_control(corrald *d, const wire_request *req, msgpack_packer *pk,
    char *err, size_t errlen)
{
	corral_status st = control_check_admin(d, req, err, errlen);
	if (st != CORRAL_OK)
		return st;
	int64_t versions[ROUTING_MAX_TRAFFIC], weights[ROUTING_MAX_TRAFFIC];
	size_t n = 0;
	bool promote = wire_str_eq(req->op, "promote"), rollback = wire_str_eq(req->op, "rollback");
	bool shadow = wire_str_eq(req->op, "shadow");
	if (promote && req->version <= 0) {
		snprintf(err, errlen, "promote needs 'version'");
		return CORRAL_E_INVALID_ARGUMENT;
	}
	/* shadow: {version, percent}; version 0 or percent 0 stops it */
	const msgpack_object *pct = wire_map_get(req->root, "percent");
	if (shadow && (pct == NULL || pct->type != MSGPACK_OBJECT_POSITIVE_INTEGER)) {
		snprintf(err, errlen, "shadow needs 'percent', an integer from 0 to 100");
		return CORRAL_E_INVALID_ARGUMENT;
	}
	if (!promote && !rollback && !shadow &&
	    (st = read_weights(req, versions, weights, &n, err, errlen)) != CORRAL_OK)
		return st;

	pthread_mutex_lock(&d->lock);
	model *m = models_find_model(d, req->model);
	if (m == NULL) {
		st = CORRAL_E_MODEL_NOT_FOUND;
		snprintf(err, errlen, "no model named '%.*s'",
		    (int)(req->model.len > 64 ? 64 : req->model.len), req->model.ptr);
	} else {
		/* keep the old routing, to put back if it cannot be saved */
		model before = *m;
		st = promote ? routing_promote(m, req->version, err, errlen)
		    : rollback ? routing_rollback(m, err, errlen)
		    : shadow   ? routing_set_shadow(m, req->version,
			       pct->via.u64 > 100 ? 101 : (int64_t)pct->via.u64, err, errlen)
			       : routing_set_traffic(m, versions, weights, n, err, errlen);
		if (st == CORRAL_OK && routing_save(d, err, errlen) != 0) {
			m->default_version = before.default_version;
			m->previous_default = before.previous_default;
			m->n_traffic = before.n_traffic;
			m->shadow_version = before.shadow_version;
			m->shadow_percent = before.shadow_percent;
			memcpy(m->traffic_version, before.traffic_version, sizeof m->traffic_version);
			memcpy(m->traffic_weight, before.traffic_weight, sizeof m->traffic_weight);
			st = CORRAL_E_INTERNAL;
		}
	}
	if (st == CORRAL_OK) {
		log_msg(LOG_INFO, "%.*s: model %s now routes to version %lld by default%s",
		    (int)req->op.len, req->op.ptr, m->name,
		    (long long)routing_default_version(m), m->n_traffic ? " (with traffic weights)" : "");
		if (msgpack_pack_map(pk, (req->id ? 3 : 2) + ROUTING_PACK_PAIRS) ||
		    wire_pack_envelope(pk, req->id) || wire_pack_kv_str(pk, "model", m->name) ||
		    routing_pack(pk, m)) {
			st = CORRAL_E_INTERNAL;
			snprintf(err, errlen, "out of memory");
		}
	}
	pthread_mutex_unlock(&d->lock);
	return st;
}
