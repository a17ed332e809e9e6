/* cgroups.c - per-worker control groups (cgroups.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups.h"

static const char *const v1_name[CG_N] = {"memory", "pids", "cpu"};

static int write_text(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = (ssize_t)strlen(text);
	int rc = write(fd, text, (size_t)n) == n ? 0 : -1;
	close(fd);
	return rc;
}

static int64_t read_key(const char *dir, const char *file, const char *key)
{
	char path[PATH_MAX + 64], line[256];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	int64_t v = -1;
	size_t kl = key ? strlen(key) : 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (key == NULL || (strncmp(line, key, kl) == 0 && line[kl] == ' ')) {
			v = strtoll(line + kl, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* The daemon's own group in a hierarchy: the path after "ID:CONTROLLERS:"
 * in /proc/self/cgroup, where CONTROLLERS holds `want` ("" for v2). */
static bool own_group(const char *want, char *out, size_t n)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (f == NULL)
		return false;
	char line[PATH_MAX + 64];
	bool found = false;
	while (!found && fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c2 = '\0';
		const char *ctrls = c1 + 1;
		bool match = want[0] == '\0' ? ctrls[0] == '\0' : false;
		for (const char *p = ctrls; !match && *p;) {
			size_t len = strcspn(p, ",");
			match = len == strlen(want) && strncmp(p, want, len) == 0;
			p += len + (p[len] == ',');
		}
		if (match) {
			snprintf(out, n, "%s", strcmp(c2 + 1, "/") == 0 ? "" : c2 + 1);
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* Remove the groups "<daemon pid>.<seq>" of daemons that are gone (their
 * workers died with them, which PDEATHSIG sees to). Another daemon may
 * share the subtree, so only dead daemons' groups are touched. */
static void remove_stale(const char *base)
{
	DIR *dh = opendir(base);
	if (dh == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(dh)) != NULL) {
		char *dot;
		long pid = strtol(e->d_name, &dot, 10);
		if (e->d_type == DT_DIR && pid > 0 && *dot == '.' &&
		    kill((pid_t)pid, 0) != 0 && errno == ESRCH)
			unlinkat(dirfd(dh), e->d_name, AT_REMOVEDIR);
	}
	closedir(dh);
}

static bool make_base(char *base, size_t n, const char *mnt, const char *own,
    const char *name)
{
	snprintf(base, n, "%s%s/%s", mnt, own, name);
	if (mkdir(base, 0755) != 0 && errno != EEXIST)
		return false;
	remove_stale(base);
	return access(base, W_OK) == 0;
}

/* v2: the daemon's group must hand memory, pids and cpu down. The group
 * holding the daemon cannot also have controllers for children (no
 * internal processes), so the daemon moves itself into a leaf first. */
static bool init_v2(cgroups *cg, const char *name)
{
	char own[PATH_MAX], top[PATH_MAX + 32], leaf[PATH_MAX + 48];
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0 || !own_group("", own, sizeof own))
		return false;
	snprintf(top, sizeof top, "/sys/fs/cgroup%s", own);
	snprintf(leaf, sizeof leaf, "%s/daemon", top);
	if (write_text(top, "cgroup.subtree_control", "+memory +pids +cpu") != 0) {
		if ((mkdir(leaf, 0755) != 0 && errno != EEXIST) ||
		    write_text(leaf, "cgroup.procs", "0") != 0 ||
		    write_text(top, "cgroup.subtree_control", "+memory +pids +cpu") != 0) {
			snprintf(cg->state, sizeof cg->state,
			    "off: cgroup v2 without a delegated subtree at %s (%s)", top,
			    strerror(errno));
			return true;
		}
	}
	char base[PATH_MAX];
	if (!make_base(base, sizeof base, "/sys/fs/cgroup", own, name) ||
	    write_text(base, "cgroup.subtree_control", "+memory +pids +cpu") != 0) {
		snprintf(cg->state, sizeof cg->state, "off: cannot use cgroup v2 group %s (%s)",
		    base, strerror(errno));
		return true;
	}
	cg->v2 = true;
	for (int c = 0; c < CG_N; c++)
		snprintf(cg->base[c], sizeof cg->base[c], "%s", base);
	snprintf(cg->state, sizeof cg->state, "on: cgroup v2 memory, pids, cpu under %s", base);
	return true;
}

