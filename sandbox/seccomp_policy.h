/*
 * seccomp_policy.h - the worker's two seccomp filters.
 *
 * Stage 1 (before dlopen): a denylist; execve, ptrace, mount, bpf,
 * io_uring, module and kexec calls, namespaces, non-AF_UNIX sockets and
 * the like trap. Stage 2 (serving): an allowlist; anything else traps,
 * file-system calls answer EACCES, ioctl ENOTTY, fork EPERM, clone3 and
 * unnamed syscall numbers ENOSYS. A trap raises SIGSYS, whose handler
 * (sandbox.h, sandbox_violation_reporter) must be installed first.
 *
 * Threading: apply from any thread; the filter reaches every thread
 * (TSYNC). Each sets PR_SET_NO_NEW_PRIVS. Failure leaves the process
 * unchanged, and the caller must not serve.
 */
#ifndef CORRAL_SECCOMP_POLICY_H
#define CORRAL_SECCOMP_POLICY_H

#include <stddef.h>
#include <sys/types.h>

/* Returns 0, or -1 with the reason in err. */
int sandbox_apply_stage1(char *err, size_t errlen);

/* Stage 2 with the syscall names in `extra` (NULL-terminated, may be
 * NULL) allowed too. A name the base policy restricts is refused. */
int sandbox_apply_serving_policy(const char *const *extra, char *err,
    size_t errlen);

/* Write stage 1 or 2 (with `extra`, and `self` as the worker's own pid in
 * the tgkill rule) to fd in libseccomp's readable PFC form. */
int sandbox_export_policy(int stage, const char *const *extra, pid_t self,
    int fd, char *err, size_t errlen);

#endif
