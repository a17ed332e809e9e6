/* config.c - daemon and model configuration (config.h). */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "yaml_doc.h"

/* Make `*p` absolute against `base` when it is relative ("" stays: off). */
static int config_resolve(char **p, const char *base)
{
	if (*p == NULL || (*p)[0] == '/' || (*p)[0] == '\0')
		return 0;
	size_t n = strlen(base) + strlen(*p) + 2;
	char *abs = malloc(n);
	if (abs == NULL)
		return -1;
	snprintf(abs, n, "%s/%s", base, *p);
	free(*p);
	*p = abs;
	return 0;
}

static char *config_strdup_or_fail(const char *s, int *failed)
{
	char *r = strdup(s);
	if (r == NULL)
		*failed = 1;
	return r;
}

static yaml_node_t *sub_mapping(yaml_doc *d, yaml_node_t *root, const char *key,
    const char *const *known);

static void predlog_keys(yaml_doc *d, yaml_node_t *root, predlog_config *p)
{
	static const char *const keys[] = {"path", "sample_rate", "max_rows", "max_age_s",
	    "max_bytes", "flush_ms", NULL};
	yaml_node_t *m = sub_mapping(d, root, "prediction_log", keys);
	if (m == NULL)
		return;
	ydoc_str(d, m, "path", &p->path);
	ydoc_double(d, m, "sample_rate", 0, 1, &p->sample_rate);
	ydoc_i64(d, m, "max_rows", 0, INT64_MAX, &p->max_rows);
	ydoc_i64(d, m, "max_age_s", 0, 100LL * 365 * 86400, &p->max_age_s);
	ydoc_i64(d, m, "max_bytes", 0, INT32_MAX, &p->max_bytes);
	ydoc_i64(d, m, "flush_ms", 1, 60000, &p->flush_ms);
}

