/*
 * seccomp_policy.c - the worker's two seccomp stages (libseccomp).
 *
 * Stage 1, before the plugin is loaded: everything is allowed except a
 * denylist of calls no model needs, which trap, and new processes, which
 * answer EPERM (a process forked at load would outlive the worker: no
 * death signal reaches it). Plugin constructors and model loading already
 * run under it.
 *
 * Stage 2, once the model is loaded and warmed up: an allowlist. Anything
 * else traps, and the SIGSYS handler (violation.c) reports the call and
 * exits. Some calls answer with an error instead, because libraries try
 * them and cope: file-system calls (EACCES), ioctl (ENOTTY), fork (EPERM),
 * clone3 (ENOSYS, so glibc falls back to clone, whose flags the filter
 * can see) and syscall numbers libseccomp has no name for (ENOSYS).
 *
 * In both, the architecture is checked first (a foreign one, int 0x80 or
 * x32, traps), and replacing the SIGSYS handler kills the process at once.
 * Filters stack: stage 1 still holds while stage 2 serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "seccomp_policy.h"

/* ------------------------------------------------------------ stage 1 --- */

static const char *const stage1_deny[] = {
	"execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
	"mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen",
	"fsmount", "fsconfig", "fspick", "mount_setattr", "unshare", "setns",
	"bpf", "perf_event_open", "keyctl", "add_key", "request_key",
	"userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"init_module", "finit_module", "delete_module", "kexec_load",
	"kexec_file_load", "reboot", "personality",
};

/* ------------------------------------------------------------ stage 2 --- */

/* What a serving worker does: nng's I/O threads (epoll, futex, unix socket
 * I/O, timers), memory management without new executable mappings, signal
 * handling of its own, and exiting. Kept in one place so a change to it is
 * a reviewed change (tests/policy keeps the compiled dumps). */
static const char *const serving_allow[] = {
	"read", "write", "readv", "writev", "recvmsg", "sendmsg", "recvfrom",
	"sendto", "close", "getsockopt", "setsockopt", "shutdown",
	"epoll_wait", "epoll_pwait", "epoll_ctl", "poll", "ppoll",
	"futex", "sched_yield", "sched_getaffinity", "nanosleep",
	"clock_nanosleep", "clock_gettime", "gettimeofday",
	"brk", "munmap", "madvise", "mremap", "fstat",
	"rt_sigreturn", "rt_sigprocmask", "restart_syscall",
	"getpid", "gettid", "exit", "exit_group",
	"getrandom", "membarrier", "rseq", "set_robust_list",
	/* a new thread's own signal stack (AddressSanitizer sets one up) */
	"sigaltstack",
};

/* File-system calls answer EACCES: libraries probe files (locale, /proc,
 * /sys) and must see an error they handle, not a dead process. */
static const char *const serving_eacces[] = {
	"open", "openat", "openat2", "creat", "stat", "lstat", "newfstatat",
	"statx", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
	"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat",
	"renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod",
	"fchmodat", "chown", "fchown", "lchown", "fchownat", "truncate",
	"ftruncate", "mknod", "mknodat", "utimensat", "statfs", "fstatfs",
	"chdir", "fchdir", "inotify_init1",
};

/* fork and vfork answer EPERM in both stages: a library that tries to
 * start a helper process sees a failure it can report. */
static const char *const no_process_calls[] = {"fork", "vfork"};

/* Calls the base policy allows only with certain arguments or answers
 * with an error: a plain allow for a plugin would undo that (libseccomp
 * lets an unconditional rule override a conditional one). */
static const char *const restricted[] = {
	"mmap", "mprotect", "clone", "clone3", "prctl", "tgkill", "ioctl",
	"fcntl", "rt_sigaction", "socket",
};

#define UNNAMED_SCAN 1024

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

#define IN(name, list) in_list(name, list, sizeof list / sizeof *list)

static bool is_restricted(const char *name)
{
	return IN(name, restricted) || IN(name, serving_eacces) ||
	    IN(name, no_process_calls) || IN(name, stage1_deny);
}

static int rule(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned n_args,
    const struct scmp_arg_cmp *args, char *err, size_t errlen)
{
	int rc = seccomp_rule_add_array(ctx, action, nr, n_args, args);
	if (rc != 0) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		snprintf(err, errlen, "seccomp rule for %s: %s", name ? name : "?",
		    strerror(-rc));
		free(name);
		return -1;
	}
	return 0;
}

static int rule_names(scmp_filter_ctx ctx, uint32_t action,
    const char *const *names, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR) {
			snprintf(err, errlen, "unknown syscall name '%s'", names[i]);
			return -1;
		}
		if (rule(ctx, action, nr, 0, NULL, err, errlen))
			return -1;
	}
	return 0;
}

#define RULES(ctx, action, list) \
	rule_names(ctx, action, list, sizeof list / sizeof *list, err, errlen)
#define ARGS(...) \
	(sizeof((struct scmp_arg_cmp[]){__VA_ARGS__}) / sizeof(struct scmp_arg_cmp)), \
	    (struct scmp_arg_cmp[]){__VA_ARGS__}

/* A context with the traps and checks both stages share. */
static scmp_filter_ctx new_filter(uint32_t default_action, char *err, size_t errlen)
{
	err[0] = '\0';
	scmp_filter_ctx ctx = seccomp_init(default_action);
	if (ctx == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return NULL;
	}
	/* Another architecture (int 0x80, x32) traps and is reported; every
	 * thread gets the filter; a tree of rules keeps the lookup short. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP) ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) ||
	    rule(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(rt_sigaction),
		ARGS(SCMP_A0(SCMP_CMP_EQ, SIGSYS)), err, errlen)) {
		if (!err[0])
			snprintf(err, errlen, "seccomp attributes are not available");
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

/* fork and vfork answer EPERM, and so does a clone that would make a
 * process; clone3 answers ENOSYS so glibc falls back to clone, whose flags
 * the filter can see. Threads stay allowed. */
static int add_no_processes(scmp_filter_ctx ctx, char *err, size_t errlen)
{
	return RULES(ctx, SCMP_ACT_ERRNO(EPERM), no_process_calls) ||
	    rule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone),
		ARGS(SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)), err, errlen) ||
	    rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, NULL, err, errlen);
}