void cgroups_init(cgroups *cg, const char *name)
{
	memset(cg, 0, sizeof *cg);
	if (init_v2(cg, name))
		return;
	char on[64] = "", off[256] = "";
	for (int c = 0; c < CG_N; c++) {
		char mnt[64], own[PATH_MAX];
		snprintf(mnt, sizeof mnt, "/sys/fs/cgroup/%s", v1_name[c]);
		if (access(mnt, F_OK) != 0 || !own_group(v1_name[c], own, sizeof own) ||
		    !make_base(cg->base[c], sizeof cg->base[c], mnt, own, name)) {
			cg->base[c][0] = '\0';
			size_t l = strlen(off);
			snprintf(off + l, sizeof off - l, "%s%s", l ? ", " : "", v1_name[c]);
			continue;
		}
		size_t l = strlen(on);
		snprintf(on + l, sizeof on - l, "%s%s", l ? ", " : "", v1_name[c]);
	}
	if (on[0] == '\0')
		snprintf(cg->state, sizeof cg->state,
		    "off: no usable cgroup v2 subtree or v1 memory/pids/cpu hierarchy "
		    "(needs root or delegation)");
	else
		snprintf(cg->state, sizeof cg->state, "on: cgroup v1 %s%s%s", on,
		    off[0] ? "; off: " : "", off);
}

int cgroup_create(const cgroups *cg, unsigned long long seq,
    const worker_limits *lim, worker_cgroup *w, char *err, size_t errlen)
{
	memset(w, 0, sizeof *w);
	for (int c = 0; c < CG_N; c++)
		w->procs_fd[c] = -1;
	char text[64];
	for (int c = 0; c < CG_N; c++) {
		if (cg->base[c][0] == '\0' || (cg->v2 && c > 0))
			continue; /* v2: one group holds every controller */
		char *dir = w->dirs[c];
		snprintf(dir, PATH_MAX, "%s/%d.%llu", cg->base[c], (int)getpid(), seq);
		if (mkdir(dir, 0755) != 0)
			goto fail;
		int rc = 0;
		if (c == CG_MEMORY || cg->v2) {
			snprintf(text, sizeof text, "%lld", (long long)lim->memory_bytes);
			rc |= write_text(dir, cg->v2 ? "memory.max" : "memory.limit_in_bytes", text);
			/* no swap either, where the kernel accounts it */
			if (cg->v2)
				write_text(dir, "memory.swap.max", "0");
			else
				write_text(dir, "memory.memsw.limit_in_bytes", text);
		}
		if (c == CG_PIDS || cg->v2) {
			snprintf(text, sizeof text, "%lld", (long long)lim->pids);
			rc |= write_text(dir, "pids.max", text);
		}
		if ((c == CG_CPU || cg->v2) && lim->cpu_millicores > 0) {
			if (cg->v2) {
				snprintf(text, sizeof text, "%lld 100000",
				    (long long)lim->cpu_millicores * 100);
				rc |= write_text(dir, "cpu.max", text);
			} else {
				snprintf(text, sizeof text, "%lld", (long long)lim->cpu_millicores * 100);
				rc |= write_text(dir, "cpu.cfs_period_us", "100000") |
				    write_text(dir, "cpu.cfs_quota_us", text);
			}
		}
		char procs[PATH_MAX + 16];
		snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
		if (rc != 0 || (w->procs_fd[c] = open(procs, O_WRONLY | O_CLOEXEC)) < 0)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "cgroup for worker %llu: %s", seq, strerror(errno));
	cgroup_close_fds(w);
	cgroup_destroy(w);
	return -1;
}

int cgroup_join(const worker_cgroup *w)
{
	for (int c = 0; c < CG_N; c++)
		if (w->procs_fd[c] >= 0 && write(w->procs_fd[c], "0", 1) != 1)
			return -1; /* "0" is the writing process */
	return 0;
}

void cgroup_close_fds(worker_cgroup *w)
{
	for (int c = 0; c < CG_N; c++)
		if (w->procs_fd[c] >= 0) {
			close(w->procs_fd[c]);
			w->procs_fd[c] = -1;
		}
}

bool cgroup_oom_killed(const worker_cgroup *w)
{
	const char *dir = w->dirs[CG_MEMORY];
	if (dir[0] == '\0')
		return false;
	/* v2 counts in memory.events, v1 in memory.oom_control */
	int64_t n = read_key(dir, "memory.events", "oom_kill");
	if (n < 0)
		n = read_key(dir, "memory.oom_control", "oom_kill");
	return n > 0;
}

int64_t cgroup_memory_bytes(const worker_cgroup *w)
{
	const char *dir = w->dirs[CG_MEMORY];
	if (dir[0] == '\0')
		return -1;
	int64_t v = read_key(dir, "memory.current", NULL);
	return v >= 0 ? v : read_key(dir, "memory.usage_in_bytes", NULL);
}

void cgroup_destroy(worker_cgroup *w)
{
	for (int c = 0; c < CG_N; c++)
		if (w->dirs[c][0] != '\0') {
			rmdir(w->dirs[c]);
			w->dirs[c][0] = '\0';
		}
}
