/*
 * identity.c - who the worker is: an unprivileged user and group when the
 * daemon runs as root (a worker never runs as root), no supplementary
 * groups, and no capabilities at all: effective, permitted, inheritable,
 * ambient and the bounding set are emptied, so nothing can bring one back.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"

static int fail(char *note, size_t n, const char *what)
{
	snprintf(note, n, "%s: %s", what, strerror(errno));
	return -1;
}

/* Empty the bounding and ambient sets, so no exec or setuid can bring a
 * capability back. Needs CAP_SETPCAP, which a root worker and a worker in
 * its own user namespace have at this point; an unprivileged worker
 * without one has nothing to drop. */
static int drop_bounding(char *note, size_t n)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) != 0)
		return fail(note, n, "capget");
	if (data[0].effective & (1u << CAP_SETPCAP))
		/* Past the kernel's last capability the call says EINVAL. */
		for (int c = 0; c < 64; c++)
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
				return fail(note, n, "PR_CAPBSET_DROP");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		return fail(note, n, "PR_CAP_AMBIENT_CLEAR_ALL");
	return 0;
}

/* Empty the effective, permitted and inheritable sets. */
static int clear_capabilities(char *note, size_t n)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	if (syscall(SYS_capset, &hdr, data) != 0)
		return fail(note, n, "capset");
	return 0;
}

int sandbox_identity(const sandbox_spec *s, char *note, size_t n)
{
	if (s->set_identity) {
		if (s->uid == 0 || s->gid == 0) {
			errno = EINVAL;
			return fail(note, n, "refusing to run a worker as root");
		}
		if (setgroups(0, NULL) != 0)
			return fail(note, n, "setgroups");
		if (setresgid(s->gid, s->gid, s->gid) != 0)
			return fail(note, n, "setresgid");
		/* Drop the bounding set while root still holds CAP_SETPCAP;
		 * setresuid then clears the rest (no PR_SET_KEEPCAPS). */
		if (drop_bounding(note, n) != 0)
			return -1;
		if (setresuid(s->uid, s->uid, s->uid) != 0)
			return fail(note, n, "setresuid");
	} else if (drop_bounding(note, n) != 0) {
		return -1;
	}
	if (clear_capabilities(note, n) != 0)
		return -1;
	/* Check rather than trust: no uid 0 anywhere, no capability left. */
	uid_t r, e, sv;
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	if (getresuid(&r, &e, &sv) != 0 || syscall(SYS_capget, &hdr, data) != 0)
		return fail(note, n, "identity check");
	if (s->set_identity && (r == 0 || e == 0 || sv == 0)) {
		snprintf(note, n, "still root after setresuid");
		return -1;
	}
	for (int i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable) {
			snprintf(note, n, "capabilities remain after dropping them");
			return -1;
		}
	if (s->set_identity)
		snprintf(note, n, "on: uid %u gid %u, no capabilities", (unsigned)e,
		    (unsigned)getegid());
	else
		snprintf(note, n, "off: corrald is not root, so the worker keeps its "
		    "user (uid %u gid %u); no capabilities", (unsigned)e, (unsigned)getegid());
	return 0;
}