static scmp_filter_ctx build_stage1(char *err, size_t errlen)
{
	scmp_filter_ctx ctx = new_filter(SCMP_ACT_ALLOW, err, errlen);
	if (ctx == NULL)
		return NULL;
	if (RULES(ctx, SCMP_ACT_TRAP, stage1_deny) ||
	    rule(ctx, SCMP_ACT_TRAP, SCMP_SYS(socket),
		ARGS(SCMP_A0(SCMP_CMP_NE, AF_UNIX)), err, errlen) ||
	    add_no_processes(ctx, err, errlen) ||
	    /* the death signal the worker set stays set */
	    rule(ctx, SCMP_ACT_TRAP, SCMP_SYS(prctl),
		ARGS(SCMP_A0(SCMP_CMP_EQ, PR_SET_PDEATHSIG)), err, errlen)) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

static int add_serving_rules(scmp_filter_ctx ctx, const char *const *extra,
    pid_t self, char *err, size_t errlen)
{
	if (RULES(ctx, SCMP_ACT_ALLOW, serving_allow) ||
	    RULES(ctx, SCMP_ACT_ERRNO(EACCES), serving_eacces) ||
	    add_no_processes(ctx, err, errlen) ||
	    /* stdio asks whether stdout is a terminal the first time a plugin
	     * prints: every ioctl gets ENOTTY, whatever its request bits. */
	    rule(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 0, NULL, err, errlen) ||
	    /* memory, but never PROT_EXEC: no code appears after load */
	    rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap),
		ARGS(SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)), err, errlen) ||
	    rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect),
		ARGS(SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)), err, errlen) ||
	    /* threads (processes: add_no_processes) */
	    rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone),
		ARGS(SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)), err, errlen) ||
	    /* nng names its threads as they start: naming, nothing else */
	    rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl),
		ARGS(SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)), err, errlen) ||
	    rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl),
		ARGS(SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME)), err, errlen) ||
	    /* signal handlers of its own, except SIGSYS (see new_filter) */
	    rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction),
		ARGS(SCMP_A0(SCMP_CMP_NE, SIGSYS)), err, errlen) ||
	    /* signals only to itself (abort() raises SIGABRT with tgkill) */
	    rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill),
		ARGS(SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self)), err, errlen))
		return -1;
	/* fcntl for flags only: F_SETOWN/F_SETSIG with O_ASYNC would let the
	 * kernel signal any process on the worker's behalf. */
	static const int fcntl_cmds[] = {F_GETFL, F_GETFD, F_SETFD};
	for (size_t i = 0; i < sizeof fcntl_cmds / sizeof *fcntl_cmds; i++)
		if (rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl),
			ARGS(SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntl_cmds[i])), err, errlen))
			return -1;
	if (rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl),
		ARGS(SCMP_A1(SCMP_CMP_EQ, F_SETFL), SCMP_A2(SCMP_CMP_MASKED_EQ, O_ASYNC, 0)),
		err, errlen))
		return -1;
	/* Numbers libseccomp cannot name are newer than it: answer as an old
	 * kernel would, so libraries fall back instead of dying. */
	for (int nr = 0; nr < UNNAMED_SCAN; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		free(name);
		if (name == NULL && rule(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0, NULL, err, errlen))
			return -1;
	}
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
		if (is_restricted(extra[i])) {
			snprintf(err, errlen,
			    "a plugin may not declare '%s': the sandbox denies it, restricts "
			    "it by argument or answers it with an error", extra[i]);
			return -1;
		}
		if (rule_names(ctx, SCMP_ACT_ALLOW, &extra[i], 1, err, errlen))
			return -1;
	}
	return 0;
}

static scmp_filter_ctx build_stage2(const char *const *extra, pid_t self,
    char *err, size_t errlen)
{
	scmp_filter_ctx ctx = new_filter(SCMP_ACT_TRAP, err, errlen);
	if (ctx != NULL && add_serving_rules(ctx, extra, self, err, errlen) != 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

static int load(scmp_filter_ctx ctx, char *err, size_t errlen)
{
	if (ctx == NULL)
		return -1;
	int rc = -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	else if ((rc = seccomp_load(ctx)) != 0)
		snprintf(err, errlen, "seccomp_load: %s", strerror(-rc));
	seccomp_release(ctx);
	return rc == 0 ? 0 : -1;
}

int sandbox_apply_stage1(char *err, size_t errlen)
{
	return load(build_stage1(err, errlen), err, errlen);
}

int sandbox_apply_serving_policy(const char *const *extra, char *err,
    size_t errlen)
{
	return load(build_stage2(extra, getpid(), err, errlen), err, errlen);
}

int sandbox_export_policy(int stage, const char *const *extra, pid_t self,
    int fd, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = stage == 1 ? build_stage1(err, errlen)
					 : build_stage2(extra, self, err, errlen);
	if (ctx == NULL)
		return -1;
	int rc = seccomp_export_pfc(ctx, fd);
	if (rc != 0)
		snprintf(err, errlen, "seccomp_export_pfc: %s", strerror(-rc));
	seccomp_release(ctx);
	return rc == 0 ? 0 : -1;
}
