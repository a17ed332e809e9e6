/*
 * seccomp_test - the serving policy applied to a forked child: what it
 * allows, what it answers with an error, what kills, and which extra
 * syscalls a plugin may not declare.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "seccomp_policy.h"
#include "test.h"

/* Run fn in a confined child; return its wait status. The child exits 0
 * when everything it checked held, or 10 + the failed step. */
static int in_child(int (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		char err[256];
		if (sandbox_apply_serving_policy(NULL, err, sizeof err) != 0) {
			fprintf(stderr, "apply: %s\n", err);
			_exit(9);
		}
		_exit(fn());
	}
	int status;
	waitpid(pid, &status, 0);
	return status;
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
	return 0;
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

static int forks(void)
{
	fork();
	return 22;
}

/* Asking the kernel to signal another process on I/O (F_SETOWN). */
static int sets_owner(void)
{
	fcntl(2, F_SETOWN, getppid());
	return 24;
}

static int signals_another(void)
{
	kill(getppid(), 0);
	return 23;
}

static void check_killed(int status, const char *what)
{
	CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
	    "%s: killed by SIGSYS (status 0x%x)", what, status);
}

int main(void)
{
	int st = in_child(answers);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "EACCES/ENOTTY answers (status 0x%x)", st);
	check_killed(in_child(opens_a_socket), "socket(AF_INET)");
	check_killed(in_child(maps_code), "mmap(PROT_EXEC)");
	check_killed(in_child(forks), "fork");
	check_killed(in_child(signals_another), "kill(parent)");
	check_killed(in_child(sets_owner), "fcntl(F_SETOWN)");

	/* A plugin may not undo the base policy through extra_syscalls; the
	 * check comes before any filter is loaded, so this process is safe. */
	const char *const restricted[] = {"mmap", "clone", "openat", "ioctl", "prctl", "fcntl"};
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
