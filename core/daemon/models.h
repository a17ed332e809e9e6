/*
 * models.h - the daemon's table of served models, their versions and the
 * workers serving each version.
 *
 * The table's shape (which models and versions it holds) changes only on
 * the supervisor thread (lifecycle.h), and always under corrald.lock: the
 * supervisor reads it without the lock, every other thread with it. A
 * model is never freed before the daemon ends; a version is freed when
 * its last reference goes (the table's, its workers', requests').
 */
#ifndef CORRAL_MODELS_H
#define CORRAL_MODELS_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include <nng/nng.h>

#include "cgroups.h"
#include "config.h"
#include "drift.h"
#include "exit_cause.h"
#include "metrics.h"
#include "perf.h"
#include "wire.h"

/* The state of a worker slot (an instance), and of a version as a whole
 * (version_state_of: READY when any instance is). */
typedef enum version_state {
	VERSION_STARTING, /* a worker is loading the model */
	VERSION_READY,    /* a worker answers requests */
	VERSION_CRASHED,  /* the worker died; a new one starts after a backoff */
	VERSION_FAILED,   /* cannot be served: load or confinement error, or
			     restarting too often (crash loop) */
	VERSION_STOPPED,  /* the daemon is shutting down, or the version was
			     unloaded */
	VERSION_DRAINING, /* being unloaded: takes no new requests, finishes
			     the ones it has, then stops */
} version_state;

const char *version_state_name(version_state s);

typedef struct model_version model_version;
typedef struct model model;

/* One corral-worker process. Freed when its last reference goes: the
 * version holds one while the process runs, each request in flight holds
 * one. */
typedef struct corrald corrald;

typedef struct instance instance;

typedef struct worker {
	corrald *d;
	model_version *mv;
	instance *inst;      /* the slot it runs in */
	pid_t pid;           /* 0 once reaped (lock) */
	pid_t spawned_pid;   /* set once, right after fork (atomic): whose
				connection the socket accepts */
	nng_socket sock;     /* REQ, listening on sock_url */
	nng_ctx probe_ctx;   /* the describe request that signals READY, and
				later each heartbeat */
	nng_aio *probe_aio;
	bool probe_sent;     /* the probe's send finished; now receiving */
	int report_fd;       /* read end of the worker's report pipe */
	int refs;            /* lock */
	int outstanding;     /* requests sent to it, not yet answered (lock) */
	uint64_t served;     /* requests it answered (lock) */
	bool timed_out;      /* killed because a request passed its deadline (lock) */
	bool probing;        /* a describe probe (readiness or heartbeat) is
				out on probe_ctx (lock) */
	bool beating;        /* that probe is a heartbeat (lock) */
	int64_t beat_sent_ms;
	bool hung;           /* killed for a missed heartbeat (lock) */
	int pipe_id;         /* its admitted connection (atomic), 0 before */
	bool disconnected;   /* that connection closed (atomic): dead or dying */
	char cause[512];     /* why it ended; set before sock is closed */
	char sock_dir[PATH_MAX]; /* <worker_dir>/w<seq>, owned by the worker's user */
	char sock_url[PATH_MAX + 16];
	worker_cgroup cg;
	int64_t started_ms;
	int64_t last_answer_ms; /* when it last answered, or went from idle to
				   busy (atomic): a worker that answers is
				   slow, not hung */
} worker;

/* One of a version's `instances` worker slots: its current process and
 * its restart schedule. Fields under the lock. */
struct instance {
	int index;
	version_state state;   /* STARTING, READY, CRASHED, FAILED or STOPPED */
	worker *w;             /* the current process, or NULL */
	int64_t restart_at_ms; /* when CRASHED: when to start again */
	int64_t delay_ms;      /* the backoff of the next restart, before jitter */
	int64_t ready_at_ms;   /* when the current worker became READY */
	uint64_t restarts;
	char last_cause[512];  /* why its last worker ended */
};

/* One input of a version's signature, as its worker describes it: what
 * corrald checks a request against before a worker sees it. */
typedef struct input_sig {
	char name[64];
	corral_dtype dtype;
	uint32_t accepts;     /* further datatypes taken: 1u << dtype */
	uint32_t ndim;
	int64_t shape[CORRAL_MAX_DIMS]; /* -1: any */
} input_sig;

