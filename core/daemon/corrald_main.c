/*
 * corrald - the corral supervisor daemon.
 *
 *   corrald [--config FILE]
 *
 * The main thread is the supervisor: it starts workers, reaps them, and
 * restarts them; nng's threads serve clients (front.c). Signals are blocked
 * in every thread and taken synchronously here with sigtimedwait.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "front.h"
#include "gate.h"
#include "http_server.h"
#include "predlog.h"
#include "log.h"
#include "models.h"
#include "routing.h"
#include "shadow.h"
#include "sock_closer.h"
#include "lifecycle.h"
#include "workers.h"

#ifndef CORRAL_PLUGIN_RELDIR
#define CORRAL_PLUGIN_RELDIR "lib/corral/plugins"
#endif
#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0"
#endif

#define DEFAULT_CONFIG "/etc/corral/corrald.yaml"
#define SUPERVISOR_TICK_MS 100
#define DRAIN_FLUSH_MS 200
#define SHADOW_SLOTS 8

static void usage(FILE *out)
{
	fprintf(out,
	    "usage: corrald [--config FILE]\n"
	    "\n"
	    "Serve the models of a corral model repository over nng.\n"
	    "\n"
	    "  -c, --config FILE  daemon configuration (default %s)\n"
	    "  -h, --help         show this help\n"
	    "  -V, --version      show the version\n"
	    "\n"
	    "Stops cleanly on SIGTERM or SIGINT. See docs/operations.md.\n",
	    DEFAULT_CONFIG);
}

/* The folder this executable lives in (worker and plugins are found
 * relative to it, in the build tree and once installed alike). */
static char *exe_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return strdup(dirname(buf));
}

/* Create path with mode; an existing folder keeps the operator's mode,
 * unless `exact` (the private worker folder must be 0700 whatever it was). */
static int make_dir(const char *path, mode_t mode, bool exact)
{
	if (mkdir(path, mode) == 0)
		return chmod(path, mode); /* the umask may have narrowed it */
	if (errno != EEXIST)
		return -1;
	return exact ? chmod(path, mode) : 0;
}

/* Remove the per-worker socket folders (w<N>/s.sock) a previous, killed
 * daemon left in the worker folder. */
static void clear_worker_dir(const char *dir)
{
	DIR *dh = opendir(dir);
	if (dh == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(dh)) != NULL) {
		if (e->d_name[0] != 'w')
			continue;
		char sock[NAME_MAX + 16];
		snprintf(sock, sizeof sock, "%s/s.sock", e->d_name);
		unlinkat(dirfd(dh), sock, 0);
		unlinkat(dirfd(dh), e->d_name, AT_REMOVEDIR);
	}
	closedir(dh);
}

/* The admin token: the first line of admin_token_file, at least 16
 * characters. None configured: control ops are off. */
static int load_admin_token(corrald *d, char *err, size_t errlen)
{
	const char *path = d->cfg.admin_token_file;
	if (path == NULL)
		return 0;
	FILE *f = fopen(path, "re");
	char line[512] = "";
	if (f == NULL || fgets(line, sizeof line, f) == NULL) {
		snprintf(err, errlen, "admin_token_file %s: %s", path,
		    f ? "empty" : strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0077))
		log_msg(LOG_WARN, "admin_token_file %s is readable by others than its owner",
		    path);
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (strlen(line) < 16) {
		snprintf(err, errlen, "admin_token_file %s: the token must have at least 16 "
		    "characters", path);
		return -1;
	}
	d->admin_token = strdup(line);
	return d->admin_token ? 0 : -1;
}

