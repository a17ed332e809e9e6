/*
 * worker_exit.h - corral-worker's exit codes, which the daemon reads to
 * tell a permanent failure (never restart) from a crash (restart).
 */
#ifndef CORRAL_WORKER_EXIT_H
#define CORRAL_WORKER_EXIT_H

enum worker_exit {
	WORKER_EXIT_OK = 0,      /* told to stop, or the daemon went away */
	WORKER_EXIT_USAGE = 64,  /* bad command line: a daemon bug */
	WORKER_EXIT_PLUGIN = 65, /* dlopen failed or the ABI check refused it */
	WORKER_EXIT_LOAD = 66,   /* the plugin could not load the model */
	WORKER_EXIT_CONFINE = 67, /* confinement could not be applied */
	WORKER_EXIT_CONNECT = 68, /* could not reach the daemon's socket */
	WORKER_EXIT_SERVE = 69,   /* the request loop failed */
	WORKER_EXIT_VIOLATION = 70, /* the seccomp filter trapped a call; the
				       report pipe names it */
	/* Set by the daemon's forked child before exec, never by the worker */
	WORKER_EXIT_SETUP = 126,  /* joining the cgroups or placing the
				     descriptors failed: may pass, retried */
	WORKER_EXIT_EXEC = 127,   /* the worker executable could not be run */
};

/* The descriptor on which a worker finds the write end of its report pipe:
 * one line saying why it could not serve, read by the daemon at exit. */
#define WORKER_REPORT_FD 3

/* Permanent failures: restarting would fail the same way. */
static inline int worker_exit_is_permanent(int code)
{
	return code == WORKER_EXIT_USAGE || code == WORKER_EXIT_PLUGIN ||
	    code == WORKER_EXIT_LOAD || code == WORKER_EXIT_CONFINE;
}

#endif
