/* exit_cause.c - classify a worker's end (exit_cause.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "../worker/worker_exit.h"
#include "exit_cause.h"

const char *exit_cause_name(exit_cause c)
{
	static const char *const names[EXIT_N_CAUSES] = {
	    [EXIT_CLEAN] = "clean_exit", [EXIT_VIOLATION] = "sandbox_violation",
	    [EXIT_OUT_OF_MEMORY] = "out_of_memory", [EXIT_CPU_LIMIT] = "cpu_limit",
	    [EXIT_TIMEOUT] = "request_timeout", [EXIT_CRASH] = "crash",
	    [EXIT_START_FAILURE] = "start_failure", [EXIT_HUNG] = "hung"};
	return c < EXIT_N_CAUSES ? names[c] : "unknown";
}

static exit_cause classify_exit_code(int code, const char *report, char *text, size_t n)
{
	static const char *const meanings[] = {
	    [WORKER_EXIT_USAGE - 64] = "bad worker arguments",
	    [WORKER_EXIT_PLUGIN - 64] = "plugin could not be loaded",
	    [WORKER_EXIT_LOAD - 64] = "model could not be loaded",
	    [WORKER_EXIT_CONFINE - 64] = "confinement could not be applied",
	    [WORKER_EXIT_CONNECT - 64] = "could not connect to the daemon",
	    [WORKER_EXIT_SERVE - 64] = "request loop failed",
	};
	if (code == WORKER_EXIT_VIOLATION) {
		/* The report is the handler's own line, "sandbox violation: ..." */
		if (strncmp(report, "sandbox violation", 17) == 0)
			snprintf(text, n, "%s", report);
		else
			snprintf(text, n, "sandbox violation (unreported)");
		return EXIT_VIOLATION;
	}
	const char *what = code == WORKER_EXIT_EXEC ? "worker executable could not be run"
	    : code == WORKER_EXIT_SETUP ? "the worker process could not be set up (cgroups, descriptors)"
	    : code >= 64 && code < WORKER_EXIT_VIOLATION ? meanings[code - 64]
							  : NULL;
	if (what == NULL) {
		snprintf(text, n, "exited with code %d", code);
		return code == 0 ? EXIT_CLEAN : EXIT_CRASH;
	}
	snprintf(text, n, "exit code %d: %s%s%s%s", code, what, report[0] ? " (" : "",
	    report, report[0] ? ")" : "");
	return code == WORKER_EXIT_SERVE ? EXIT_CRASH : EXIT_START_FAILURE;
}

exit_cause exit_classify(const exit_facts *f, char *text, size_t n)
{
	if (WIFEXITED(f->status))
		return classify_exit_code(WEXITSTATUS(f->status), f->report, text, n);
	int sig = WTERMSIG(f->status);
	if (f->killed_for_timeout) {
		snprintf(text, n, "request timeout: killed while a request ran past its deadline");
		return EXIT_TIMEOUT;
	}
	if (f->killed_for_heartbeat) {
		snprintf(text, n, "hung: killed after it missed its heartbeat while idle");
		return EXIT_HUNG;
	}
	if (f->oom_killed) {
		snprintf(text, n, "out of memory: killed at the memory limit of its cgroup");
		return EXIT_OUT_OF_MEMORY;
	}
	if (sig == SIGSYS) {
		/* Killed outright: a stage's KILL action (a replaced SIGSYS
		 * handler) or a trap while SIGSYS was blocked. */
		snprintf(text, n, "sandbox violation: killed by the seccomp filter (SIGSYS)");
		return EXIT_VIOLATION;
	}
	if (sig == SIGXCPU) {
		snprintf(text, n, "CPU time limit: killed by RLIMIT_CPU (SIGXCPU)");
		return EXIT_CPU_LIMIT;
	}
	snprintf(text, n, "%s: signal %d (%s)", f->stopped_by_daemon ? "stopped" : "crashed",
	    sig, strsignal(sig));
	return f->stopped_by_daemon ? EXIT_CLEAN : EXIT_CRASH;
}

void exit_violation_syscall(const char *text, char *out, size_t n)
{
	static const char prefix[] = "sandbox violation: ";
	const char *name = strncmp(text, prefix, sizeof prefix - 1) == 0
	    ? text + sizeof prefix - 1 : NULL;
	size_t len = name ? strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") : 0;
	if (len == 0 || strncmp(name + len, " (syscall ", 10) != 0)
		snprintf(out, n, "unknown");
	else
		snprintf(out, n, "%.*s", (int)len, name);
}