int daemon_config_load(daemon_config *c, const char *path, char *err,
    size_t errlen)
{
	int oom = 0;
	memset(c, 0, sizeof *c);
	c->model_repository = config_strdup_or_fail("models", &oom);
	c->runtime_dir = config_strdup_or_fail("/run/corral", &oom);
	c->log_level = config_strdup_or_fail("info", &oom);
	c->worker_user = config_strdup_or_fail("nobody", &oom);
	c->http_listen = config_strdup_or_fail(DEFAULT_HTTP_LISTEN, &oom);
	c->log_format = config_strdup_or_fail("text", &oom);
	c->cgroup_name = config_strdup_or_fail("corral", &oom);
	c->max_request_bytes = 64 << 20;
	c->max_response_bytes = 64 << 20;
	c->request_timeout_ms = 30000;
	c->worker_start_timeout_ms = 60000;
	c->restart_delay_ms = 500;
	c->concurrency = 64;
	c->shutdown_grace_ms = 10000;
	c->heartbeat_ms = 5000;
	c->drift_interval_ms = 10000;
	c->drift_threshold = 0.2;
	c->predlog = (predlog_config){.sample_rate = 1, .max_rows = 1000000,
	    .max_age_s = 7 * 86400, .max_bytes = 1 << 20, .flush_ms = 200};
	if (oom) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}

	yaml_doc d;
	if (ydoc_load(&d, path, err, errlen) != 0)
		return -1;
	static const char *const keys[] = {"listen", "model_repository",
	    "runtime_dir", "plugin_dir", "log_level", "max_request_bytes",
	    "max_response_bytes", "request_timeout_ms",
	    "worker_start_timeout_ms", "restart_delay_ms", "concurrency",
	    "worker_user", "cgroup_name", "shutdown_grace_ms", "state_dir",
	    "admin_token_file", "repository_poll_ms", "heartbeat_ms", "http_listen",
	    "log_format", "log_file", "drift_interval_ms", "drift_threshold", "prediction_log",
	    NULL};
	yaml_node_t *root = ydoc_root(&d);
	ydoc_check_keys(&d, root, keys);

	yaml_node_t *listen = ydoc_get(&d, root, "listen");
	if (listen != NULL && listen->type != YAML_SEQUENCE_NODE)
		ydoc_fail(&d, listen, "'listen' must be a list of URLs");
	else if (listen != NULL) {
		for (yaml_node_item_t *it = listen->data.sequence.items.start;
		     it < listen->data.sequence.items.top && !d.failed; it++) {
			yaml_node_t *n = yaml_document_get_node(&d.doc, *it);
			const char *url = ydoc_scalar(&d, n, "listen");
			if (url == NULL)
				break;
			if (c->n_listen == CONFIG_MAX_LISTEN)
				ydoc_fail(&d, n, "at most %d listen URLs", CONFIG_MAX_LISTEN);
			else if (strncmp(url, "ipc://", 6) && strncmp(url, "tcp://", 6))
				ydoc_fail(&d, n, "listen URL '%s' must start with ipc:// or tcp://", url);
			else if ((c->listen[c->n_listen++] = strdup(url)) == NULL)
				ydoc_fail(&d, n, "out of memory");
		}
	}
	ydoc_str(&d, root, "model_repository", &c->model_repository);
	ydoc_str(&d, root, "runtime_dir", &c->runtime_dir);
	ydoc_str(&d, root, "plugin_dir", &c->plugin_dir);
	ydoc_str(&d, root, "log_level", &c->log_level);
	ydoc_i64(&d, root, "max_request_bytes", 1024, INT32_MAX, &c->max_request_bytes);
	ydoc_i64(&d, root, "max_response_bytes", 1024, INT32_MAX, &c->max_response_bytes);
	ydoc_i64(&d, root, "request_timeout_ms", 1, 86400000, &c->request_timeout_ms);
	ydoc_i64(&d, root, "worker_start_timeout_ms", 100, 86400000,
	    &c->worker_start_timeout_ms);
	ydoc_i64(&d, root, "restart_delay_ms", 0, 3600000, &c->restart_delay_ms);
	ydoc_i64(&d, root, "concurrency", 1, 4096, &c->concurrency);
	ydoc_str(&d, root, "worker_user", &c->worker_user);
	ydoc_str(&d, root, "state_dir", &c->state_dir);
	ydoc_str(&d, root, "admin_token_file", &c->admin_token_file);
	ydoc_i64(&d, root, "shutdown_grace_ms", 0, 3600000, &c->shutdown_grace_ms);
	ydoc_i64(&d, root, "repository_poll_ms", 0, 86400000, &c->repository_poll_ms);
	ydoc_i64(&d, root, "heartbeat_ms", 0, 3600000, &c->heartbeat_ms);
	ydoc_str(&d, root, "http_listen", &c->http_listen);
	ydoc_str(&d, root, "log_format", &c->log_format);
	ydoc_str(&d, root, "log_file", &c->log_file);
	ydoc_i64(&d, root, "drift_interval_ms", 100, 86400000, &c->drift_interval_ms);
	ydoc_double(&d, root, "drift_threshold", 0, 100, &c->drift_threshold);
	predlog_keys(&d, root, &c->predlog);
	if (!d.failed && strcmp(c->log_format, "text") != 0 && strcmp(c->log_format, "json") != 0)
		ydoc_fail(&d, ydoc_get(&d, root, "log_format"), "log_format is text or json");
	ydoc_str(&d, root, "cgroup_name", &c->cgroup_name);
	if (!d.failed && (strchr(c->cgroup_name, '/') || c->cgroup_name[0] == '.' ||
			     c->cgroup_name[0] == '\0'))
		ydoc_fail(&d, ydoc_get(&d, root, "cgroup_name"),
		    "cgroup_name must be a plain folder name");
	if (!d.failed && strcmp(c->log_level, "error") && strcmp(c->log_level, "warn") &&
	    strcmp(c->log_level, "info") && strcmp(c->log_level, "debug"))
		ydoc_fail(&d, ydoc_get(&d, root, "log_level"),
		    "log_level must be error, warn, info or debug");
	if (!d.failed && c->n_listen == 0 &&
	    (c->listen[c->n_listen++] = strdup("ipc:///run/corral/corral.sock")) == NULL)
		ydoc_fail(&d, NULL, "out of memory");
	bool failed = d.failed;
	ydoc_free(&d);
	if (failed)
		return -1;

	/* the real path, so that a relative --config still gives absolute
	 * folders (workers see only absolute paths) */
	char *copy = realpath(path, NULL);
	if (copy == NULL)
		copy = strdup(path);
	if (copy == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	const char *base = dirname(copy);
	int rc = config_resolve(&c->model_repository, base) ||
		config_resolve(&c->runtime_dir, base) ||
		config_resolve(&c->plugin_dir, base) ||
		config_resolve(&c->state_dir, base) ||
		config_resolve(&c->admin_token_file, base) ||
		config_resolve(&c->predlog.path, base)
	    ? -1 : 0;
	free(copy);
	if (rc)
		snprintf(err, errlen, "out of memory");
	return rc;
}

