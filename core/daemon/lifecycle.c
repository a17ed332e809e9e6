/* lifecycle.c - versions entering and leaving service (lifecycle.h). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "control_ops.h"
#include "gate.h"
#include "lifecycle.h"
#include "log.h"
#include "routing.h"
#include "workers.h"

/* What a reload, load or unload changed, for its reply and the log. */
#define MAX_CHANGES 256
typedef struct changes {
	struct change {
		const model *m; /* models are never freed */
		int64_t version;
		const char *what; /* "loading", "unloading", "draining", "kept" */
	} c[MAX_CHANGES];
	size_t n, dropped;
} changes;

typedef enum { JOB_RELOAD, JOB_LOAD, JOB_UNLOAD } job_kind;

/* One op waiting for the supervisor. The op's thread owns it and waits
 * until `done`; the supervisor reads req and writes st, err and out. */
typedef struct job {
	job_kind kind;
	const wire_request *req;
	corral_status st;
	char *err;
	size_t errlen;
	changes out;
	bool done;
} job;

struct lifecycle {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t supervisor;
	job *pending; /* at most one at a time; the others wait for the slot */
	bool closed;
	int64_t next_poll_ms;
};

static void note(changes *out, const model *m, int64_t v, const char *what)
{
	log_event(LOG_INFO, &(log_ctx){.model = m->name, .version = v}, "model %s version %lld: %s",
	    m->name, (long long)v, what);
	if (out->n == MAX_CHANGES)
		out->dropped++;
	else
		out->c[out->n++] = (struct change){m, v, what};
}

static bool in_list(const int64_t *list, size_t n, int64_t v)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == v)
			return true;
	return false;
}

/* Take v out of list (if there). */
static void list_remove(int64_t *list, size_t *n, int64_t v)
{
	for (size_t i = 0; i < *n; i++)
		if (list[i] == v) {
			list[i] = list[--*n];
			return;
		}
}

static bool list_add(int64_t *list, size_t *n, int64_t v)
{
	if (in_list(list, *n, v))
		return true;
	if (*n == MODEL_MAX_PINS)
		return false;
	list[(*n)++] = v;
	return true;
}

/* Should m serve version v, one of the `n` folders in `present` (less
 * the unloaded ones, so the policy chooses among the others: unloading
 * the latest version brings back the one before)? */
static bool wanted(const model *m, int64_t v, const int64_t *present, size_t n)
{
	return !m->off && (in_list(m->pinned, m->n_pinned, v) ||
			       model_config_serves(&m->cfg, v, present, n));
}

/*
 * Bring m's versions to the set it should serve: new ones are added
 * (STARTING; workers_tick starts them), ones no longer wanted start
 * leaving (at start, when no worker runs yet, they go at once), and a
 * leaving one that is wanted again stays. Supervisor thread.
 */
static void sync_model(corrald *d, model *m, bool at_start, changes *out)
{
	static int64_t present[MODEL_MAX_VERSIONS]; /* supervisor thread only */
	ssize_t n = model_present_versions(m->dir, present, MODEL_MAX_VERSIONS);
	if (n < 0) {
		log_msg(LOG_ERROR, "model %s has more than %d version folders; its versions "
		    "stay as they are (the policy could pick the wrong ones)", m->name,
		    MODEL_MAX_VERSIONS);
		return;
	}
	/* the policy's candidates: the folders not unloaded by hand */
	ssize_t kept = 0;
	for (ssize_t i = 0; i < n; i++)
		if (!in_list(m->unpinned, m->n_unpinned, present[i]))
			present[kept++] = present[i];
	n = kept;
	for (ssize_t i = 0; i < n; i++) {
		if (!wanted(m, present[i], present, (size_t)n) ||
		    model_find_version(m, present[i]) != NULL)
			continue;
		model_version *mv = version_new(m, present[i]);
		pthread_mutex_lock(&d->lock);
		int rc = mv ? model_insert_version(mv) : -1;
		pthread_mutex_unlock(&d->lock);
		if (rc != 0) {
			log_msg(LOG_ERROR, "model %s version %lld: out of memory; not loaded",
			    m->name, (long long)present[i]);
			if (mv)
				version_unref(mv);
			continue;
		}
		if (!at_start)
			note(out, m, mv->version, "loading");
	}
	pthread_mutex_lock(&d->lock);
	for (size_t j = m->n_versions; j-- > 0;) {
		model_version *mv = m->versions[j];
		bool keep = in_list(present, (size_t)n, mv->version) &&
		    wanted(m, mv->version, present, (size_t)n);
		if (at_start && !keep) {
			model_remove_version(mv);
		} else if (!keep && !mv->unloading) {
			mv->unloading = true;
			note(out, m, mv->version, "unloading");
			if (routing_uses(m, mv->version))
				log_msg(LOG_WARN, "model %s version %lld stays while the routing "
				    "names it (promote, set-traffic or shadow another version)",
				    m->name, (long long)mv->version);
		} else if (keep && mv->unloading && !mv->draining) {
			mv->unloading = false;
			note(out, m, mv->version, "kept");
		}
	}
	pthread_mutex_unlock(&d->lock);
}

