/*
 * cgroups.h - a control group per worker, for memory, pids and CPU limits.
 *
 * cgroup v2 where the daemon has a delegated subtree (it can create child
 * groups under its own and enable the controllers there), else the v1
 * memory, pids and cpu hierarchies where the host mounts those and the
 * daemon may create groups in them (as root). Where neither works the
 * layer is off and cgroups_describe says why: nothing silently weaker.
 *
 * Threading: cgroups_init once at start; the per-worker calls from the
 * supervisor thread (spawn, reap). cgroup_join is the one call made in a
 * forked child, and it is async-signal-safe.
 */
#ifndef CORRAL_CGROUPS_H
#define CORRAL_CGROUPS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum { CG_MEMORY, CG_PIDS, CG_CPU, CG_N };

typedef struct cgroups {
	bool v2;
	char base[CG_N][PATH_MAX]; /* "" where that controller is unusable */
	char state[PATH_MAX + 256]; /* "on: ..." or "off: why" */
} cgroups;

/* One worker's groups; dirs[] are "" where absent, procs_fd[] are -1. */
typedef struct worker_cgroup {
	char dirs[CG_N][PATH_MAX];
	int procs_fd[CG_N];
} worker_cgroup;

/* Find the usable hierarchies under <own group>/<name>, creating it and
 * removing groups a killed daemon left. Never fails: an unusable layer is
 * recorded in cg->state. */
void cgroups_init(cgroups *cg, const char *name);

/* Make the groups for worker `seq` with these limits and open their
 * cgroup.procs. Returns 0, or -1 with err (the groups made are removed). */
int cgroup_create(const cgroups *cg, unsigned long long seq,
    const worker_limits *lim, worker_cgroup *out, char *err, size_t errlen);

/* In the forked child, before exec: move the calling process into its
 * groups. Async-signal-safe. Returns 0 or -1. */
int cgroup_join(const worker_cgroup *w);

/* Close the cgroup.procs descriptors (parent, after fork). */
void cgroup_close_fds(worker_cgroup *w);

/* Did the kernel's OOM killer act in this worker's memory group? */
bool cgroup_oom_killed(const worker_cgroup *w);

/* Bytes of memory the group uses now, or -1. */
int64_t cgroup_memory_bytes(const worker_cgroup *w);

/* Remove the groups (after the worker is reaped). */
void cgroup_destroy(worker_cgroup *w);

#endif
