/* seccomp_policy.c - the worker's serving allowlist (libseccomp). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "seccomp_policy.h"

/* What a serving worker does: nng's I/O threads (epoll, futex, unix socket
 * I/O, timers), memory management without new executable mappings, and
 * exiting. Kept in one place so a change to it is a reviewed change. */
static const char *const serving_allow[] = {
	"read", "write", "readv", "writev", "recvmsg", "sendmsg", "recvfrom",
	"sendto", "close", "getsockopt", "setsockopt", "shutdown",
	"epoll_wait", "epoll_pwait", "epoll_ctl", "poll", "ppoll",
	"futex", "sched_yield", "sched_getaffinity", "nanosleep",
	"clock_nanosleep", "clock_gettime", "gettimeofday",
	"brk", "munmap", "madvise", "mremap",
	"rt_sigreturn", "rt_sigprocmask", "restart_syscall",
	"getpid", "gettid", "exit", "exit_group",
	"getrandom", "membarrier", "rseq", "set_robust_list",
	/* a new thread's own signal stack (AddressSanitizer sets one up) */
	"sigaltstack",
};

/* File-system calls answer EACCES: libraries probe files (locale, /proc,
 * /sys) and must see an error they handle, not a dead process. */
static const char *const serving_eacces[] = {
	"open", "openat", "openat2", "stat", "lstat", "newfstatat", "statx",
	"access", "faccessat", "faccessat2", "readlink", "readlinkat",
};

/* Calls the base policy allows only with certain arguments, or answers
 * with an error: a plain allow for a plugin would undo that (libseccomp
 * lets an unconditional rule override a conditional one). */
static const char *const restricted[] = {
	"mmap", "mprotect", "clone", "clone3", "prctl", "tgkill", "ioctl", "fcntl",
};

static bool is_restricted(const char *name)
{
	for (size_t i = 0; i < sizeof restricted / sizeof *restricted; i++)
		if (strcmp(name, restricted[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof serving_eacces / sizeof *serving_eacces; i++)
		if (strcmp(name, serving_eacces[i]) == 0)
			return true;
	return false;
}

static int rule_name(scmp_filter_ctx ctx, uint32_t action, const char *name,
    char *err, size_t errlen)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR) {
		snprintf(err, errlen, "unknown syscall name '%s'", name);
		return -1;
	}
	int rc = seccomp_rule_add(ctx, action, nr, 0);
	if (rc != 0) {
		snprintf(err, errlen, "seccomp rule for %s: %s", name, strerror(-rc));
		return -1;
	}
	return 0;
}

static int add_rules(scmp_filter_ctx ctx, const char *const *extra,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof serving_allow / sizeof *serving_allow; i++)
		if (rule_name(ctx, SCMP_ACT_ALLOW, serving_allow[i], err, errlen))
			return -1;
	for (size_t i = 0; i < sizeof serving_eacces / sizeof *serving_eacces; i++)
		if (rule_name(ctx, SCMP_ACT_ERRNO(EACCES), serving_eacces[i], err, errlen))
			return -1;
	/* ioctl answers ENOTTY: stdio asks whether stdout is a terminal the
	 * first time a plugin prints, and must get an answer, not a kill. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 0)) {
		snprintf(err, errlen, "seccomp rule for ioctl failed");
		return -1;
	}
	/* fstat on an fd the process already has is harmless. */
	if (rule_name(ctx, SCMP_ACT_ALLOW, "fstat", err, errlen))
		return -1;
	/* mmap and mprotect, but never PROT_EXEC: no code appears after load. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
		SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
		SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) {
		snprintf(err, errlen, "seccomp rule for mmap/mprotect failed");
		return -1;
	}
	/* Threads only: clone with CLONE_THREAD; clone3 answers ENOSYS so
	 * glibc falls back to clone, whose flags the filter can see. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) {
		snprintf(err, errlen, "seccomp rule for clone failed");
		return -1;
	}
	/* nng names its threads as they start (PR_SET_NAME), which may happen
	 * after the filter is in place: allow naming, nothing else of prctl. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME))) {
		snprintf(err, errlen, "seccomp rule for prctl failed");
		return -1;
	}
	/* fcntl for flags only: F_SETOWN/F_SETSIG with O_ASYNC would let the
	 * kernel signal any process on the worker's behalf. */
	static const int fcntl_cmds[] = {F_GETFL, F_GETFD, F_SETFD};
	for (size_t i = 0; i < sizeof fcntl_cmds / sizeof *fcntl_cmds; i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
			SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntl_cmds[i]))) {
			snprintf(err, errlen, "seccomp rule for fcntl failed");
			return -1;
		}
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 2,
		SCMP_A1(SCMP_CMP_EQ, F_SETFL), SCMP_A2(SCMP_CMP_MASKED_EQ, O_ASYNC, 0))) {
		snprintf(err, errlen, "seccomp rule for fcntl failed");
		return -1;
	}
	/* Signals only to itself (abort() raises SIGABRT with tgkill). */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
		SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()))) {
		snprintf(err, errlen, "seccomp rule for tgkill failed");
		return -1;
	}
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
		if (is_restricted(extra[i])) {
			snprintf(err, errlen,
			    "a plugin may not declare '%s': the base policy restricts it "
			    "by argument or answers it with an error", extra[i]);
			return -1;
		}
		if (rule_name(ctx, SCMP_ACT_ALLOW, extra[i], err, errlen))
			return -1;
	}
	return 0;
}

int sandbox_apply_serving_policy(const char *const *extra, char *err,
    size_t errlen)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	int rc = -1;
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0) {
		snprintf(err, errlen, "seccomp TSYNC is not available");
		goto out;
	}
	if (add_rules(ctx, extra, err, errlen) != 0)
		goto out;
	int lrc = seccomp_load(ctx);
	if (lrc != 0) {
		snprintf(err, errlen, "seccomp_load: %s", strerror(-lrc));
		goto out;
	}
	rc = 0;
out:
	seccomp_release(ctx);
	return rc;
}
