/*
 * hostile.h - the command numbers of the hostile test plugin (hostile.c),
 * shared by the plugin and hostile_test.c. The plugin's head comment says
 * what each one does and what the sandbox should make of it.
 */
#ifndef CORRAL_TEST_HOSTILE_H
#define CORRAL_TEST_HOSTILE_H

enum hostile_cmd {
	HOSTILE_ECHO = 0,
	HOSTILE_EXECVE = 1,
	HOSTILE_FORK = 2,
	HOSTILE_FORK_RAW = 3,
	HOSTILE_CLONE3 = 4,
	HOSTILE_OPEN_READ = 5,
	HOSTILE_OPEN_CREATE = 6,
	HOSTILE_SOCKET_INET = 7,
	HOSTILE_SOCKET_INET6 = 8,
	HOSTILE_SOCKET_NETLINK = 9,
	HOSTILE_SOCKET_PACKET = 10,
	HOSTILE_SOCKET_UNIX = 11,
	HOSTILE_KILL_DAEMON = 12,
	HOSTILE_PTRACE_DAEMON = 13,
	HOSTILE_VM_READV_DAEMON = 14,
	HOSTILE_BPF = 15,
	HOSTILE_IO_URING = 16,
	HOSTILE_MOUNT = 17,
	HOSTILE_UNSHARE = 18,
	HOSTILE_KEYCTL = 19,
	HOSTILE_MPROTECT_EXEC = 20,
	HOSTILE_SIGSYS_HANDLER = 21,
	HOSTILE_INT80 = 22,
	HOSTILE_X32 = 23,
	HOSTILE_IOCTL_TIOCSTI = 24,
	HOSTILE_OOM = 25,
	HOSTILE_THREAD_BOMB = 26,
	HOSTILE_FORK_BOMB = 27,
	HOSTILE_SPIN = 28,
	HOSTILE_SEGV = 29,
	HOSTILE_ABORT = 30,
	HOSTILE_STACK_OVERFLOW = 31,
	HOSTILE_EXIT = 32,
	HOSTILE_HUGE_REPLY = 33,
	HOSTILE_SIZED_REPLY = 34,
};

/* y[0] when a command cannot run on this architecture (int $0x80, x32). */
#define HOSTILE_UNSUPPORTED (-1000)
/* Most threads the thread bomb starts, and most forks the fork bomb tries,
 * so that a sandbox without a pids limit does not take the machine down. */
#define HOSTILE_BOMB_CAP 4096
/* The file HOSTILE_OPEN_CREATE tries to create, with the worker's pid. */
#define HOSTILE_CREATE_PATH "/tmp/corral-hostile-%d"

#endif
