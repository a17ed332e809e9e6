/* info_ops.c - metadata, models and health replies (docs/protocol.md). */
#include <stdio.h>

#include "front.h"
#include "info_ops.h"
#include "routing.h"

int pack_provenance(msgpack_packer *pk, const model_version *mv)
{
	return wire_pack_kv_str(pk, "ready_at", mv->ready_at) ||
	    wire_pack_cstr(pk, "provenance") ||
	    (mv->provenance ? pk->callback(pk->data, mv->provenance, mv->provenance_len)
			    : msgpack_pack_nil(pk));
}

static corral_status packed(int rc, char *err, size_t errlen)
{
	if (rc == 0)
		return CORRAL_OK;
	snprintf(err, errlen, "out of memory");
	return CORRAL_E_INTERNAL;
}

corral_status op_metadata(corrald *d, const wire_request *req,
    msgpack_packer *pk, char *err, size_t errlen)
{
	corral_status st = CORRAL_OK;
	pthread_mutex_lock(&d->lock);
	model_version *mv = models_find(d, req->model, req->version, false, &st, err,
	    errlen);
	if (mv != NULL && mv->meta == NULL) {
		st = CORRAL_E_UNAVAILABLE;
		snprintf(err, errlen, "model '%s' version %lld has not been ready yet (%s)",
		    mv->model->name, (long long)mv->version,
		    version_state_name(version_state_of(mv)));
	}
	if (st != CORRAL_OK) {
		pthread_mutex_unlock(&d->lock);
		return st;
	}
	/* meta holds four key/value pairs ready to send (workers.c,
	 * describe_to_meta): plugin, plugin_version, inputs, outputs. */
	const model *m = mv->model;
	int rc = msgpack_pack_map(pk, (req->id ? 5 : 4) + 4 + PROVENANCE_PAIRS) ||
	    wire_pack_envelope(pk, req->id) || wire_pack_kv_str(pk, "name", m->name) ||
	    wire_pack_cstr(pk, "version") || wire_pack_i64(pk, mv->version) ||
	    wire_pack_cstr(pk, "versions") || msgpack_pack_array(pk, m->n_versions);
	for (size_t i = 0; rc == 0 && i < m->n_versions; i++)
		rc = wire_pack_i64(pk, m->versions[i]->version);
	if (rc == 0)
		rc = pk->callback(pk->data, mv->meta, mv->meta_len) ||
		    pack_provenance(pk, mv);
	pthread_mutex_unlock(&d->lock);
	return packed(rc, err, errlen);
}

corral_status op_models(corrald *d, const wire_request *req,
    msgpack_packer *pk, char *err, size_t errlen)
{
	pthread_mutex_lock(&d->lock);
	size_t total = 0;
	for (size_t i = 0; i < d->n_models; i++)
		total += d->models[i]->n_versions;
	int rc = msgpack_pack_map(pk, req->id ? 3 : 2) ||
	    wire_pack_envelope(pk, req->id) || wire_pack_cstr(pk, "models") ||
	    msgpack_pack_array(pk, total);
	for (size_t i = 0; rc == 0 && i < d->n_models; i++) {
		model *m = d->models[i];
		for (size_t j = 0; rc == 0 && j < m->n_versions; j++) {
			model_version *mv = m->versions[j];
			bool has_cause = mv->last_cause[0] != '\0';
			rc = msgpack_pack_map(pk, has_cause ? 5 : 4) ||
			    wire_pack_kv_str(pk, "name", m->name) ||
			    wire_pack_cstr(pk, "version") || wire_pack_i64(pk, mv->version) ||
			    wire_pack_kv_str(pk, "state", version_state_name(version_state_of(mv))) ||
			    wire_pack_cstr(pk, "default") ||
			    (mv->version == routing_default_version(m) ? msgpack_pack_true(pk)
						    : msgpack_pack_false(pk)) ||
			    (has_cause && wire_pack_kv_str(pk, "last_error", mv->last_cause));
		}
	}
	pthread_mutex_unlock(&d->lock);
	return packed(rc, err, errlen);
}

bool daemon_ready(corrald *d, wire_str name, bool *found)
{
	/* Ready: every served version (of model `name` only, when named) has a
	 * READY worker; versions being unloaded do not count (lifecycle.h),
	 * and a named model without a version is not ready. */
	/* a daemon that is shutting down takes no new work: not ready */
	bool ready = d->front == NULL || !front_draining(d->front);
	*found = name.len == 0;
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n_models; i++) {
		const model *m = d->models[i];
		if (name.len != 0 && !wire_str_eq(name, m->name))
			continue;
		*found = true;
		ready = ready && (name.len == 0 || m->n_versions > 0);
		for (size_t j = 0; j < m->n_versions; j++) {
			const model_version *mv = m->versions[j];
			ready = ready && (mv->unloading || mv->draining ||
					     version_state_of(mv) == VERSION_READY);
		}
	}
	pthread_mutex_unlock(&d->lock);
	return ready;
}

corral_status op_health(corrald *d, const wire_request *req,
    msgpack_packer *pk, char *err, size_t errlen)
{
	bool found;
	bool ready = daemon_ready(d, req->model, &found);
	if (!found) {
		snprintf(err, errlen, "no model named '%.*s'",
		    (int)(req->model.len > 64 ? 64 : req->model.len), req->model.ptr);
		return CORRAL_E_MODEL_NOT_FOUND;
	}
	int rc = msgpack_pack_map(pk, req->id ? 4 : 3) ||
	    wire_pack_envelope(pk, req->id) || wire_pack_cstr(pk, "live") ||
	    msgpack_pack_true(pk) || wire_pack_cstr(pk, "ready") ||
	    (ready ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
	return packed(rc, err, errlen);
}
