/* sandbox.c - the layers before dlopen, in order (sandbox.h says why this
 * order), each recorded in the report the daemon shows. */
#include <stdio.h>
#include <string.h>

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
	else if (sandbox_identity(s, note[SANDBOX_IDENTITY], n) != 0)
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