/* The validation gate of a version (gate.h). */
typedef enum gate_state { GATE_NONE, GATE_PENDING, GATE_PASSED, GATE_FAILED } gate_state;

/* Distinct syscalls whose violations a version counts (metrics.h). */
#define MODEL_MAX_VIOLATION_KINDS 16

struct model_version {
	model *model;
	int64_t version;
	char *dir;
	int refs;             /* the table's, each worker's, each request's
				 (atomic: a request drops its own without
				 the lock) */
	bool unloading;       /* leaving the served set: it serves until
				 lifecycle.h lets it drain (lock) */
	bool draining;        /* takes no new requests; stops once idle (lock) */
	int64_t drain_since_ms;
	instance inst[CONFIG_MAX_INSTANCES];
	size_t n_inst;
	bool failed;          /* no more restarts: permanent error or crash
				 loop (lock) */
	bool stopped;         /* the daemon is shutting down, or the version
				 drained: its workers stop, none restarts (lock) */
	int64_t restart_log[CONFIG_MAX_INTENSITY]; /* recent restart times, a
				 ring for the intensity limit (lock) */
	size_t restart_log_next;
	size_t waiting;       /* requests waiting for a READY worker (lock) */
	char last_cause[512];
	char *meta;           /* describe reply of the last READY worker */
	size_t meta_len;
	char *provenance;     /* provenance.h's map, msgpack; NULL if unknown */
	size_t provenance_len;
	char ready_at[32];    /* UTC time its first worker became READY (lock) */
	char *sandbox;        /* its "sandbox" map, msgpack, for `status` */
	size_t sandbox_len;
	uint64_t exits[EXIT_N_CAUSES]; /* worker ends by cause (lock) */
	uint64_t starts;      /* workers started (lock) */
	int64_t load_ms;      /* the last worker's start to READY (lock) */
	struct violation_count {
		char syscall[32]; /* as the worker's report names it */
		uint64_t n;
	} violations[MODEL_MAX_VIOLATION_KINDS]; /* sandbox violations by
				 syscall; the last slot takes "other" (lock) */
	size_t n_violations;
	version_metrics metrics; /* metrics.h; atomic */
	drift_state *drift;   /* drift.h; NULL: no baseline */
	perf_state *perf;     /* perf.h: judged by feedback */
	input_sig *sig;       /* set once, at the first READY; then read
				 without the lock once sig_known (atomic,
				 release/acquire) says so */
	size_t n_sig;
	bool sig_known;
	int gate;             /* gate_state: NONE without a validation set (lock) */
	bool gate_started;    /* the check at the first READY has begun (lock) */
	char gate_report[512]; /* the last check's outcome (lock) */
};

#define ROUTING_MAX_TRAFFIC 16
#define MODEL_MAX_PINS 64

struct model {
	char *name;
	model_config cfg;
	char *plugin_path;
	uid_t uid;            /* the workers' user and group, when root */
	gid_t gid;
	char *dir;            /* its folder in the repository */
	model_version **versions; /* ascending by version (shape: see top) */
	size_t n_versions, cap_versions;
	/* Versions an operator loaded or unloaded (lifecycle.h), on top of the
	 * version policy; saved with the routing. Under the lock. */
	int64_t pinned[MODEL_MAX_PINS];
	size_t n_pinned;
	int64_t unpinned[MODEL_MAX_PINS];
	size_t n_unpinned;
	bool off;             /* unloaded as a whole: serves no version */
	/* routing.h; under the lock */
	int64_t default_version;  /* 0: the highest served version */
	int64_t previous_default; /* rollback target; 0: none */
	int64_t traffic_version[ROUTING_MAX_TRAFFIC];
	int64_t traffic_weight[ROUTING_MAX_TRAFFIC];
	size_t n_traffic;         /* 0: no canary */
	int64_t shadow_version;   /* mirrored to, never answering; 0: none */
	int64_t shadow_percent;   /* share of default traffic mirrored */
	struct shadow_stats {
		uint64_t mirrored, compared, diverged, failed, skipped;
		double max_abs_diff;
	} shadow;                 /* shadow.h; under the lock */
};

