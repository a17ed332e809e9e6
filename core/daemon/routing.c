/* routing.c - default versions, rollback and canary weights (routing.h). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate.h"
#include "log.h"
#include "routing.h"

/* A version on its way out: it takes new traffic only while nothing
 * else can (lifecycle.h). */
static bool leaving(const model_version *mv)
{
	return mv->unloading || mv->draining || mv->stopped;
}

/* The highest version for which ok(mv) holds, or NULL. */
static model_version *highest(model *m, bool (*ok)(const model_version *))
{
	for (size_t j = m->n_versions; j-- > 0;)
		if (ok(m->versions[j]))
			return m->versions[j];
	return NULL;
}

/* A version whose validation gate is pending or failed takes no traffic
 * that names no version while another can (gate.h). */
static bool ready_staying(const model_version *mv)
{
	return !leaving(mv) && gate_open(mv) && version_state_of(mv) == VERSION_READY;
}

static bool ready(const model_version *mv)
{
	return gate_open(mv) && version_state_of(mv) == VERSION_READY;
}

static bool may_become_ready(const model_version *mv)
{
	return !leaving(mv) && mv->gate != GATE_FAILED && version_state_of(mv) != VERSION_FAILED;
}

static bool any(const model_version *mv)
{
	(void)mv;
	return true;
}

/*
 * The promoted version; else the highest READY one that is staying; else
 * the highest READY one (a version being replaced serves until its
 * replacement is READY: blue/green); else the highest that may still
 * become READY (a new version that cannot load does not take the traffic
 * of the one before); else the highest. NULL when m has no version.
 */
static model_version *default_version(model *m)
{
	model_version *mv = m->default_version ? model_find_version(m, m->default_version) : NULL;
	if (mv == NULL)
		mv = highest(m, ready_staying);
	if (mv == NULL)
		mv = highest(m, ready);
	if (mv == NULL)
		mv = highest(m, may_become_ready);
	return mv ? mv : highest(m, any);
}

int64_t routing_default_version(const model *m)
{
	model_version *mv = default_version((model *)m);
	return mv ? mv->version : 0;
}

bool routing_uses(const model *m, int64_t v)
{
	for (size_t i = 0; i < m->n_traffic; i++)
		if (m->traffic_version[i] == v)
			return true;
	return m->default_version == v || m->shadow_version == v;
}

model_version *routing_pick(model *m)
{
	if (m->n_traffic == 0)
		return default_version(m);
	int64_t total = 0;
	for (size_t i = 0; i < m->n_traffic; i++)
		total += m->traffic_weight[i];
	int64_t x = total > 0 ? random() % total : 0;
	for (size_t i = 0; i < m->n_traffic; i++) {
		if (x < m->traffic_weight[i])
			return model_find_version(m, m->traffic_version[i]);
		x -= m->traffic_weight[i];
	}
	return default_version(m);
}

/* A version may take traffic only when it is served and READY: one that
 * failed to load never does. */
static corral_status check_servable(model *m, int64_t v, char *err, size_t errlen)
{
	model_version *mv = model_find_version(m, v);
	if (mv == NULL) {
		snprintf(err, errlen, "model '%s' has no served version %lld", m->name,
		    (long long)v);
		return CORRAL_E_VERSION_NOT_FOUND;
	}
	version_state s = version_state_of(mv);
	if (s != VERSION_READY) {
		snprintf(err, errlen, "model '%s' version %lld is %s%s%s: it takes no traffic",
		    m->name, (long long)v, version_state_name(s),
		    mv->last_cause[0] ? ": " : "", mv->last_cause);
		return CORRAL_E_UNAVAILABLE;
	}
	return CORRAL_OK;
}

/* check_servable, and the version's validation gate open: what traffic
 * of its own (default, canary weight) asks. */
static corral_status check_gated(model *m, int64_t v, char *err, size_t errlen)
{
	corral_status st = check_servable(m, v, err, errlen);
	model_version *mv = model_find_version(m, v);
	if (st == CORRAL_OK && !gate_open(mv)) {
		snprintf(err, errlen, "model '%s' version %lld: validation %s%s%s: it takes no "
		    "traffic (corral validate runs the check again)", m->name, (long long)v,
		    gate_state_name(mv->gate), mv->gate_report[0] ? ": " : "", mv->gate_report);
		return CORRAL_E_FAILED_PRECONDITION;
	}
	return st;
}