static bool is_model_dir(const char *dir)
{
	struct stat st;
	char *cfg = path_join(dir, "config.yaml");
	bool yes = cfg && stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && stat(cfg, &st) == 0;
	free(cfg);
	return yes;
}

/* d's model `name`; a model folder not in the table yet is read and
 * added. NULL when there is no such model (err says why). */
static model *find_or_add_model(corrald *d, const char *name, char *err, size_t errlen)
{
	model *m = models_find_model(d, (wire_str){name, strlen(name)});
	if (m != NULL)
		return m;
	char *dir = path_join(d->cfg.model_repository, name);
	if (dir == NULL || name[0] == '.' || strchr(name, '/') != NULL || !is_model_dir(dir)) {
		snprintf(err, errlen, "no model named '%.128s' in %s", name,
		    d->cfg.model_repository);
		free(dir);
		return NULL;
	}
	m = model_create(d, name, dir, err, errlen);
	free(dir);
	if (m == NULL)
		return NULL;
	pthread_mutex_lock(&d->lock);
	int rc = models_insert(d, m);
	pthread_mutex_unlock(&d->lock);
	if (rc != 0) {
		model_destroy(m);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return m;
}

/* Add every model folder of the repository that is not in the table yet
 * (a broken one is logged and skipped). Returns 0, or -1 with err when the
 * repository cannot be read. */
static int add_new_models(corrald *d, char *err, size_t errlen)
{
	const char *repo = d->cfg.model_repository;
	DIR *dh = opendir(repo);
	if (dh == NULL) {
		snprintf(err, errlen, "model repository %s: %m", repo);
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(dh)) != NULL) {
		if (e->d_name[0] == '.' ||
		    models_find_model(d, (wire_str){e->d_name, strlen(e->d_name)}) != NULL)
			continue;
		char *dir = path_join(repo, e->d_name);
		bool candidate = dir && is_model_dir(dir);
		free(dir);
		char why[512];
		if (candidate && find_or_add_model(d, e->d_name, why, sizeof why) == NULL)
			log_msg(LOG_ERROR, "model %s not served: %s", e->d_name, why);
	}
	closedir(dh);
	return 0;
}

/* Read the whole repository again: new model folders, new and removed
 * versions. */
static int sync_all(corrald *d, bool at_start, changes *out, char *err, size_t errlen)
{
	if (add_new_models(d, err, errlen) != 0)
		return -1;
	if (at_start)
		routing_restore_pins(d);
	for (size_t i = 0; i < d->n_models; i++)
		sync_model(d, d->models[i], at_start, out);
	return 0;
}

int lifecycle_start(corrald *d, char *err, size_t errlen)
{
	struct lifecycle *lc = calloc(1, sizeof *lc);
	if (lc == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&lc->mu, NULL);
	pthread_cond_init(&lc->cv, NULL);
	lc->supervisor = pthread_self();
	lc->next_poll_ms = now_ms() + d->cfg.repository_poll_ms;
	d->lifecycle = lc;
	changes *unused = malloc(sizeof *unused);
	int rc = unused ? sync_all(d, true, unused, err, errlen) : -1;
	if (unused == NULL)
		snprintf(err, errlen, "out of memory");
	free(unused);
	for (size_t i = 0; rc == 0 && i < d->n_models; i++)
		if (d->models[i]->n_versions == 0)
			log_msg(LOG_WARN, "model %s has no version folder to serve",
			    d->models[i]->name);
	return rc;
}

/* ---------------------------------------------------------- the ops --- */

/* Save the loads and unloads with the routing; an op that cannot save
 * says so (what it changed in memory still holds until the restart). */