void daemon_config_free(daemon_config *c)
{
	for (size_t i = 0; i < c->n_listen; i++)
		free(c->listen[i]);
	free(c->model_repository);
	free(c->runtime_dir);
	free(c->plugin_dir);
	free(c->log_level);
	free(c->worker_user);
	free(c->http_listen);
	free(c->log_format);
	free(c->log_file);
	free(c->state_dir);
	free(c->admin_token_file);
	free(c->cgroup_name);
	free(c->predlog.path);
	memset(c, 0, sizeof *c);
}

/* -------------------------------------------------------- model config --- */

static void model_policy(yaml_doc *d, yaml_node_t *root, model_config *c)
{
	yaml_node_t *vp = ydoc_get(d, root, "version_policy");
	if (vp == NULL)
		return;
	if (vp->type != YAML_MAPPING_NODE ||
	    vp->data.mapping.pairs.top - vp->data.mapping.pairs.start != 1) {
		ydoc_fail(d, vp, "version_policy must be one of {latest: N}, "
				 "{all: true} or {specific: [versions]}");
		return;
	}
	static const char *const keys[] = {"latest", "all", "specific", NULL};
	ydoc_check_keys(d, vp, keys);
	yaml_node_t *spec = ydoc_get(d, vp, "specific");
	bool all = false;
	if (ydoc_get(d, vp, "latest")) {
		c->policy = VERSION_POLICY_LATEST;
		ydoc_i64(d, vp, "latest", 1, 1000000, &c->latest);
	} else if (ydoc_get(d, vp, "all")) {
		ydoc_bool(d, vp, "all", &all);
		if (!all)
			ydoc_fail(d, vp, "version_policy {all: false} serves nothing");
		c->policy = VERSION_POLICY_ALL;
	} else if (spec != NULL) {
		c->policy = VERSION_POLICY_SPECIFIC;
		if (spec->type != YAML_SEQUENCE_NODE) {
			ydoc_fail(d, spec, "specific must be a list of versions");
			return;
		}
		for (yaml_node_item_t *it = spec->data.sequence.items.start;
		     it < spec->data.sequence.items.top && !d->failed; it++) {
			yaml_node_t *n = yaml_document_get_node(&d->doc, *it);
			const char *s = ydoc_scalar(d, n, "specific");
			if (s == NULL)
				return;
			char *end;
			errno = 0;
			long long v = strtoll(s, &end, 10);
			if (errno || end == s || *end != '\0' || v <= 0)
				ydoc_fail(d, n, "a version must be a positive integer, not '%s'", s);
			else if (c->n_specific == CONFIG_MAX_SPECIFIC)
				ydoc_fail(d, n, "at most %d specific versions", CONFIG_MAX_SPECIFIC);
			else
				c->specific[c->n_specific++] = v;
		}
		if (c->n_specific == 0)
			ydoc_fail(d, spec, "version_policy {specific: []} serves nothing");
	}
}

/* The optional mapping under `key`, its keys checked against `known`;
 * NULL when absent or not a mapping (then an error is recorded). */
static yaml_node_t *sub_mapping(yaml_doc *d, yaml_node_t *root, const char *key,
    const char *const *known)
{
	yaml_node_t *m = ydoc_get(d, root, key);
	if (m == NULL)
		return NULL;
	if (m->type != YAML_MAPPING_NODE) {
		ydoc_fail(d, m, "%s must be a mapping", key);
		return NULL;
	}
	ydoc_check_keys(d, m, known);
	return m;
}