corral_status routing_promote(model *m, int64_t v, char *err, size_t errlen)
{
	corral_status st = check_gated(m, v, err, errlen);
	if (st != CORRAL_OK)
		return st;
	int64_t current = routing_default_version(m);
	if (current != v && current != 0)
		m->previous_default = current;
	m->default_version = v;
	m->n_traffic = 0;
	return CORRAL_OK;
}

corral_status routing_rollback(model *m, char *err, size_t errlen)
{
	if (m->previous_default == 0) {
		snprintf(err, errlen, "model '%s' has no previous default version", m->name);
		return CORRAL_E_INVALID_ARGUMENT;
	}
	return routing_promote(m, m->previous_default, err, errlen);
}

corral_status routing_set_traffic(model *m, const int64_t *versions,
    const int64_t *weights, size_t n, char *err, size_t errlen)
{
	if (n > ROUTING_MAX_TRAFFIC) {
		snprintf(err, errlen, "at most %d versions may share traffic", ROUTING_MAX_TRAFFIC);
		return CORRAL_E_INVALID_ARGUMENT;
	}
	int64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (weights[i] < 0 || weights[i] > 1000000) {
			snprintf(err, errlen, "weights are integers from 0 to 1000000");
			return CORRAL_E_INVALID_ARGUMENT;
		}
		/* weight 0 keeps a served version in the list; only a READY
		 * one may get traffic */
		corral_status st = weights[i] > 0 ? check_gated(m, versions[i], err, errlen)
		    : model_find_version(m, versions[i]) ? CORRAL_OK
						    : check_servable(m, versions[i], err, errlen);
		if (st != CORRAL_OK)
			return st;
		total += weights[i];
	}
	if (n > 0 && total == 0) {
		snprintf(err, errlen, "the weights add up to 0");
		return CORRAL_E_INVALID_ARGUMENT;
	}
	for (size_t i = 0; i < n; i++) {
		m->traffic_version[i] = versions[i];
		m->traffic_weight[i] = weights[i];
	}
	m->n_traffic = n;
	return CORRAL_OK;
}

corral_status routing_set_shadow(model *m, int64_t v, int64_t percent, char *err,
    size_t errlen)
{
	if (percent < 0 || percent > 100) {
		snprintf(err, errlen, "percent is an integer from 0 to 100");
		return CORRAL_E_INVALID_ARGUMENT;
	}
	if (v != 0 && percent > 0) {
		corral_status st = check_servable(m, v, err, errlen);
		if (st != CORRAL_OK)
			return st;
	}
	bool off = v == 0 || percent == 0;
	if (!off && v != m->shadow_version)
		memset(&m->shadow, 0, sizeof m->shadow); /* a new candidate, new counts */
	m->shadow_version = off ? 0 : v;
	m->shadow_percent = off ? 0 : percent;
	return CORRAL_OK;
}

int routing_pack(msgpack_packer *pk, const model *m)
{
	int64_t def = routing_default_version(m);
	int rc = wire_pack_cstr(pk, "shadow_version") || wire_pack_i64(pk, m->shadow_version) ||
	    wire_pack_cstr(pk, "shadow_percent") || wire_pack_i64(pk, m->shadow_percent) ||
	    wire_pack_cstr(pk, "default_version") || wire_pack_i64(pk, def) ||
	    wire_pack_cstr(pk, "previous_default") || wire_pack_i64(pk, m->previous_default) ||
	    wire_pack_cstr(pk, "traffic") || msgpack_pack_map(pk, m->n_traffic);
	for (size_t i = 0; rc == 0 && i < m->n_traffic; i++) {
		char v[24];
		snprintf(v, sizeof v, "%lld", (long long)m->traffic_version[i]);
		rc = wire_pack_cstr(pk, v) || wire_pack_i64(pk, m->traffic_weight[i]);
	}
	return rc;
}

/* ---------------------------------------------------------- the file --- */

static char *state_path(const corrald *d, const char *name)
{
	return path_join(d->cfg.state_dir ? d->cfg.state_dir : d->cfg.runtime_dir, name);
}

