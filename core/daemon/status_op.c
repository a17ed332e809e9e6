/*
 * status_op.c - the `status` reply (docs/protocol.md): per model version
 * its state, routing (default, traffic weight), requests waiting, each
 * worker (state, restarts, pid, uptime, served, outstanding, memory, last
 * exit), how many workers it started and how each one ended, counted by
 * cause, its limits, and the sandbox layers its worker reported; and
 * daemon-wide, which layers the daemon itself provides (identity, cgroups).
 */
#include <stdio.h>
#include <unistd.h>

#include "gate.h"
#include "info_ops.h"
#include "routing.h"

static int pack_kv_i64(msgpack_packer *pk, const char *k, int64_t v)
{
	return wire_pack_cstr(pk, k) || wire_pack_i64(pk, v);
}

/* The worker's memory: its cgroup's count, else its resident set. */
static int pack_limits(msgpack_packer *pk, const worker_limits *l)
{
	return wire_pack_cstr(pk, "limits") || msgpack_pack_map(pk, 6) ||
	    pack_kv_i64(pk, "memory_bytes", l->memory_bytes) ||
	    pack_kv_i64(pk, "pids", l->pids) ||
	    pack_kv_i64(pk, "cpu_millicores", l->cpu_millicores) ||
	    pack_kv_i64(pk, "cpu_seconds", l->cpu_seconds) ||
	    pack_kv_i64(pk, "address_space_bytes", l->address_space_bytes) ||
	    pack_kv_i64(pk, "open_files", l->open_files);
}

/* One worker slot: its state, restarts and, when a process runs in it,
 * that process. A serving worker of a draining version is DRAINING. */
static int pack_instance(msgpack_packer *pk, const instance *in, bool draining,
    int64_t now)
{
	const worker *w = in->w;
	version_state state = draining && in->state == VERSION_READY ? VERSION_DRAINING
								     : in->state;
	bool running = w != NULL && w->pid > 0;
	bool waiting = in->state == VERSION_CRASHED;
	uint32_t n = 3 + (running ? 5 : 0) + (waiting ? 1 : 0) + (in->last_cause[0] ? 1 : 0);
	int rc = msgpack_pack_map(pk, n) || pack_kv_i64(pk, "instance", in->index) ||
	    wire_pack_kv_str(pk, "state", version_state_name(state)) ||
	    pack_kv_i64(pk, "restarts", (int64_t)in->restarts);
	if (rc == 0 && running)
		rc = pack_kv_i64(pk, "pid", w->pid) ||
		    pack_kv_i64(pk, "uptime_ms", now - w->started_ms) ||
		    pack_kv_i64(pk, "served", (int64_t)w->served) ||
		    pack_kv_i64(pk, "outstanding", w->outstanding) ||
		    pack_kv_i64(pk, "memory_bytes", worker_memory(w));
	if (rc == 0 && waiting)
		rc = pack_kv_i64(pk, "restart_in_ms",
		    in->restart_at_ms > now ? in->restart_at_ms - now : 0);
	if (rc == 0 && in->last_cause[0])
		rc = wire_pack_kv_str(pk, "last_exit", in->last_cause);
	return rc;
}