static void model_limits(yaml_doc *d, yaml_node_t *root, worker_limits *l)
{
	*l = (worker_limits){.memory_bytes = 2LL << 30, .pids = 256, .open_files = 64};
	static const char *const keys[] = {"memory_bytes", "pids", "cpu_millicores",
	    "cpu_seconds", "address_space_bytes", "open_files", NULL};
	yaml_node_t *m = sub_mapping(d, root, "limits", keys);
	if (m == NULL)
		return;
	ydoc_i64(d, m, "memory_bytes", 16LL << 20, INT64_MAX, &l->memory_bytes);
	ydoc_i64(d, m, "pids", 8, 1000000, &l->pids);
	ydoc_i64(d, m, "cpu_millicores", 0, 1000000, &l->cpu_millicores);
	ydoc_i64(d, m, "cpu_seconds", 0, 100000000, &l->cpu_seconds);
	ydoc_i64(d, m, "address_space_bytes", 0, INT64_MAX, &l->address_space_bytes);
	ydoc_i64(d, m, "open_files", 16, 65536, &l->open_files);
}

static void model_ro_paths(yaml_doc *d, yaml_node_t *root, model_config *c)
{
	yaml_node_t *seq = ydoc_get(d, root, "read_only_paths");
	if (seq == NULL)
		return;
	if (seq->type != YAML_SEQUENCE_NODE) {
		ydoc_fail(d, seq, "read_only_paths must be a list of absolute paths");
		return;
	}
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top && !d->failed; it++) {
		yaml_node_t *n = yaml_document_get_node(&d->doc, *it);
		const char *s = ydoc_scalar(d, n, "read_only_paths");
		if (s == NULL)
			return;
		if (s[0] != '/')
			ydoc_fail(d, n, "read_only_paths: '%s' is not an absolute path", s);
		else if (c->n_ro_paths == CONFIG_MAX_RO_PATHS)
			ydoc_fail(d, n, "at most %d read_only_paths", CONFIG_MAX_RO_PATHS);
		else if ((c->ro_paths[c->n_ro_paths++] = strdup(s)) == NULL)
			ydoc_fail(d, n, "out of memory");
	}
}

static void model_params(yaml_doc *d, yaml_node_t *root, model_config *c)
{
	yaml_node_t *p = ydoc_get(d, root, "parameters");
	if (p == NULL)
		return;
	if (p->type != YAML_MAPPING_NODE) {
		ydoc_fail(d, p, "parameters must be a mapping of names to values");
		return;
	}
	YDOC_PAIRS(p, kv) {
		yaml_node_t *k = yaml_document_get_node(&d->doc, kv->key);
		yaml_node_t *v = yaml_document_get_node(&d->doc, kv->value);
		const char *ks = ydoc_scalar(d, k, "parameters");
		const char *vs = ydoc_scalar(d, v, ks ? ks : "parameters");
		if (ks == NULL || vs == NULL)
			return;
		if (c->n_params == CONFIG_MAX_PARAMS) {
			ydoc_fail(d, k, "at most %d parameters", CONFIG_MAX_PARAMS);
			return;
		}
		/* Passed to the worker as one `key=value` argument of at most
		 * 511 bytes, split at the first '='. */
		if (strchr(ks, '=') != NULL || strlen(ks) + strlen(vs) + 2 > 512) {
			ydoc_fail(d, k, "parameter '%.64s': names may not hold '=', and "
			    "name and value together must be under 511 bytes", ks);
			return;
		}
		corral_param *dst = &c->params[c->n_params];
		dst->key = strdup(ks);
		dst->value = strdup(vs);
		c->n_params++;
		if (dst->key == NULL || dst->value == NULL)
			ydoc_fail(d, k, "out of memory");
	}
}

static void model_restart(yaml_doc *d, yaml_node_t *root, restart_policy *r)
{
	static const char *const keys[] = {"delay_ms", "max_delay_ms", "healthy_ms",
	    "intensity", "period_ms", NULL};
	yaml_node_t *m = sub_mapping(d, root, "restart", keys);
	if (m == NULL)
		return;
	ydoc_i64(d, m, "delay_ms", 0, 3600000, &r->delay_ms);
	ydoc_i64(d, m, "max_delay_ms", 0, 3600000, &r->max_delay_ms);
	ydoc_i64(d, m, "healthy_ms", 0, 86400000, &r->healthy_ms);
	ydoc_i64(d, m, "intensity", 1, CONFIG_MAX_INTENSITY, &r->intensity);
	ydoc_i64(d, m, "period_ms", 1, 86400000, &r->period_ms);
	if (!d->failed && r->delay_ms >= 0 && r->max_delay_ms < r->delay_ms)
		ydoc_fail(d, m, "restart: max_delay_ms must be at least delay_ms");
}

