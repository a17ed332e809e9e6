/*
 * seccomp_test - both seccomp stages applied to forked children: what they
 * allow, what they answer with an error, what traps (and is reported by
 * name through the SIGSYS handler), what kills outright, and which extra
 * syscalls a plugin may not declare.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <sys/syscall.h>

#include "sandbox.h"
#include "seccomp_policy.h"
#include "test.h"

#define VIOLATION_EXIT 70

/* Taken before any filter: the serving policy has no getppid. */
static pid_t parent;

/* The last violation report a child wrote. */
static char report[256];

/* Run fn in a child under stage `stage` (with the violation reporter on a
 * pipe); return its wait status. The child exits 0 when everything it
 * checked held, or 10 + the failed step. */
static int in_stage(int stage, int (*fn)(void))
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char err[256] = "";
		close(p[0]);
		if (sandbox_violation_reporter(p[1], VIOLATION_EXIT, err, sizeof err) != 0 ||
		    (stage == 1 ? sandbox_apply_stage1(err, sizeof err)
				: sandbox_apply_serving_policy(NULL, err, sizeof err)) != 0) {
			fprintf(stderr, "apply: %s\n", err);
			_exit(9);
		}
		_exit(fn());
	}
	close(p[1]);
	int status;
	waitpid(pid, &status, 0);
	ssize_t n = read(p[0], report, sizeof report - 1);
	report[n > 0 ? n : 0] = '\0';
	close(p[0]);
	return status;
}

static int in_child(int (*fn)(void))
{
	return in_stage(2, fn);
}

static int answers(void)
{
	if (open("/etc/hostname", O_RDONLY) != -1 || errno != EACCES)
		return 11;
	struct termios t;
	if (ioctl(1, TCGETS, &t) != -1 || errno != ENOTTY)
		return 12;
	if (mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
	    MAP_FAILED)
		return 13; /* plain memory is fine */
	if (write(2, "", 0) != 0)
		return 14;
	int fl = fcntl(2, F_GETFL);
	if (fl < 0 || fcntl(2, F_SETFL, fl) != 0)
		return 15; /* flags without O_ASYNC stay allowed */
	if (fork() != -1 || errno != EPERM)
		return 16; /* no new processes, but an error, not a kill */
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		return 17; /* so glibc falls back to clone */
	if (syscall(600) != -1 || errno != ENOSYS)
		return 18; /* a number libseccomp cannot name */
	if (open("/tmp/corral-seccomp-test", O_WRONLY | O_CREAT, 0600) != -1 || errno != EACCES)
		return 19;
	return 0;
}

/* Stage 1 leaves ordinary work alone. */
static int stage1_ordinary(void)
{
	int fd = open("/dev/null", O_RDONLY);
	if (fd < 0)
		return 11;
	close(fd);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		return 12;
	close(s);
	/* but no process: it would outlive the worker */
	if (fork() != -1 || errno != EPERM)
		return 13;
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		return 14;
	return 0;
}

static int executes(void)
{
	char *const argv[] = {"/bin/true", NULL};
	execv(argv[0], argv);
	return 25;
}

/* Clearing the death signal would let a worker outlive the daemon. */
static int clears_death_signal(void)
{
	prctl(PR_SET_PDEATHSIG, 0);
	return 27;
}

static int replaces_sigsys_handler(void)
{
	signal(SIGSYS, SIG_DFL);
	return 26;
}

static int opens_a_socket(void)
{
	socket(AF_INET, SOCK_STREAM, 0);
	return 20; /* not reached */
}

static int maps_code(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 21;
}


/* Asking the kernel to signal another process on I/O (F_SETOWN). */
static int sets_owner(void)
{
	fcntl(2, F_SETOWN, parent);
	return 24;
}

static int signals_another(void)
{
	kill(parent, 0);
	return 23;
}

/* Trapped, and the handler named the call before exiting. */
static void check_reported(int status, const char *what, const char *name)
{
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == VIOLATION_EXIT,
	    "%s: violation exit (status 0x%x)", what, status);
	char want[64];
	snprintf(want, sizeof want, "sandbox violation: %s ", name);
	CHECK_MSG(strncmp(report, want, strlen(want)) == 0, "%s: report '%s'", what, report);
}

int main(void)
{
	parent = getpid();
	int st = in_child(answers);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "EACCES/ENOTTY answers (status 0x%x)", st);
	check_reported(in_child(opens_a_socket), "socket(AF_INET)", "socket");
	check_reported(in_child(maps_code), "mmap(PROT_EXEC)", "mmap");
	check_reported(in_child(signals_another), "kill(parent)", "kill");
	check_reported(in_child(sets_owner), "fcntl(F_SETOWN)", "fcntl");
	check_reported(in_child(executes), "execve", "execve");
	st = in_child(replaces_sigsys_handler);
	CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "replacing the SIGSYS handler kills outright (status 0x%x)", st);

	st = in_stage(1, stage1_ordinary);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "stage 1 allows ordinary work (status 0x%x)", st);
	check_reported(in_stage(1, executes), "stage 1 execve", "execve");
	check_reported(in_stage(1, opens_a_socket), "stage 1 socket(AF_INET)", "socket");
	check_reported(in_stage(1, clears_death_signal), "stage 1 PR_SET_PDEATHSIG", "prctl");
	st = in_stage(1, replaces_sigsys_handler);
	CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "stage 1: replacing the SIGSYS handler kills outright (status 0x%x)", st);

	/* A plugin may not undo the base policy through extra_syscalls; the
	 * check comes before any filter is loaded, so this process is safe. */
	const char *const restricted[] = {"mmap", "clone", "openat", "ioctl", "prctl",
	    "fcntl", "execve", "socket", "rt_sigaction", "fork", "ptrace"};
	for (size_t i = 0; i < sizeof restricted / sizeof *restricted; i++) {
		const char *extra[] = {restricted[i], NULL};
		char err[256] = "";
		pid_t pid = fork();
		if (pid == 0)
			_exit(sandbox_apply_serving_policy(extra, err, sizeof err) == -1 &&
				      strstr(err, "may not declare")
				  ? 0
				  : 1);
		waitpid(pid, &st, 0);
		CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "extra '%s' refused", restricted[i]);
	}
	const char *unknown[] = {"no_such_call", NULL};
	char err[256] = "";
	pid_t pid = fork();
	if (pid == 0)
		_exit(sandbox_apply_serving_policy(unknown, err, sizeof err) == -1 ? 0 : 1);
	waitpid(pid, &st, 0);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unknown extra syscall refused");
	TEST_MAIN_END();
}
