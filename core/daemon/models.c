/* models.c - reading the model repository into the served-model table. */
#include <dirent.h>
#include <pwd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "models.h"
#include "provenance.h"
#include "routing.h"

#define MODEL_MAX_VERSIONS 1024

model_version *model_find_version(model *m, int64_t v)
{
	for (size_t j = 0; j < m->n_versions; j++)
		if (m->versions[j].version == v)
			return &m->versions[j];
	return NULL;
}

worker *version_pick_worker(model_version *mv)
{
	worker *best = NULL;
	for (size_t k = 0; k < mv->n_inst; k++) {
		worker *w = mv->inst[k].w;
		if (mv->inst[k].state == VERSION_READY && w != NULL && w->pid > 0 &&
		    !w->timed_out && !__atomic_load_n(&w->disconnected, __ATOMIC_ACQUIRE) &&
		    (best == NULL || w->outstanding < best->outstanding))
			best = w;
	}
	return best;
}

version_state version_state_of(const model_version *mv)
{
	if (mv->failed)
		return VERSION_FAILED;
	if (mv->stopped)
		return VERSION_STOPPED;
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
	    "STARTING", "READY", "CRASHED", "FAILED", "STOPPED"};
	return s <= VERSION_STOPPED ? names[s] : "UNKNOWN";
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

/* Fill m->versions from the numeric folders under dir that the policy
 * serves. Returns 0, or -1 when out of memory. */
static int model_scan_versions(model *m, const char *dir)
{
	DIR *dh = opendir(dir);
	if (dh == NULL)
		return 0;
	int64_t present[MODEL_MAX_VERSIONS];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(dh)) != NULL) {
		if (n == MODEL_MAX_VERSIONS) {
			log_msg(LOG_ERROR, "model %s has more than %d version folders; "
			    "serving none (the policy could pick the wrong ones)",
			    m->name, MODEL_MAX_VERSIONS);
			n = 0;
			break;
		}
		int64_t v = parse_version(e->d_name);
		char *vdir = v > 0 ? path_join(dir, e->d_name) : NULL;
		if (vdir && is_dir(vdir))
			present[n++] = v;
		free(vdir);
	}
	closedir(dh);
	qsort(present, n, sizeof *present, cmp_i64);

	m->versions = calloc(n ? n : 1, sizeof *m->versions);
	if (m->versions == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!model_config_serves(&m->cfg, present[i], present, n))
			continue;
		model_version *mv = &m->versions[m->n_versions];
		char num[24];
		snprintf(num, sizeof num, "%lld", (long long)present[i]);
		mv->model = m;
		mv->version = present[i];
		mv->n_inst = (size_t)m->cfg.instances;
		for (size_t k = 0; k < mv->n_inst; k++)
			mv->inst[k] = (instance){.index = (int)k, .state = VERSION_STARTING,
			    .delay_ms = m->cfg.restart.delay_ms};
		if ((mv->dir = path_join(dir, num)) == NULL)
			return -1;
		char err[512];
		mv->provenance = provenance_compute(mv->dir, &mv->provenance_len, err, sizeof err);
		if (mv->provenance == NULL)
			log_msg(LOG_ERROR, "model %s version %lld: provenance unknown: %s",
			    m->name, (long long)mv->version, err);
		m->n_versions++;
	}
	return 0;
}

static void model_free(model *m)
{
	for (size_t i = 0; i < m->n_versions; i++) {
		free(m->versions[i].dir);
		free(m->versions[i].meta);
		free(m->versions[i].sandbox);
		free(m->versions[i].provenance);
	}
	free(m->versions);
	free(m->name);
	free(m->plugin_path);
	model_config_free(&m->cfg);
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

static int cmp_model(const void *a, const void *b)
{
	return strcmp(((const model *)a)->name, ((const model *)b)->name);
}

int models_load(corrald *d, char *err, size_t errlen)
{
	const char *repo = d->cfg.model_repository;
	DIR *dh = opendir(repo);
	if (dh == NULL) {
		snprintf(err, errlen, "model repository %s: %s", repo, strerror(errno));
		return -1;
	}
	size_t cap = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(dh)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *mdir = path_join(repo, e->d_name);
		char *cfgpath = mdir ? path_join(mdir, "config.yaml") : NULL;
		struct stat st;
		if (cfgpath == NULL) {
			free(mdir);
			rc = -1;
			break;
		}
		if (!is_dir(mdir) || stat(cfgpath, &st) != 0) {
			free(cfgpath);
			free(mdir);
			continue;
		}
		if (d->n_models == cap) {
			cap = cap ? cap * 2 : 8;
			model *grown = realloc(d->models, cap * sizeof *grown);
			if (grown == NULL) {
				free(cfgpath);
				free(mdir);
				rc = -1;
				break;
			}
			d->models = grown;
		}
		model *m = &d->models[d->n_models];
		memset(m, 0, sizeof *m);
		char cerr[512];
		bool loaded = model_config_load(&m->cfg, cfgpath, cerr, sizeof cerr) == 0;
		if (loaded)
			inherit_restart_delay(d, &m->cfg);
		if (!loaded) {
			log_msg(LOG_ERROR, "model %s not served: %s", e->d_name, cerr);
			model_config_free(&m->cfg);
		} else if ((m->name = strdup(e->d_name)) == NULL ||
			   (m->plugin_path = plugin_path(d, m->cfg.plugin)) == NULL ||
			   model_scan_versions(m, mdir) != 0) {
			model_free(m);
			rc = -1;
		} else if (m->n_versions == 0) {
			log_msg(LOG_WARN, "model %s has no version folder to serve", m->name);
			model_free(m);
		} else if (d->as_root && !model_identity(d, m, cerr, sizeof cerr)) {
			log_msg(LOG_ERROR, "model %s not served: %s", m->name, cerr);
			model_free(m);
		} else {
			d->n_models++;
		}
		free(cfgpath);
		free(mdir);
		if (rc)
			break;
	}
	closedir(dh);
	if (rc) {
		snprintf(err, errlen, "out of memory reading the model repository");
		return -1;
	}
	/* Stable order for `models` replies and logs. */
	if (d->n_models)
		qsort(d->models, d->n_models, sizeof *d->models, cmp_model);
	/* Versions point at their model: fix up after the array settled. */
	for (size_t i = 0; i < d->n_models; i++)
		for (size_t j = 0; j < d->models[i].n_versions; j++)
			d->models[i].versions[j].model = &d->models[i];
	return 0;
}

void models_free(corrald *d)
{
	for (size_t i = 0; i < d->n_models; i++)
		model_free(&d->models[i]);
	free(d->models);
	d->models = NULL;
	d->n_models = 0;
}

model_version *models_find(corrald *d, wire_str name, int64_t version,
    bool for_traffic, corral_status *st, char *err, size_t errlen)
{
	int nl = name.len > 128 ? 128 : (int)name.len;
	for (size_t i = 0; i < d->n_models; i++) {
		model *m = &d->models[i];
		if (!wire_str_eq(name, m->name))
			continue;
		if (version == 0 && for_traffic)
			return routing_pick(m);
		if (version == 0)
			version = routing_default_version(m);
		model_version *mv = model_find_version(m, version);
		if (mv != NULL)
			return mv;
		*st = CORRAL_E_VERSION_NOT_FOUND;
		snprintf(err, errlen, "model '%s' has no served version %lld",
		    m->name, (long long)version);
		return NULL;
	}
	*st = CORRAL_E_MODEL_NOT_FOUND;
	snprintf(err, errlen, "no model named '%.*s'", nl, name.ptr);
	return NULL;
}
