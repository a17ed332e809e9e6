/* sandbox.c - the layers before dlopen, in order (sandbox.h says why this
 * order), each recorded in the report the daemon shows. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sandbox.h"
#include "seccomp_policy.h"

const char *sandbox_layer_name(enum sandbox_layer l)
{
	static const char *const names[SANDBOX_N_LAYERS] = {
	    [SANDBOX_HYGIENE] = "process", [SANDBOX_RLIMITS] = "rlimits",
	    [SANDBOX_NAMESPACES] = "namespaces", [SANDBOX_IDENTITY] = "identity",
	    [SANDBOX_LANDLOCK] = "landlock", [SANDBOX_SECCOMP] = "seccomp"};
	return l < SANDBOX_N_LAYERS ? names[l] : "?";
}

/* The kernel clears the death signal when a process changes its user or
 * group: set it again, and check the daemon did not go meanwhile. */
static int rearm_death_signal(const sandbox_spec *s, char *note, size_t n)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
		snprintf(note, n, "PR_SET_PDEATHSIG: %s", strerror(errno));
		return -1;
	}
	if (s->parent > 0 && getppid() != s->parent) {
		snprintf(note, n, "the daemon is gone");
		return -1;
	}
	return 0;
}

int sandbox_enter(const sandbox_spec *s, int report_fd, int violation_exit,
    sandbox_report *rep, char *err, size_t errlen)
{
	memset(rep, 0, sizeof *rep);
	char(*note)[sizeof rep->layer[0]] = rep->layer;
	const size_t n = sizeof rep->layer[0];
	enum sandbox_layer failed = SANDBOX_N_LAYERS;
	if (sandbox_hygiene(s->keep_fd_max, note[SANDBOX_HYGIENE], n) != 0)
		failed = SANDBOX_HYGIENE;
	else if (sandbox_rlimits(s, note[SANDBOX_RLIMITS], n) != 0)
		failed = SANDBOX_RLIMITS;
	else if (sandbox_namespaces(s, note[SANDBOX_NAMESPACES], n) < 0)
		failed = SANDBOX_NAMESPACES;
	else if (sandbox_identity(s, note[SANDBOX_IDENTITY], n) != 0 ||
	    rearm_death_signal(s, note[SANDBOX_IDENTITY], n) != 0)
		failed = SANDBOX_IDENTITY;
	else if (sandbox_landlock(s, note[SANDBOX_LANDLOCK], n) != 0)
		failed = SANDBOX_LANDLOCK;
	else if (sandbox_violation_reporter(report_fd, violation_exit,
		     note[SANDBOX_SECCOMP], n) != 0 ||
	    sandbox_apply_stage1(note[SANDBOX_SECCOMP], n) != 0)
		failed = SANDBOX_SECCOMP;
	if (failed != SANDBOX_N_LAYERS) {
		snprintf(err, errlen, "%s: %s", sandbox_layer_name(failed), note[failed]);
		return -1;
	}
	snprintf(note[SANDBOX_SECCOMP], n, "on: stage 1 (denylist) before the plugin");
	return 0;
}