static json_t *versions_to_json(const int64_t *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

static size_t versions_from_json(const json_t *a, int64_t *v, size_t cap)
{
	size_t n = 0, i;
	json_t *x;
	json_array_foreach(a, i, x)
		if (n < cap && json_integer_value(x) > 0)
			v[n++] = json_integer_value(x);
	return n;
}

int routing_save(const corrald *d, char *err, size_t errlen)
{
	json_t *root = json_object(), *models = json_object();
	json_object_set_new(root, "models", models);
	for (size_t i = 0; i < d->n_models; i++) {
		const model *m = d->models[i];
		json_t *r = json_object(), *traffic = json_object();
		json_object_set_new(r, "default_version", json_integer(m->default_version));
		json_object_set_new(r, "previous_default", json_integer(m->previous_default));
		for (size_t t = 0; t < m->n_traffic; t++) {
			char v[24];
			snprintf(v, sizeof v, "%lld", (long long)m->traffic_version[t]);
			json_object_set_new(traffic, v, json_integer(m->traffic_weight[t]));
		}
		json_object_set_new(r, "traffic", traffic);
		json_object_set_new(r, "shadow_version", json_integer(m->shadow_version));
		json_object_set_new(r, "shadow_percent", json_integer(m->shadow_percent));
		json_object_set_new(r, "loaded", versions_to_json(m->pinned, m->n_pinned));
		json_object_set_new(r, "unloaded", versions_to_json(m->unpinned, m->n_unpinned));
		json_object_set_new(r, "off", json_boolean(m->off));
		json_object_set_new(models, m->name, r);
	}
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	char *path = state_path(d, "routing.json"), *tmp = state_path(d, "routing.json.tmp");
	char *dir = state_path(d, ".");
	int rc = -1, fd = -1;
	if (text == NULL || path == NULL || tmp == NULL || dir == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* The new content is complete on disk before it takes the name, and
	 * the rename itself is made durable: a crash leaves the old file or
	 * the new one, never a mix. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(text);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "rename to %s: %s", path, strerror(errno));
		goto out;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(text);
	free(path);
	free(tmp);
	free(dir);
	return rc;
}

/* A saved version still served, or 0 with a log line. */
static int64_t still_served(model *m, json_int_t v, const char *what)
{
	if (v == 0 || model_find_version(m, v) != NULL)
		return v;
	log_msg(LOG_WARN, "routing: model %s: %s version %lld is no longer served; dropped",
	    m->name, what, (long long)v);
	return 0;
}

/* The saved state, or NULL (a missing file is no error; a broken one is
 * logged). */
static json_t *load_state(const corrald *d)
{
	char *path = state_path(d, "routing.json");
	json_error_t jerr;
	json_t *root = path ? json_load_file(path, 0, &jerr) : NULL;
	if (root == NULL && path && access(path, F_OK) == 0)
		log_msg(LOG_ERROR, "routing: %s: %s (line %d); starting with defaults",
		    path, jerr.text, jerr.line);
	free(path);
	return root;
}

void routing_restore_pins(corrald *d)
{
	json_t *root = load_state(d);
	json_t *models = json_object_get(root, "models");
	for (size_t i = 0; root && i < d->n_models; i++) {
		model *m = d->models[i];
		json_t *r = json_object_get(models, m->name);
		m->n_pinned = versions_from_json(json_object_get(r, "loaded"), m->pinned,
		    MODEL_MAX_PINS);
		m->n_unpinned = versions_from_json(json_object_get(r, "unloaded"), m->unpinned,
		    MODEL_MAX_PINS);
		m->off = json_is_true(json_object_get(r, "off"));
	}
	json_decref(root);
}

void routing_restore(corrald *d)
{
	json_t *root = load_state(d);
	if (root == NULL)
		return;
	json_t *models = json_object_get(root, "models");
	for (size_t i = 0; i < d->n_models; i++) {
		model *m = d->models[i];
		json_t *r = json_object_get(models, m->name);
		if (!json_is_object(r))
			continue;
		m->default_version = still_served(m,
		    json_integer_value(json_object_get(r, "default_version")), "default");
		m->previous_default = still_served(m,
		    json_integer_value(json_object_get(r, "previous_default")), "previous default");
		const char *key;
		json_t *w;
		m->n_traffic = 0;
		json_object_foreach(json_object_get(r, "traffic"), key, w) {
			int64_t v = still_served(m, strtoll(key, NULL, 10), "canary");
			if (v != 0 && m->n_traffic < ROUTING_MAX_TRAFFIC && json_integer_value(w) >= 0) {
				m->traffic_version[m->n_traffic] = v;
				m->traffic_weight[m->n_traffic++] = json_integer_value(w);
			}
		}
		m->shadow_version = still_served(m,
		    json_integer_value(json_object_get(r, "shadow_version")), "shadow");
		json_int_t pct = json_integer_value(json_object_get(r, "shadow_percent"));
		m->shadow_percent = m->shadow_version && pct > 0 && pct <= 100 ? pct : 0;
		log_msg(LOG_INFO, "routing: model %s: default version %lld%s restored",
		    m->name, (long long)routing_default_version(m),
		    m->n_traffic ? " and traffic weights" : "");
	}
	json_decref(root);
}
