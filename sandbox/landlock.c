/*
 * landlock.c - no-new-privs, then a Landlock domain: read access beneath
 * the system paths and the paths the daemon names, nothing writable, no
 * TCP bind or connect (ABI 4), and no signals or abstract unix sockets
 * outside the worker (ABI 6). Rights the running kernel does not know are
 * left out, so the domain is as strong as the kernel allows; the report
 * names the ABI used.
 *
 * The structures are declared here rather than taken from <linux/landlock.h>
 * because the build machine's headers may predate the kernel the worker
 * runs on; the kernel accepts each by its size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#define LL_CREATE_RULESET_VERSION (1u << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_FS_EXECUTE (1ull << 0)
#define LL_FS_READ_FILE (1ull << 2)
#define LL_FS_READ_DIR (1ull << 3)
#define LL_FS_ALL_V1 ((1ull << 13) - 1)
#define LL_FS_REFER (1ull << 13)     /* ABI 2 */
#define LL_FS_TRUNCATE (1ull << 14)  /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ull << 15) /* ABI 5 */
#define LL_NET_BIND_TCP (1ull << 0)
#define LL_NET_CONNECT_TCP (1ull << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ull << 0)
#define LL_SCOPE_SIGNAL (1ull << 1)

static int allow_beneath(int ruleset, const char *path, char *note, size_t n)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	struct stat st;
	struct ll_path_beneath rule = {.parent_fd = fd};
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		rule.allowed_access = LL_FS_READ_FILE | LL_FS_READ_DIR;
	else
		rule.allowed_access = LL_FS_READ_FILE;
	int rc = (int)syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0);
	close(fd);
	if (rc != 0)
		snprintf(note, n, "landlock rule for %s: %s", path, strerror(errno));
	return rc;
}

int sandbox_landlock(const sandbox_spec *s, char *note, size_t n)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(note, n, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	if (abi < 1) {
		snprintf(note, n, "off: no Landlock in this kernel (%s); no-new-privs on",
		    strerror(errno));
		return 0;
	}
	struct ll_ruleset_attr attr = {.handled_access_fs = LL_FS_ALL_V1};
	size_t attr_size = sizeof attr.handled_access_fs;
	if (abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		attr_size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		attr_size = sizeof attr;
	}
	int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (ruleset < 0) {
		snprintf(note, n, "landlock_create_ruleset: %s", strerror(errno));
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sandbox_n_system_paths; i++)
		rc = allow_beneath(ruleset, sandbox_system_paths[i], note, n);
	for (size_t i = 0; rc == 0 && i < s->n_ro_paths; i++)
		rc = allow_beneath(ruleset, s->ro_paths[i], note, n);
	if (rc == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
		snprintf(note, n, "landlock_restrict_self: %s", strerror(errno));
		rc = -1;
	}
	close(ruleset);
	if (rc == 0)
		snprintf(note, n, "on: ABI %ld, read-only beneath %zu paths, nothing "
		    "writable%s%s; no-new-privs on", abi,
		    sandbox_n_system_paths + s->n_ro_paths,
		    abi >= 4 ? ", no TCP" : "", abi >= 6 ? ", no signals out" : "");
	return rc;
}
