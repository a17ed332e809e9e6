/*
 * sandbox.h - the layers a corral-worker puts around itself before it
 * loads a plugin, and the report of which of them are active.
 *
 * Order (sandbox_enter): process hygiene, rlimits, namespaces with a
 * private read-only file-system view, identity (an unprivileged user, no
 * capabilities), no-new-privs and Landlock, then the stage-1 seccomp
 * denylist. The namespaces come before the identity change because binding
 * the model and library folders into the private view needs the daemon's
 * access to them; when the worker is not root it creates a user namespace
 * first and does the same inside it. Stage 2, the serving allowlist, is in
 * seccomp_policy.h.
 *
 * Threading: every function here runs in the worker's main thread, and all
 * but sandbox_violation_report run before any other thread exists
 * (unshare(CLONE_NEWUSER) and the identity change require it).
 */
#ifndef CORRAL_SANDBOX_H
#define CORRAL_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

/* What the daemon asks for. Strings are borrowed for the call. */
typedef struct sandbox_spec {
	bool set_identity;        /* run as uid/gid (needs root) */
	uid_t uid;
	gid_t gid;
	const char *const *ro_paths; /* shown read-only in the private view */
	size_t n_ro_paths;
	rlim_t cpu_seconds;       /* RLIMIT_CPU; 0: none */
	rlim_t address_space;     /* RLIMIT_AS in bytes; 0: none */
	rlim_t open_files;        /* RLIMIT_NOFILE */
	int keep_fd_max;          /* descriptors above this are closed */
	pid_t parent;             /* the daemon: the worker dies with it */
} sandbox_spec;

enum sandbox_layer {
	SANDBOX_HYGIENE,    /* new session, descriptors closed */
	SANDBOX_RLIMITS,
	SANDBOX_NAMESPACES,
	SANDBOX_IDENTITY,
	SANDBOX_LANDLOCK,
	SANDBOX_SECCOMP,
	SANDBOX_N_LAYERS,
};

/* One line per layer: "on: ..." or "off: why". Sent to the daemon with the
 * worker's describe reply, so `corral status` and the log can say which
 * layers hold. */
typedef struct sandbox_report {
	char layer[SANDBOX_N_LAYERS][160];
} sandbox_report;

const char *sandbox_layer_name(enum sandbox_layer l);

/* What every worker sees read-only besides the daemon's paths: system
 * libraries, the loader's cache, /dev/null and friends, CPU topology. */
extern const char *const sandbox_system_paths[];
extern const size_t sandbox_n_system_paths;

/*
 * Apply every layer up to and including the stage-1 seccomp filter. A
 * layer the kernel or the daemon's privileges do not allow is recorded as
 * "off: why" and the worker goes on; a layer that was asked for and fails
 * half-way is an error (-1 with err), and the caller must not serve.
 */
int sandbox_enter(const sandbox_spec *spec, int report_fd, int violation_exit,
    sandbox_report *rep, char *err, size_t errlen);

/* --- the layers, each in its own file; used by sandbox_enter ---------- */
int sandbox_hygiene(int keep_fd_max, char *note, size_t n);
int sandbox_rlimits(const sandbox_spec *spec, char *note, size_t n);
/* 1: applied, 0: not available here (note says why), -1: failed. */
int sandbox_namespaces(const sandbox_spec *spec, char *note, size_t n);
int sandbox_identity(const sandbox_spec *spec, char *note, size_t n);
int sandbox_landlock(const sandbox_spec *spec, char *note, size_t n);

/*
 * Install the SIGSYS handler that reports a trapped syscall: one line
 * "sandbox violation: NAME (syscall NR, arch x86_64)" written to report_fd
 * (and stderr), then _exit(exit_code). Async-signal-safe: names are looked
 * up now, into a table, not in the handler. Both seccomp stages refuse to
 * let anything replace this handler.
 */
int sandbox_violation_reporter(int report_fd, int exit_code, char *err,
    size_t errlen);

#endif