static void model_feedback(yaml_doc *d, yaml_node_t *root, feedback_config *f)
{
	*f = (feedback_config){.task = FEEDBACK_AUTO, .threshold = 0.5, .window = 1000};
	static const char *const keys[] = {"task", "output", "threshold", "window", NULL};
	yaml_node_t *m = sub_mapping(d, root, "feedback", keys);
	if (m == NULL)
		return;
	char *task = NULL;
	ydoc_str(d, m, "task", &task);
	if (task != NULL && strcmp(task, "classification") == 0)
		f->task = FEEDBACK_CLASSIFICATION;
	else if (task != NULL && strcmp(task, "regression") == 0)
		f->task = FEEDBACK_REGRESSION;
	else if (task != NULL)
		ydoc_fail(d, ydoc_get(d, m, "task"), "feedback: task is classification or regression");
	free(task);
	ydoc_str(d, m, "output", &f->output);
	ydoc_double(d, m, "threshold", -1e300, 1e300, &f->threshold);
	ydoc_i64(d, m, "window", 1, 1000000, &f->window);
}

int model_config_load(model_config *c, const char *path, char *err,
    size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->policy = VERSION_POLICY_LATEST;
	c->latest = 1;
	c->instances = 1;
	c->max_queue = 64;
	c->retryable = true;
	c->restart = (restart_policy){.delay_ms = -1, .max_delay_ms = 30000,
	    .healthy_ms = 30000, .intensity = 5, .period_ms = 60000};
	yaml_doc d;
	if (ydoc_load(&d, path, err, errlen) != 0)
		return -1;
	static const char *const keys[] = {"plugin", "version_policy",
	    "request_timeout_ms", "parameters", "user", "read_only_paths", "limits",
	    "instances", "max_queue", "retryable", "restart", "non_finite", "feedback", NULL};
	yaml_node_t *root = ydoc_root(&d);
	ydoc_check_keys(&d, root, keys);
	ydoc_str(&d, root, "plugin", &c->plugin);
	if (!d.failed && (c->plugin == NULL || c->plugin[0] == '\0'))
		ydoc_fail(&d, root, "'plugin' is required");
	model_policy(&d, root, c);
	ydoc_i64(&d, root, "request_timeout_ms", 1, 86400000, &c->request_timeout_ms);
	model_params(&d, root, c);
	ydoc_str(&d, root, "user", &c->user);
	model_ro_paths(&d, root, c);
	model_limits(&d, root, &c->limits);
	ydoc_i64(&d, root, "instances", 1, CONFIG_MAX_INSTANCES, &c->instances);
	ydoc_i64(&d, root, "max_queue", 0, 1000000, &c->max_queue);
	ydoc_bool(&d, root, "retryable", &c->retryable);
	char *non_finite = NULL;
	ydoc_str(&d, root, "non_finite", &non_finite);
	if (non_finite != NULL && strcmp(non_finite, "reject") != 0 &&
	    strcmp(non_finite, "pass") != 0)
		ydoc_fail(&d, ydoc_get(&d, root, "non_finite"), "non_finite is reject or pass");
	c->reject_non_finite = non_finite != NULL && strcmp(non_finite, "reject") == 0;
	free(non_finite);
	model_restart(&d, root, &c->restart);
	model_feedback(&d, root, &c->feedback);
	bool failed = d.failed;
	ydoc_free(&d);
	return failed ? -1 : 0;
}

void model_config_free(model_config *c)
{
	free(c->plugin);
	free(c->feedback.output);
	free(c->user);
	for (size_t i = 0; i < c->n_ro_paths; i++)
		free(c->ro_paths[i]);
	for (size_t i = 0; i < c->n_params; i++) {
		free((char *)c->params[i].key);
		free((char *)c->params[i].value);
	}
	memset(c, 0, sizeof *c);
}

bool model_config_serves(const model_config *c, int64_t version,
    const int64_t *present, size_t n_present)
{
	switch (c->policy) {
	case VERSION_POLICY_ALL: return true;
	case VERSION_POLICY_SPECIFIC:
		for (size_t i = 0; i < c->n_specific; i++)
			if (c->specific[i] == version)
				return true;
		return false;
	case VERSION_POLICY_LATEST: {
		size_t higher = 0;
		for (size_t i = 0; i < n_present; i++)
			higher += present[i] > version;
		return higher < (size_t)c->latest;
	}
	}
	return false;
}