struct corrald {
	daemon_config cfg;
	char *worker_exe;
	char *plugin_dir;
	char *worker_dir; /* <runtime_dir>/workers, 0711: one private folder
			     per worker inside */
	bool as_root;     /* workers get an unprivileged identity */
	struct shadows *shadows; /* shadow.h */
	char *admin_token; /* from cfg.admin_token_file; NULL: control ops off */
	cgroups cg;
	pthread_mutex_t lock;
	model **models;   /* ascending by name (shape: see top) */
	size_t n_models;
	unsigned long long spawn_seq;
	struct lifecycle *lifecycle; /* lifecycle.h */
	struct front *front;         /* front.h; NULL until it starts */
	worker **retired;            /* ended workers whose sockets are not
					closed yet (workers.h); supervisor */
	size_t n_retired, cap_retired;
	struct sock_closer *closer;  /* sock_closer.h */
	int gates_running;           /* gate.h checks in progress (atomic) */
	struct predlog *predlog;     /* predlog.h; NULL: no prediction log */
};

/* The numeric version folders under a model's folder, ascending, in
 * *present (at most `cap`). Returns how many, or -1 when there are more
 * than cap (none can be chosen safely). */
ssize_t model_present_versions(const char *dir, int64_t *present, size_t cap);
#define MODEL_MAX_VERSIONS 1024

/* A new model named `name` read from its folder's config.yaml, with no
 * versions yet; NULL with err when the config is broken or its workers'
 * user is not usable. Supervisor thread. */
model *model_create(corrald *d, const char *name, const char *dir, char *err,
    size_t errlen);

/* A new version v of m, not yet in the table: STARTING, no worker yet
 * (workers_tick starts it), its provenance computed. NULL when out of
 * memory. Supervisor thread, without the lock (it reads files). */
model_version *version_new(model *m, int64_t v);

/* Put m into d's table / mv into its model's. Supervisor thread, lock
 * held. Return 0, or -1 when out of memory (mv is then the caller's). */
int models_insert(corrald *d, model *m);
int model_insert_version(model_version *mv);

/* Take mv out of its model's table and drop the table's reference.
 * Supervisor thread, lock held. */
void model_remove_version(model_version *mv);

/* References on a version (any thread; taking one needs the lock or
 * another reference held, so that mv cannot be freed meanwhile); the last
 * unref frees it. */
void version_ref(model_version *mv);
void version_unref(model_version *mv);

/* d's model named `name`, or NULL. Lock held, or the supervisor thread. */
model *models_find_model(corrald *d, wire_str name);

/* Free a model that is not in the table. */
void model_destroy(model *m);
void models_free(corrald *d);

/* Find the version a request names. Version 0 is the model's default
 * version (routing.h), or, for a request that is traffic (an infer), the
 * routing's pick, weighted during a canary. Call with the lock held. On
 * failure returns NULL with *st MODEL_NOT_FOUND or VERSION_NOT_FOUND and a
 * message. */
model_version *models_find(corrald *d, wire_str name, int64_t version,
    bool for_traffic, corral_status *st, char *err, size_t errlen);

/* m's served version v, or NULL. */
model_version *model_find_version(model *m, int64_t v);

/* The READY worker of mv with the least outstanding work that is still
 * connected, or NULL. Lock held. */
worker *version_pick_worker(model_version *mv);

/* w's memory: its cgroup's usage, else its resident set; -1 if unknown.
 * Lock held (w->pid). */
int64_t worker_memory(const worker *w);

/* Requests queued at mv: those waiting for a READY worker, and those sent
 * to a worker that is busy with another. Lock held. */
size_t version_queue_length(const model_version *mv);

/* The state of the version as a whole: FAILED, STOPPED or DRAINING when it
 * is, else READY when any instance is, else STARTING when any is, else
 * CRASHED. Lock held. */
version_state version_state_of(const model_version *mv);

/* Milliseconds on the monotonic clock. */
int64_t now_ms(void);

/* "a/b" in a new string the caller frees; NULL when out of memory. */
char *path_join(const char *a, const char *b);

#endif