static void save(corrald *d, job *j)
{
	pthread_mutex_lock(&d->lock);
	if (routing_save(d, j->err, j->errlen) != 0)
		j->st = CORRAL_E_INTERNAL;
	pthread_mutex_unlock(&d->lock);
}

static void job_load(corrald *d, job *j, model *m)
{
	int64_t v = j->req->version;
	if (v > 0) {
		char num[24];
		snprintf(num, sizeof num, "%lld", (long long)v);
		char *dir = path_join(m->dir, num);
		struct stat st;
		bool present = dir && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
		free(dir);
		model_version *mv = model_find_version(m, v);
		if (!present) {
			j->st = CORRAL_E_VERSION_NOT_FOUND;
			snprintf(j->err, j->errlen, "model '%s' has no version folder %lld",
			    m->name, (long long)v);
			return;
		}
		if (mv != NULL && mv->draining) {
			j->st = CORRAL_E_FAILED_PRECONDITION;
			snprintf(j->err, j->errlen, "model '%s' version %lld is still draining; "
			    "load it again once it is unloaded", m->name, (long long)v);
			return;
		}
	}
	pthread_mutex_lock(&d->lock);
	m->off = false;
	if (v > 0) {
		list_remove(m->unpinned, &m->n_unpinned, v);
		if (!list_add(m->pinned, &m->n_pinned, v)) {
			j->st = CORRAL_E_INVALID_ARGUMENT;
			snprintf(j->err, j->errlen, "model '%s' has %d versions loaded by hand "
			    "already; unload some first", m->name, MODEL_MAX_PINS);
		}
	} else {
		m->n_unpinned = 0;
	}
	pthread_mutex_unlock(&d->lock);
	if (j->st != CORRAL_OK)
		return;
	save(d, j);
	sync_model(d, m, false, &j->out);
}

/* Drain mv now (an explicit unload does not wait for a replacement).
 * Lock held. */
static void drain_now(model_version *mv, changes *out)
{
	mv->unloading = true;
	if (!mv->draining) {
		mv->draining = true;
		mv->drain_since_ms = now_ms();
		note(out, mv->model, mv->version, "draining");
	}
}

static void job_unload(corrald *d, job *j, model *m)
{
	int64_t v = j->req->version;
	pthread_mutex_lock(&d->lock);
	model_version *mv = v > 0 ? model_find_version(m, v) : NULL;
	if (v > 0 && mv == NULL) {
		j->st = CORRAL_E_VERSION_NOT_FOUND;
		snprintf(j->err, j->errlen, "model '%s' has no served version %lld", m->name,
		    (long long)v);
	} else if (v > 0 && routing_uses(m, v)) {
		j->st = CORRAL_E_FAILED_PRECONDITION;
		snprintf(j->err, j->errlen, "model '%s' version %lld is named by the routing "
		    "(default, traffic weights or shadow): route elsewhere first",
		    m->name, (long long)v);
	} else if (v > 0) {
		list_remove(m->pinned, &m->n_pinned, v);
		if (!list_add(m->unpinned, &m->n_unpinned, v)) {
			j->st = CORRAL_E_INVALID_ARGUMENT;
			snprintf(j->err, j->errlen, "model '%s' has %d versions unloaded by hand "
			    "already; load some first", m->name, MODEL_MAX_PINS);
		} else {
			drain_now(mv, &j->out);
		}
	} else {
		/* The whole model goes, and its routing with it. */
		m->off = true;
		m->n_pinned = 0;
		m->default_version = m->previous_default = 0;
		m->n_traffic = 0;
		m->shadow_version = m->shadow_percent = 0;
		for (size_t k = 0; k < m->n_versions; k++)
			drain_now(m->versions[k], &j->out);
	}
	pthread_mutex_unlock(&d->lock);
	if (j->st == CORRAL_OK) {
		save(d, j);
		sync_model(d, m, false, &j->out); /* what the policy picks now */
	}
}

static void run_job(corrald *d, job *j)
{
	const wire_request *req = j->req;
	if (j->kind == JOB_RELOAD && req->model.len == 0) {
		if (sync_all(d, false, &j->out, j->err, j->errlen) != 0)
			j->st = CORRAL_E_INTERNAL;
		return;
	}
	char name[256];
	snprintf(name, sizeof name, "%.*s", (int)(req->model.len < 255 ? req->model.len : 255),
	    req->model.ptr);
	model *m = j->kind == JOB_UNLOAD ? models_find_model(d, req->model)
					 : find_or_add_model(d, name, j->err, j->errlen);
	if (m == NULL) {
		j->st = CORRAL_E_MODEL_NOT_FOUND;
		if (j->kind == JOB_UNLOAD)
			snprintf(j->err, j->errlen, "no model named '%s'", name);
		return;
	}
	if (j->kind == JOB_RELOAD)
		sync_model(d, m, false, &j->out);
	else if (j->kind == JOB_LOAD)
		job_load(d, j, m);
	else
		job_unload(d, j, m);
}

