/* rlimits.c - per-process backstops: no core files, no file writes, few
 * descriptors, and the CPU time and address space the model config sets. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "sandbox.h"

static int set_limit(int what, rlim_t v, const char *name, char *note, size_t n)
{
	struct rlimit r = {v, v};
	if (setrlimit(what, &r) != 0) {
		snprintf(note, n, "%s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

int sandbox_rlimits(const sandbox_spec *s, char *note, size_t n)
{
	if (set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE", note, n) ||
	    set_limit(RLIMIT_FSIZE, 0, "RLIMIT_FSIZE", note, n) ||
	    set_limit(RLIMIT_NOFILE, s->open_files, "RLIMIT_NOFILE", note, n))
		return -1;
	/* CPU: the soft limit sends SIGXCPU, which the daemon reports as the
	 * CPU limit; the hard limit one second later is SIGKILL. */
	if (s->cpu_seconds > 0) {
		struct rlimit r = {s->cpu_seconds, s->cpu_seconds + 1};
		if (setrlimit(RLIMIT_CPU, &r) != 0) {
			snprintf(note, n, "RLIMIT_CPU: %s", strerror(errno));
			return -1;
		}
	}
	if (s->address_space > 0 &&
	    set_limit(RLIMIT_AS, s->address_space, "RLIMIT_AS", note, n))
		return -1;
	char cpu[32] = "none", as[32] = "none";
	if (s->cpu_seconds > 0)
		snprintf(cpu, sizeof cpu, "%llus", (unsigned long long)s->cpu_seconds);
	if (s->address_space > 0)
		snprintf(as, sizeof as, "%lluB", (unsigned long long)s->address_space);
	snprintf(note, n, "on: core 0, fsize 0, nofile %llu, cpu %s, as %s",
	    (unsigned long long)s->open_files, cpu, as);
	return 0;
}
