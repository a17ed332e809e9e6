/* models.c - reading the model repository into the served-model table. */
#include <dirent.h>
#include <pwd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "gate.h"
#include "models.h"
#include "provenance.h"
#include "routing.h"

model_version *model_find_version(model *m, int64_t v)
{
	for (size_t j = 0; j < m->n_versions; j++)
		if (m->versions[j]->version == v)
			return m->versions[j];
	return NULL;
}

worker *version_pick_worker(model_version *mv)
{
	worker *best = NULL;
	for (size_t k = 0; k < mv->n_inst; k++) {
		worker *w = mv->inst[k].w;
		if (mv->inst[k].state == VERSION_READY && w != NULL && w->pid > 0 &&
		    !w->timed_out && !w->hung && !__atomic_load_n(&w->disconnected, __ATOMIC_ACQUIRE) &&
		    (best == NULL || w->outstanding < best->outstanding))
			best = w;
	}
	return best;
}

int64_t worker_memory(const worker *w)
{
	int64_t bytes = cgroup_memory_bytes(&w->cg);
	if (bytes >= 0)
		return bytes;
	char path[64];
	long long size, resident;
	snprintf(path, sizeof path, "/proc/%d/statm", (int)w->pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	int got = fscanf(f, "%lld %lld", &size, &resident);
	fclose(f);
	return got == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

size_t version_queue_length(const model_version *mv)
{
	size_t n = mv->waiting;
	for (size_t k = 0; k < mv->n_inst; k++) {
		const worker *w = mv->inst[k].w;
		if (w != NULL && w->outstanding > 1)
			n += (size_t)w->outstanding - 1;
	}
	return n;
}

version_state version_state_of(const model_version *mv)
{
	if (mv->failed)
		return VERSION_FAILED;
	if (mv->stopped)
		return VERSION_STOPPED;
	if (mv->draining)
		return VERSION_DRAINING;
	bool starting = false;
	for (size_t k = 0; k < mv->n_inst; k++) {
		if (mv->inst[k].state == VERSION_READY)
			return VERSION_READY;
		starting = starting || mv->inst[k].state == VERSION_STARTING;
	}
	return starting ? VERSION_STARTING : VERSION_CRASHED;
}

const char *version_state_name(version_state s)
{
	static const char *const names[] = {
	    "STARTING", "READY", "CRASHED", "FAILED", "STOPPED", "DRAINING"};
	return s <= VERSION_DRAINING ? names[s] : "UNKNOWN";
}

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *path_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A version folder's name: digits only, a positive value that fits. */
static int64_t parse_version(const char *name)
{
	if (name[0] == '\0' || strspn(name, "0123456789") != strlen(name) ||
	    strlen(name) > 18)
		return 0;
	return strtoll(name, NULL, 10);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Resolve a model's `plugin:` to a file: a bare name is <plugin_dir>/<name>.so */
static char *plugin_path(const corrald *d, const char *plugin)
{
	if (strchr(plugin, '/') != NULL)
		return strdup(plugin);
	size_t n = strlen(d->plugin_dir) + strlen(plugin) + 5;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s.so", d->plugin_dir, plugin);
	return p;
}

ssize_t model_present_versions(const char *dir, int64_t *present, size_t cap)
{
	DIR *dh = opendir(dir);
	if (dh == NULL)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(dh)) != NULL) {
		int64_t v = parse_version(e->d_name);
		char *vdir = v > 0 ? path_join(dir, e->d_name) : NULL;
		if (vdir && is_dir(vdir)) {
			if (n == cap) {
				free(vdir);
				closedir(dh);
				return -1;
			}
			present[n++] = v;
		}
		free(vdir);
	}
	closedir(dh);
	qsort(present, n, sizeof *present, cmp_i64);
	return (ssize_t)n;
}

model_version *version_new(model *m, int64_t v)
{
	model_version *mv = calloc(1, sizeof *mv);
	char num[24];
	snprintf(num, sizeof num, "%lld", (long long)v);
	if (mv == NULL || (mv->dir = path_join(m->dir, num)) == NULL ||
	    (mv->perf = perf_new()) == NULL) {
		if (mv != NULL)
			free(mv->dir);
		free(mv);
		return NULL;
	}
	mv->model = m;
	mv->version = v;
	mv->refs = 1; /* the table's, once inserted */
	mv->n_inst = (size_t)m->cfg.instances;
	for (size_t k = 0; k < mv->n_inst; k++)
		mv->inst[k] = (instance){.index = (int)k, .state = VERSION_STARTING,
		    .delay_ms = m->cfg.restart.delay_ms};
	char err[512];
	mv->provenance = provenance_compute(mv->dir, &mv->provenance_len, err, sizeof err);
	if (mv->provenance == NULL)
		log_msg(LOG_ERROR, "model %s version %lld: provenance unknown: %s",
		    m->name, (long long)v, err);
	mv->gate = gate_present(mv->dir) ? GATE_PENDING : GATE_NONE;
	mv->drift = drift_load(mv->dir, err, sizeof err);
	if (mv->drift == NULL && err[0] != '\0')
		log_event(LOG_ERROR, &(log_ctx){.model = m->name, .version = v},
		    "model %s version %lld: no drift monitoring: %s", m->name, (long long)v, err);
	return mv;
}

int model_insert_version(model_version *mv)
{
	model *m = mv->model;
	if (m->n_versions == m->cap_versions) {
		size_t cap = m->cap_versions ? m->cap_versions * 2 : 4;
		model_version **grown = realloc(m->versions, cap * sizeof *grown);
		if (grown == NULL)
			return -1;
		m->versions = grown;
		m->cap_versions = cap;
	}
	size_t at = m->n_versions;
	while (at > 0 && m->versions[at - 1]->version > mv->version)
		at--;
	memmove(&m->versions[at + 1], &m->versions[at],
	    (m->n_versions - at) * sizeof *m->versions);
	m->versions[at] = mv;
	m->n_versions++;
	return 0;
}

void model_remove_version(model_version *mv)
{
	model *m = mv->model;
	for (size_t j = 0; j < m->n_versions; j++)
		if (m->versions[j] == mv) {
			memmove(&m->versions[j], &m->versions[j + 1],
			    (m->n_versions - j - 1) * sizeof *m->versions);
			m->n_versions--;
			version_unref(mv);
			return;
		}
}

void version_ref(model_version *mv)
{
	__atomic_add_fetch(&mv->refs, 1, __ATOMIC_RELAXED);
}

void version_unref(model_version *mv)
{
	/* the last reference: nothing can find mv any more (it has left
	 * the table), so it is freed without the lock */
	if (__atomic_sub_fetch(&mv->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	free(mv->dir);
	free(mv->meta);
	free(mv->sandbox);
	free(mv->provenance);
	drift_free(mv->drift);
	perf_free(mv->perf);
	free(mv->sig);
	free(mv);
}

void model_destroy(model *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_versions; i++)
		version_unref(m->versions[i]);
	free(m->versions);
	free(m->name);
	free(m->dir);
	free(m->plugin_path);
	model_config_free(&m->cfg);
	free(m);
}

/* The unprivileged user a root daemon runs this model's workers as: the
 * model's `user`, else the daemon's `worker_user`. Root is refused. */
static bool model_identity(corrald *d, model *m, char *err, size_t errlen)
{
	const char *name = m->cfg.user ? m->cfg.user : d->cfg.worker_user;
	struct passwd *pw = getpwnam(name);
	if (pw == NULL) {
		snprintf(err, errlen, "worker user '%s' does not exist", name);
		return false;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		snprintf(err, errlen, "worker user '%s' is root: a worker never runs as root",
		    name);
		return false;
	}
	m->uid = pw->pw_uid;
	m->gid = pw->pw_gid;
	return true;
}

/* A model without its own restart delay takes the daemon's. */
static void inherit_restart_delay(const corrald *d, model_config *c)
{
	if (c->restart.delay_ms < 0)
		c->restart.delay_ms = d->cfg.restart_delay_ms;
	if (c->restart.max_delay_ms < c->restart.delay_ms)
		c->restart.max_delay_ms = c->restart.delay_ms;
}

model *model_create(corrald *d, const char *name, const char *dir, char *err,
    size_t errlen)
{
	model *m = calloc(1, sizeof *m);
	char *cfgpath = path_join(dir, "config.yaml");
	if (m == NULL || cfgpath == NULL) {
		free(m);
		free(cfgpath);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	int rc = model_config_load(&m->cfg, cfgpath, err, errlen);
	free(cfgpath);
	if (rc != 0) {
		model_config_free(&m->cfg);
		free(m);
		return NULL;
	}
	inherit_restart_delay(d, &m->cfg);
	if ((m->name = strdup(name)) == NULL || (m->dir = strdup(dir)) == NULL ||
	    (m->plugin_path = plugin_path(d, m->cfg.plugin)) == NULL) {
		snprintf(err, errlen, "out of memory");
		model_destroy(m);
		return NULL;
	}
	if (d->as_root && !model_identity(d, m, err, errlen)) {
		model_destroy(m);
		return NULL;
	}
	return m;
}

int models_insert(corrald *d, model *m)
{
	model **grown = realloc(d->models, (d->n_models + 1) * sizeof *grown);
	if (grown == NULL)
		return -1;
	d->models = grown;
	size_t at = d->n_models;
	while (at > 0 && strcmp(d->models[at - 1]->name, m->name) > 0)
		at--;
	memmove(&d->models[at + 1], &d->models[at], (d->n_models - at) * sizeof *d->models);
	d->models[at] = m;
	d->n_models++;
	return 0;
}

model *models_find_model(corrald *d, wire_str name)
{
	for (size_t i = 0; i < d->n_models; i++)
		if (wire_str_eq(name, d->models[i]->name))
			return d->models[i];
	return NULL;
}

void models_free(corrald *d)
{
	for (size_t i = 0; i < d->n_models; i++)
		model_destroy(d->models[i]);
	free(d->models);
	d->models = NULL;
	d->n_models = 0;
}

model_version *models_find(corrald *d, wire_str name, int64_t version,
    bool for_traffic, corral_status *st, char *err, size_t errlen)
{
	int nl = name.len > 128 ? 128 : (int)name.len;
	model *m = models_find_model(d, name);
	if (m == NULL || m->n_versions == 0) {
		*st = CORRAL_E_MODEL_NOT_FOUND;
		if (m == NULL)
			snprintf(err, errlen, "no model named '%.*s'", nl, name.ptr);
		else
			snprintf(err, errlen, "model '%s' has no version loaded", m->name);
		return NULL;
	}
	if (version == 0 && for_traffic)
		return routing_pick(m);
	if (version == 0)
		version = routing_default_version(m);
	model_version *mv = model_find_version(m, version);
	if (mv != NULL)
		return mv;
	*st = CORRAL_E_VERSION_NOT_FOUND;
	snprintf(err, errlen, "model '%s' has no served version %lld", m->name,
	    (long long)version);
	return NULL;
}
