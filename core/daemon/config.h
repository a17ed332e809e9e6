/*
 * config.h - corrald's configuration (configs/corrald.yaml documents every
 * key) and each model's config.yaml in the repository.
 */
#ifndef CORRAL_CONFIG_H
#define CORRAL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <corral/plugin.h>

#define CONFIG_MAX_LISTEN 8

/* Where /metrics and the health endpoints listen unless the config says
 * otherwise: loopback only. */
#define DEFAULT_HTTP_LISTEN "http://127.0.0.1:9750"

/* The prediction log (predlog.h, docs/monitoring.md). */
typedef struct predlog_config {
	char *path;          /* SQLite file; NULL: <state_dir>/predictions.db;
				"": no log (and no feedback) */
	double sample_rate;  /* share of answered infers logged, 0 .. 1 */
	int64_t max_rows;    /* retention: newest rows kept; 0: no limit */
	int64_t max_age_s;   /* retention: rows older are deleted; 0: no limit */
	int64_t max_bytes;   /* a request whose inputs and outputs are larger
				is not logged; 0: no limit (but the queue's) */
	int64_t flush_ms;    /* rows wait at most this long to be written */
} predlog_config;

typedef struct daemon_config {
	char *listen[CONFIG_MAX_LISTEN]; /* nng URLs */
	size_t n_listen;
	char *model_repository;          /* absolute or relative to the cwd */
	char *runtime_dir;
	char *plugin_dir;                /* NULL: next to the executable */
	char *log_level;
	int64_t max_request_bytes;
	int64_t max_response_bytes;
	int64_t request_timeout_ms;
	int64_t worker_start_timeout_ms;
	int64_t restart_delay_ms;
	int64_t concurrency;
	char *worker_user;               /* workers' user when run as root */
	char *cgroup_name;               /* the daemon's cgroup subtree */
	int64_t shutdown_grace_ms;       /* drain time on SIGTERM */
	char *state_dir;                 /* routing.json; NULL: runtime_dir */
	char *admin_token_file;          /* NULL: control ops refused */
	int64_t repository_poll_ms;      /* 0: reload only when asked */
	int64_t heartbeat_ms;            /* idle workers' ping; 0: none */
	char *http_listen;               /* /metrics and health; "": none */
	char *log_format;                /* "text" or "json" */
	int64_t drift_interval_ms;       /* PSI computed this often (drift.h) */
	double drift_threshold;          /* a PSI above this is logged */
	char *log_file;                  /* NULL: stderr */
	predlog_config predlog;
} daemon_config;

/* Read `path`; relative paths inside it are taken relative to the file's
 * folder. Returns 0, or -1 with "file:line: reason" in err. Free with
 * daemon_config_free (also after a failure). */
int daemon_config_load(daemon_config *c, const char *path, char *err,
    size_t errlen);
void daemon_config_free(daemon_config *c);

typedef enum version_policy_kind {
	VERSION_POLICY_LATEST, /* the `latest` highest versions */
	VERSION_POLICY_ALL,
	VERSION_POLICY_SPECIFIC,
} version_policy_kind;

#define CONFIG_MAX_PARAMS 64
#define CONFIG_MAX_SPECIFIC 64
#define CONFIG_MAX_RO_PATHS 16
#define CONFIG_MAX_INSTANCES 16
#define CONFIG_MAX_INTENSITY 100

/* How a version's workers are restarted (docs/operations.md): after
 * delay_ms, doubling up to max_delay_ms, with +-20% jitter; back to
 * delay_ms once a worker has been READY for healthy_ms; and more than
 * intensity restarts within period_ms make the version FAILED. */
typedef struct restart_policy {
	int64_t delay_ms;
	int64_t max_delay_ms;
	int64_t healthy_ms;
	int64_t intensity;
	int64_t period_ms;
} restart_policy;

/* Per-worker limits (docs/security.md): cgroup memory, pids and CPU, and
 * the rlimit backstops. 0 means no limit where that is allowed. */
typedef struct worker_limits {
	int64_t memory_bytes;
	int64_t pids;
	int64_t cpu_millicores;
	int64_t cpu_seconds;
	int64_t address_space_bytes;
	int64_t open_files;
} worker_limits;

/* How feedback (feedback.h) judges a model's predictions. */
typedef enum feedback_task {
	FEEDBACK_AUTO,           /* classification when the output is an
				    integer type or has several values per
				    row, else regression */
	FEEDBACK_CLASSIFICATION, /* accuracy, precision, recall, F1 */
	FEEDBACK_REGRESSION,     /* MAE, RMSE */
} feedback_task;

typedef struct feedback_config {
	feedback_task task;
	char *output;     /* the output judged; NULL: the first */
	double threshold; /* one probability per row: class 1 at or above */
	int64_t window;   /* the latest rows the windowed metrics cover */
} feedback_config;

typedef struct model_config {
	char *plugin; /* a bare name (<plugin_dir>/<name>.so) or a path */
	version_policy_kind policy;
	int64_t latest;
	int64_t specific[CONFIG_MAX_SPECIFIC];
	size_t n_specific;
	int64_t request_timeout_ms; /* 0: the daemon's */
	corral_param params[CONFIG_MAX_PARAMS]; /* strings owned by the config */
	size_t n_params;
	char *user;                 /* NULL: the daemon's worker_user */
	char *ro_paths[CONFIG_MAX_RO_PATHS]; /* more paths the worker may read */
	size_t n_ro_paths;
	worker_limits limits;
	int64_t instances;          /* workers per version */
	int64_t max_queue;          /* requests waiting per version */
	bool retryable;             /* retry (up to twice) after a worker crash */
	bool reject_non_finite;     /* non_finite: reject - NaN or infinite
				       input values answer NON_FINITE_INPUT */
	restart_policy restart;
	feedback_config feedback;
} model_config;

/* Read <repository>/<model>/config.yaml. Same error contract as above.
 * restart.delay_ms is -1 when the model leaves it to the daemon's
 * restart_delay_ms. */
int model_config_load(model_config *c, const char *path, char *err,
    size_t errlen);
void model_config_free(model_config *c);

/* Is `version` served under this config's policy, among the versions
 * present (sorted ascending)? */
bool model_config_serves(const model_config *c, int64_t version,
    const int64_t *present, size_t n_present);

#endif
