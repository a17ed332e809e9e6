/*
 * exit_cause.h - why a worker ended, in one of a few stable classes that
 * the log, `status` and error replies name and that are counted per
 * version.
 */
#ifndef CORRAL_EXIT_CAUSE_H
#define CORRAL_EXIT_CAUSE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum exit_cause {
	EXIT_CLEAN,        /* stopped by the daemon, or exited 0 on its own */
	EXIT_VIOLATION,    /* the seccomp filter trapped or killed it */
	EXIT_OUT_OF_MEMORY, /* the cgroup's OOM killer */
	EXIT_CPU_LIMIT,    /* RLIMIT_CPU */
	EXIT_TIMEOUT,      /* killed by the daemon: a request ran past its deadline */
	EXIT_CRASH,        /* any other signal */
	EXIT_START_FAILURE, /* could not load, confine or connect */
	EXIT_HUNG,         /* killed by the daemon: idle, it missed its heartbeat */
	EXIT_N_CAUSES,
} exit_cause;

/* "clean_exit", "sandbox_violation", ... (the `status` keys). */
const char *exit_cause_name(exit_cause c);

/* What the daemon knew before the exit: whether it killed the worker
 * itself and why, whether the memory group saw an OOM kill, and the line
 * the worker wrote to its report pipe (may be ""). */
typedef struct exit_facts {
	int status;           /* from waitpid */
	bool killed_for_timeout;
	bool killed_for_heartbeat;
	bool stopped_by_daemon; /* shutdown */
	bool oom_killed;
	const char *report;
} exit_facts;

/* Classify and describe in text: "sandbox violation: execve (syscall 59,
 * arch x86_64)", "out of memory (cgroup limit)", "crashed: signal 11
 * (Segmentation fault)", "exited with code 0", ... */
exit_cause exit_classify(const exit_facts *f, char *text, size_t n);

/* The syscall a violation's text names ("execve" from "sandbox violation:
 * execve (syscall 59, arch x86_64)"), into out; "unknown" when it names
 * none (killed outright, unreported). */
void exit_violation_syscall(const char *text, char *out, size_t n);

#endif