static corral_status pack_changes(msgpack_packer *pk, const wire_request *req,
    const changes *out, char *err, size_t errlen)
{
	int rc = msgpack_pack_map(pk, (req->id ? 3 : 2) + (out->dropped ? 1 : 0)) ||
	    wire_pack_envelope(pk, req->id) || wire_pack_cstr(pk, "changes") ||
	    msgpack_pack_array(pk, out->n);
	for (size_t i = 0; rc == 0 && i < out->n; i++)
		rc = msgpack_pack_map(pk, 3) || wire_pack_kv_str(pk, "model", out->c[i].m->name) ||
		    wire_pack_cstr(pk, "version") || wire_pack_i64(pk, out->c[i].version) ||
		    wire_pack_kv_str(pk, "change", out->c[i].what);
	if (rc == 0 && out->dropped)
		rc = wire_pack_cstr(pk, "changes_not_listed") ||
		    msgpack_pack_uint64(pk, out->dropped);
	if (rc != 0) {
		snprintf(err, errlen, "out of memory");
		return CORRAL_E_INTERNAL;
	}
	return CORRAL_OK;
}

corral_status op_lifecycle(corrald *d, const wire_request *req, msgpack_packer *pk,
    char *err, size_t errlen)
{
	corral_status st = control_check_admin(d, req, err, errlen);
	if (st != CORRAL_OK)
		return st;
	job_kind kind = wire_str_eq(req->op, "load") ? JOB_LOAD
	    : wire_str_eq(req->op, "unload")         ? JOB_UNLOAD
						     : JOB_RELOAD;
	if (kind != JOB_RELOAD && req->model.len == 0) {
		snprintf(err, errlen, "%s needs 'model'", kind == JOB_LOAD ? "load" : "unload");
		return CORRAL_E_INVALID_ARGUMENT;
	}
	job *j = calloc(1, sizeof *j);
	if (j == NULL) {
		snprintf(err, errlen, "out of memory");
		return CORRAL_E_INTERNAL;
	}
	*j = (job){.kind = kind, .req = req, .st = CORRAL_OK, .err = err, .errlen = errlen};
	struct lifecycle *lc = d->lifecycle;
	pthread_mutex_lock(&lc->mu);
	while (lc->pending != NULL && !lc->closed)
		pthread_cond_wait(&lc->cv, &lc->mu);
	if (lc->closed) {
		pthread_mutex_unlock(&lc->mu);
		free(j);
		snprintf(err, errlen, "corrald is shutting down");
		return CORRAL_E_UNAVAILABLE;
	}
	lc->pending = j;
	pthread_kill(lc->supervisor, LIFECYCLE_WAKE_SIGNAL);
	while (!j->done)
		pthread_cond_wait(&lc->cv, &lc->mu);
	pthread_mutex_unlock(&lc->mu);
	st = j->st == CORRAL_OK ? pack_changes(pk, req, &j->out, err, errlen) : j->st;
	free(j);
	return st;
}

static void job_finish(struct lifecycle *lc, job *j)
{
	pthread_mutex_lock(&lc->mu);
	j->done = true;
	lc->pending = NULL;
	pthread_cond_broadcast(&lc->cv);
	pthread_mutex_unlock(&lc->mu);
}

void lifecycle_close(corrald *d)
{
	struct lifecycle *lc = d->lifecycle;
	if (lc == NULL)
		return;
	pthread_mutex_lock(&lc->mu);
	lc->closed = true;
	job *j = lc->pending;
	pthread_mutex_unlock(&lc->mu);
	if (j != NULL) {
		j->st = CORRAL_E_UNAVAILABLE;
		snprintf(j->err, j->errlen, "corrald is shutting down");
		job_finish(lc, j);
	}
}

void lifecycle_free(corrald *d)
{
	struct lifecycle *lc = d->lifecycle;
	if (lc == NULL)
		return;
	pthread_mutex_destroy(&lc->mu);
	pthread_cond_destroy(&lc->cv);
	free(lc);
	d->lifecycle = NULL;
}

