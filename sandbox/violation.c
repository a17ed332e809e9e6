/*
 * violation.c - what a worker does when its seccomp filter traps a call:
 * tell the daemon which call (name, number, architecture) over the report
 * descriptor, then exit with the violation code. The daemon turns that
 * into the worker's exit cause ("sandbox violation: execve").
 *
 * The handler runs in signal context, so it only formats into a stack
 * buffer and calls write and _exit; syscall names are resolved with
 * libseccomp before the filter exists and kept in a table.
 */
#include <linux/audit.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

#define NAMED_SYSCALLS 1024
#define X32_SYSCALL_BIT 0x40000000u

static const char *syscall_names[NAMED_SYSCALLS];
static int violation_fd = -1;
static int violation_exit = 70;

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, unsigned long v)
{
	char digits[24];
	int n = 0;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0 && n < (int)sizeof digits);
	while (n > 0 && at + 1 < cap)
		buf[at++] = digits[--n];
	return at;
}

static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char buf[160];
	size_t at = put(buf, 0, sizeof buf, "sandbox violation: ");
	unsigned nr = (unsigned)si->si_syscall;
	if (si->si_arch != AUDIT_ARCH_X86_64) {
		at = put(buf, at, sizeof buf, "syscall ");
		at = put_num(buf, at, sizeof buf, nr);
		at = put(buf, at, sizeof buf,
		    si->si_arch == AUDIT_ARCH_I386 ? " (arch i386)" : " (foreign arch)");
	} else if (nr & X32_SYSCALL_BIT) {
		at = put(buf, at, sizeof buf, "x32 syscall ");
		at = put_num(buf, at, sizeof buf, nr & ~X32_SYSCALL_BIT);
	} else if (nr < NAMED_SYSCALLS && syscall_names[nr] != NULL) {
		at = put(buf, at, sizeof buf, syscall_names[nr]);
		at = put(buf, at, sizeof buf, " (syscall ");
		at = put_num(buf, at, sizeof buf, nr);
		at = put(buf, at, sizeof buf, ", arch x86_64)");
	} else {
		at = put(buf, at, sizeof buf, "syscall ");
		at = put_num(buf, at, sizeof buf, nr);
	}
	buf[at++] = '\n';
	if (violation_fd >= 0)
		(void)!write(violation_fd, buf, at);
	(void)!write(STDERR_FILENO, buf, at);
	_exit(violation_exit);
}

int sandbox_violation_reporter(int report_fd, int exit_code, char *err,
    size_t errlen)
{
	for (int nr = 0; nr < NAMED_SYSCALLS; nr++)
		if (syscall_names[nr] == NULL)
			/* kept for the life of the process: the handler reads it */
			syscall_names[nr] = seccomp_syscall_resolve_num_arch(
			    SCMP_ARCH_NATIVE, nr);
	violation_fd = report_fd;
	violation_exit = exit_code;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0) {
		snprintf(err, errlen, "cannot install the SIGSYS handler");
		return -1;
	}
	/* A trap while SIGSYS is blocked would kill without a report. */
	sigset_t sys;
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	return 0;
}