static int pack_version(msgpack_packer *pk, const corrald *d,
    const model_version *mv, int64_t now)
{
	const char *user = !d->as_root ? "(corrald's own)"
	    : mv->model->cfg.user  ? mv->model->cfg.user
				   : d->cfg.worker_user;
	const model *m = mv->model;
	bool shadowed = m->shadow_version == mv->version;
	bool gated = mv->gate != GATE_NONE;
	uint32_t n = 12 + gated + PROVENANCE_PAIRS + (mv->last_cause[0] ? 1 : 0) +
	    (mv->sandbox ? 1 : 0) + shadowed;
	int64_t weight = 0;
	for (size_t i = 0; i < m->n_traffic; i++)
		if (m->traffic_version[i] == mv->version)
			weight = m->traffic_weight[i];
	int rc = msgpack_pack_map(pk, n) || wire_pack_kv_str(pk, "name", mv->model->name) ||
	    pack_kv_i64(pk, "version", mv->version) ||
	    wire_pack_kv_str(pk, "state", version_state_name(version_state_of(mv))) ||
	    wire_pack_cstr(pk, "unloading") ||
	    (mv->unloading ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) ||
	    wire_pack_kv_str(pk, "user", user) ||
	    pack_kv_i64(pk, "starts", (int64_t)mv->starts) ||
	    pack_kv_i64(pk, "waiting", (int64_t)mv->waiting) ||
	    wire_pack_cstr(pk, "default") ||
	    (routing_default_version(m) == mv->version ? msgpack_pack_true(pk)
						       : msgpack_pack_false(pk)) ||
	    pack_kv_i64(pk, "traffic_weight", weight) ||
	    wire_pack_cstr(pk, "exits") || msgpack_pack_map(pk, EXIT_N_CAUSES);
	for (int c = 0; rc == 0 && c < EXIT_N_CAUSES; c++)
		rc = pack_kv_i64(pk, exit_cause_name(c), (int64_t)mv->exits[c]);
	if (rc == 0)
		rc = pack_provenance(pk, mv) || pack_limits(pk, &mv->model->cfg.limits) ||
		    wire_pack_cstr(pk, "workers") || msgpack_pack_array(pk, mv->n_inst);
	for (size_t k = 0; rc == 0 && k < mv->n_inst; k++)
		rc = pack_instance(pk, &mv->inst[k], mv->draining, now);
	if (rc == 0 && mv->last_cause[0])
		rc = wire_pack_kv_str(pk, "last_exit", mv->last_cause);
	if (rc == 0 && gated)
		rc = wire_pack_cstr(pk, "validation") || msgpack_pack_map(pk, 2) ||
		    wire_pack_kv_str(pk, "state", gate_state_name(mv->gate)) ||
		    wire_pack_kv_str(pk, "report", mv->gate_report);
	/* this version is the model's shadow: how its answers compare */
	if (rc == 0 && shadowed)
		rc = wire_pack_cstr(pk, "shadow") || msgpack_pack_map(pk, 7) ||
		    pack_kv_i64(pk, "percent", m->shadow_percent) ||
		    pack_kv_i64(pk, "mirrored", (int64_t)m->shadow.mirrored) ||
		    pack_kv_i64(pk, "compared", (int64_t)m->shadow.compared) ||
		    pack_kv_i64(pk, "diverged", (int64_t)m->shadow.diverged) ||
		    pack_kv_i64(pk, "failed", (int64_t)m->shadow.failed) ||
		    pack_kv_i64(pk, "skipped", (int64_t)m->shadow.skipped) ||
		    wire_pack_cstr(pk, "max_abs_diff") ||
		    msgpack_pack_double(pk, m->shadow.max_abs_diff);
	/* The worker's own map of layers, as it sent it at READY. */
	if (rc == 0 && mv->sandbox)
		rc = wire_pack_cstr(pk, "sandbox") ||
		    pk->callback(pk->data, mv->sandbox, mv->sandbox_len);
	return rc;
}

corral_status op_status(corrald *d, const wire_request *req,
    msgpack_packer *pk, char *err, size_t errlen)
{
	int64_t now = now_ms();
	pthread_mutex_lock(&d->lock);
	size_t total = 0;
	for (size_t i = 0; i < d->n_models; i++)
		if (req->model.len == 0 || wire_str_eq(req->model, d->models[i]->name))
			total += d->models[i]->n_versions;
	if (req->model.len != 0 && total == 0) {
		pthread_mutex_unlock(&d->lock);
		snprintf(err, errlen, "no model '%.*s'",
		    (int)(req->model.len > 64 ? 64 : req->model.len), req->model.ptr);
		return CORRAL_E_MODEL_NOT_FOUND;
	}
	int rc = msgpack_pack_map(pk, req->id ? 4 : 3) ||
	    wire_pack_envelope(pk, req->id) || wire_pack_cstr(pk, "daemon") ||
	    msgpack_pack_map(pk, 3) || pack_kv_i64(pk, "pid", getpid()) ||
	    wire_pack_kv_str(pk, "identity",
		d->as_root ? "on: workers run as unprivileged users"
			   : "off: corrald is not root, workers run as its user") ||
	    wire_pack_kv_str(pk, "cgroups", d->cg.state) ||
	    wire_pack_cstr(pk, "models") || msgpack_pack_array(pk, total);
	for (size_t i = 0; rc == 0 && i < d->n_models; i++) {
		model *m = d->models[i];
		if (req->model.len != 0 && !wire_str_eq(req->model, m->name))
			continue;
		for (size_t j = 0; rc == 0 && j < m->n_versions; j++)
			rc = pack_version(pk, d, m->versions[j], now);
	}
	pthread_mutex_unlock(&d->lock);
	if (rc != 0) {
		snprintf(err, errlen, "out of memory");
		return CORRAL_E_INTERNAL;
	}
	return CORRAL_OK;
}