static int setup_paths(corrald *d, char *err, size_t errlen)
{
	char *dir = exe_dir();
	if (dir == NULL) {
		snprintf(err, errlen, "cannot find my own executable");
		return -1;
	}
	d->worker_exe = path_join(dir, "corral-worker");
	char *rel = path_join(dir, "../" CORRAL_PLUGIN_RELDIR);
	free(dir);
	d->plugin_dir = d->cfg.plugin_dir ? strdup(d->cfg.plugin_dir) : rel;
	if (d->plugin_dir != rel)
		free(rel);
	d->worker_dir = path_join(d->cfg.runtime_dir, "workers");
	if (!d->worker_exe || !d->plugin_dir || !d->worker_dir) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* The runtime folder holds the client socket (reachable by local
	 * clients); worker sockets sit in a folder inside it that no one may
	 * list, each in a folder of its own that only its worker's user may
	 * enter. */
	if (make_dir(d->cfg.runtime_dir, 0755, false) != 0 ||
	    make_dir(d->worker_dir, 0711, true) != 0) {
		snprintf(err, errlen, "runtime folder %s: %s", d->cfg.runtime_dir,
		    strerror(errno));
		return -1;
	}
	clear_worker_dir(d->worker_dir);
	if (d->cfg.state_dir != NULL && make_dir(d->cfg.state_dir, 0755, false) != 0) {
		snprintf(err, errlen, "state folder %s: %s", d->cfg.state_dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* The prediction log (predlog.h), unless its path is "": by default
 * predictions.db in the state folder. */
static int open_predlog(corrald *d, char *err, size_t errlen)
{
	const char *path = d->cfg.predlog.path;
	if (path != NULL && path[0] == '\0')
		return 0;
	char *dflt = path == NULL ? path_join(d->cfg.state_dir ? d->cfg.state_dir
							       : d->cfg.runtime_dir,
					"predictions.db")
				  : NULL;
	if (path == NULL && dflt == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->predlog = predlog_open(&d->cfg.predlog, path ? path : dflt, err, errlen);
	if (d->predlog != NULL)
		log_msg(LOG_INFO, "prediction log %s (sample_rate %g, max_rows %lld, "
		    "max_age_s %lld)", path ? path : dflt, d->cfg.predlog.sample_rate,
		    (long long)d->cfg.predlog.max_rows, (long long)d->cfg.predlog.max_age_s);
	free(dflt);
	return d->predlog != NULL ? 0 : -1;
}

/* Every drift_interval_ms: each version's PSI per feature (drift.h), and
 * a log line for each feature that crossed drift_threshold. Supervisor. */
static void check_drift(corrald *d, int64_t *next_ms)
{
	if (now_ms() < *next_ms)
		return;
	*next_ms = now_ms() + d->cfg.drift_interval_ms;
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n_models; i++)
		for (size_t j = 0; j < d->models[i]->n_versions; j++) {
			model_version *mv = d->models[i]->versions[j];
			drift_state *s = mv->drift;
			if (s == NULL || drift_update(s, d->cfg.drift_threshold) == 0)
				continue;
			for (size_t k = 0; k < s->n_features; k++)
				if (s->features[k].crossed)
					log_event(LOG_WARN, &(log_ctx){.model = mv->model->name,
					    .version = mv->version},
					    "model %s version %lld: input drift on feature %s: PSI "
					    "%.3f over %.3f (%.0f rows in the window)",
					    mv->model->name, (long long)mv->version,
					    s->features[k].name, s->features[k].psi,
					    d->cfg.drift_threshold, s->window_rows);
		}
	pthread_mutex_unlock(&d->lock);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = DEFAULT_CONFIG;
	int c;
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("corrald %s\n", CORRAL_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}

	/* Blocked before any thread exists, so every nng thread inherits the
	 * mask and only sigtimedwait below sees these. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGCHLD);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, LIFECYCLE_WAKE_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	static corrald d;
	char err[1024];
	pthread_mutex_init(&d.lock, NULL);
	if (daemon_config_load(&d.cfg, config_path, err, sizeof err) != 0) {
		fprintf(stderr, "corrald: %s\n", err);
		daemon_config_free(&d.cfg);
		return 1;
	}
	log_set_level(d.cfg.log_level);
	if (log_configure(strcmp(d.cfg.log_format, "json") == 0, d.cfg.log_file) != 0) {
		fprintf(stderr, "corrald: log_file %s: %s\n", d.cfg.log_file, strerror(errno));
		daemon_config_free(&d.cfg);
		return 1;
	}
	d.as_root = geteuid() == 0;
	cgroups_init(&d.cg, d.cfg.cgroup_name);
	int rc = 1;
	front *f = NULL;
	http_server *http = NULL;
	/* restart jitter and canary picks */
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (setup_paths(&d, err, sizeof err) != 0 || load_admin_token(&d, err, sizeof err) != 0 ||
	    lifecycle_start(&d, err, sizeof err) != 0) {
		log_msg(LOG_ERROR, "%s", err);
		goto out;
	}
	if (open_predlog(&d, err, sizeof err) != 0) {
		log_msg(LOG_ERROR, "%s", err);
		goto out;
	}
	/* before any request can arrive: the first ones route as saved */
	routing_restore(&d);
	if ((d.closer = sock_closer_start()) == NULL) {
		log_msg(LOG_ERROR, "cannot start the socket closer: out of memory or threads");
		goto out;
	}
	if ((d.shadows = shadows_start(&d, SHADOW_SLOTS, err, sizeof err)) == NULL ||
	    (f = front_start(&d, err, sizeof err)) == NULL) {
		log_msg(LOG_ERROR, "%s", err);
		goto out;
	}
	d.front = f;
	if ((http = http_server_start(&d, err, sizeof err)) == NULL) {
		log_msg(LOG_ERROR, "%s", err);
		goto out;
	}
	for (size_t i = 0; i < d.cfg.n_listen; i++)
		log_msg(LOG_INFO, "listening on %s", d.cfg.listen[i]);
	if (d.cfg.http_listen[0] != '\0')
		log_msg(LOG_INFO, "metrics and health on %s (/metrics, /readyz, /healthz, "
		    "/v2/health/ready, /v2/health/live)", d.cfg.http_listen);
	log_msg(LOG_INFO, "serving %zu models from %s", d.n_models, d.cfg.model_repository);
	log_msg(d.as_root ? LOG_INFO : LOG_WARN, "sandbox: identity %s; cgroups %s",
	    d.as_root ? "on (workers run as unprivileged users)"
		      : "off (corrald is not root: workers run as its user)",
	    d.cg.state);
	workers_tick(&d);

	/* Serve until SIGTERM or SIGINT; then drain: no new requests, the ones
	 * received finish (their workers still supervised) until none is
	 * left, shutdown_grace_ms pass, or a second signal comes. */
	struct timespec tick = {0, SUPERVISOR_TICK_MS * 1000000L};
	int64_t drain_until = 0, idle_since = 0;
	int64_t next_drift_ms = now_ms() + d.cfg.drift_interval_ms;
	for (;;) {
		int sig = sigtimedwait(&sigs, NULL, &tick);
		if ((sig == SIGTERM || sig == SIGINT) && drain_until != 0) {
			log_msg(LOG_WARN, "signal %d again: stopping now", sig);
			break;
		}
		if (sig == SIGHUP)
			log_reopen(); /* the log file was rotated */
		if (sig == SIGTERM || sig == SIGINT) {
			log_msg(LOG_INFO, "signal %d: draining (%d requests in progress, up to "
			    "%lld ms)", sig, front_busy(f), (long long)d.cfg.shutdown_grace_ms);
			front_drain(f);
			drain_until = now_ms() + d.cfg.shutdown_grace_ms;
		}
		workers_reap(&d);
		front_abort_ended(f);
		workers_close_retired(&d, false);
		check_drift(&d, &next_drift_ms);
		lifecycle_tick(&d);
		workers_tick(&d);
		if (drain_until == 0)
			continue;
		/* A reply counts as sent once nng has queued it; nng 1.5 has no
		 * linger on close, so leave it DRAIN_FLUSH_MS to leave. */
		if (front_busy(f) == 0 && idle_since == 0)
			idle_since = now_ms();
		if (idle_since != 0 && now_ms() - idle_since >= DRAIN_FLUSH_MS)
			break;
		if (now_ms() >= drain_until) {
			log_msg(LOG_WARN, "drain: %d requests still in progress; stopping",
			    front_busy(f));
			break;
		}
	}
	rc = 0;
out:
	/* Clients first (no new work), then the workers. A control op
	 * waiting for this thread is answered first: front_stop waits for it. */
	lifecycle_close(&d);
	if (d.closer && sock_closer_wedged(d.closer)) {
		/* nng cannot close sockets any more: closing the client socket
		 * would hang too. Stop the workers and leave. */
		log_msg(LOG_ERROR, "stopping the workers and exiting without closing nng's "
		    "sockets (see the error about nng issue 1813 above)");
		workers_stop_all(&d, WORKER_STOP_GRACE_MS);
		_exit(rc);
	}
	http_server_stop(http);
	if (f)
		front_stop(f);
	d.front = NULL;
	shadows_stop(d.shadows);
	workers_stop_all(&d, WORKER_STOP_GRACE_MS);
	bool closed = sock_closer_stop(d.closer, WORKER_STOP_GRACE_MS);
	/* a validation check still running holds versions and the table */
	if (!gate_wait_all(&d, WORKER_STOP_GRACE_MS)) {
		log_msg(LOG_ERROR, "a validation check does not end; exiting without freeing");
		_exit(rc);
	}
	/* every request is answered: write what the log still queues */
	predlog_close(d.predlog);
	if (d.worker_dir) {
		clear_worker_dir(d.worker_dir);
		rmdir(d.worker_dir);
	}
	models_free(&d);
	lifecycle_free(&d);
	free(d.retired);
	free(d.worker_exe);
	free(d.plugin_dir);
	free(d.worker_dir);
	free(d.admin_token);
	daemon_config_free(&d.cfg);
	/* nng frees what its reaper still holds (closed sockets' contexts
	 * and their messages), so that a leak checker sees only real leaks;
	 * not when a close hangs, since this would wait for it. */
	if (closed)
		nng_fini();
	log_msg(LOG_INFO, "stopped");
	return rc;
}