/* ------------------------------------------------------------ drains --- */

/* May mv, which is leaving, stop taking traffic now? Not while the
 * routing names it, and not before a version that stays is READY: a
 * failed replacement leaves it serving. Lock held. */
static bool may_drain(const model *m, const model_version *mv)
{
	if (routing_uses(m, mv->version))
		return false;
	bool others = false;
	for (size_t j = 0; j < m->n_versions; j++) {
		const model_version *o = m->versions[j];
		if (o == mv || o->unloading)
			continue;
		if (version_state_of(o) == VERSION_READY && gate_open(o))
			return true;
		others = true;
	}
	return !others;
}

/* No request queued at mv or in flight on its workers. Lock held. */
static bool idle(const model_version *mv)
{
	if (mv->waiting != 0)
		return false;
	for (size_t k = 0; k < mv->n_inst; k++)
		if (mv->inst[k].w != NULL && mv->inst[k].w->outstanding > 0)
			return false;
	return true;
}

/* Does any worker of mv still run? Signal each with sig (0: none). */
static bool signal_workers(model_version *mv, int sig)
{
	bool running = false;
	for (size_t k = 0; k < mv->n_inst; k++) {
		worker *w = mv->inst[k].w;
		if (w != NULL && w->pid > 0) {
			running = true;
			if (sig)
				kill(w->pid, sig);
		} else if (mv->stopped) {
			mv->inst[k].state = VERSION_STOPPED;
		}
	}
	return running;
}

/*
 * Move every leaving version along: unloading -> draining once it may
 * (may_drain), draining -> stopped once idle or past the model's request
 * timeout (every request it had is past its deadline), stopped -> out of
 * the table once its workers are reaped (SIGKILL after WORKER_STOP_GRACE_MS).
 * Lock held.
 */
static void drain_tick(corrald *d)
{
	int64_t now = now_ms();
	for (size_t i = 0; i < d->n_models; i++) {
		model *m = d->models[i];
		int64_t timeout = m->cfg.request_timeout_ms ? m->cfg.request_timeout_ms
							    : d->cfg.request_timeout_ms;
		for (size_t j = m->n_versions; j-- > 0;) {
			model_version *mv = m->versions[j];
			if (mv->unloading && !mv->draining && may_drain(m, mv)) {
				mv->draining = true;
				mv->drain_since_ms = now;
				log_event(LOG_INFO, &(log_ctx){.model = m->name, .version = mv->version},
				    "model %s version %lld: draining", m->name,
				    (long long)mv->version);
			}
			if (mv->draining && !mv->stopped &&
			    (idle(mv) || now - mv->drain_since_ms > timeout)) {
				mv->stopped = true;
				mv->drain_since_ms = now;
				signal_workers(mv, SIGTERM);
			}
			if (mv->draining && mv->stopped &&
			    signal_workers(mv, now - mv->drain_since_ms > WORKER_STOP_GRACE_MS ? SIGKILL : 0))
				continue;
			if (mv->draining && mv->stopped) {
				log_event(LOG_INFO, &(log_ctx){.model = m->name, .version = mv->version},
				    "model %s version %lld: unloaded", m->name,
				    (long long)mv->version);
				if (m->previous_default == mv->version)
					m->previous_default = 0; /* nothing to roll back to */
				model_remove_version(mv);
			}
		}
	}
}

void lifecycle_tick(corrald *d)
{
	struct lifecycle *lc = d->lifecycle;
	pthread_mutex_lock(&lc->mu);
	job *j = lc->closed ? NULL : lc->pending;
	pthread_mutex_unlock(&lc->mu);
	if (j != NULL) {
		run_job(d, j);
		job_finish(lc, j);
	}
	if (d->cfg.repository_poll_ms > 0 && now_ms() >= lc->next_poll_ms) {
		changes *out = malloc(sizeof *out);
		char err[512];
		if (out != NULL) {
			out->n = out->dropped = 0;
			if (sync_all(d, false, out, err, sizeof err) != 0)
				log_msg(LOG_ERROR, "repository poll: %s", err);
		}
		free(out);
		lc->next_poll_ms = now_ms() + d->cfg.repository_poll_ms;
	}
	pthread_mutex_lock(&d->lock);
	drain_tick(d);
	pthread_mutex_unlock(&d->lock);
}
