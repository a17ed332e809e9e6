/*
 * namespaces.c - a worker's private world: no network (an empty network
 * namespace), its own IPC and host name, and a file-system view that holds
 * only the system libraries, a few device nodes and the paths the daemon
 * names (plugin folder, model version, socket folder), all read-only.
 *
 * The view is built the way bubblewrap builds one: a tmpfs becomes the
 * root with the old root under it, the chosen paths are bound from the old
 * root into a second tmpfs, and that one becomes the root once the old root
 * is detached. Paths keep their names, so every absolute path the daemon
 * passes (model folder, plugin, library run paths) still works inside.
 *
 * As root the worker needs no user namespace; otherwise it creates one
 * first (mapping only its own uid and gid), and where the kernel does not
 * allow that the layer is reported off.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"

/* What any dynamically linked worker needs, wherever it is present. */
const char *const sandbox_system_paths[] = {
	"/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin",
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
	"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random",
	/* CPU topology and features, which thread pools and kernel
	 * dispatchers (ONNX Runtime's cpuinfo) read at load */
	"/sys/devices/system/cpu", "/proc/cpuinfo",
};
const size_t sandbox_n_system_paths =
    sizeof sandbox_system_paths / sizeof *sandbox_system_paths;

static int fail(char *note, size_t n, const char *what, const char *path)
{
	snprintf(note, n, "%s %s: %s", what, path ? path : "", strerror(errno));
	return -1;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t len = (ssize_t)strlen(text);
	int rc = write(fd, text, (size_t)len) == len ? 0 : -1;
	close(fd);
	return rc;
}

/* mkdir -p of every component of `path` below the current root. */
static int make_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(path, 0755);
		*p = '/';
		if (rc != 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* The flags a read-only remount must keep: in a user namespace the kernel
 * refuses to clear nosuid, nodev, noexec or the atime mode of a mount it
 * inherited. */
static unsigned long kept_flags(const char *path)
{
	struct statvfs sv;
	if (statvfs(path, &sv) != 0)
		return 0;
	unsigned long f = 0;
	if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
	return f;
}

/* Show /oldroot<path> read-only at /newroot<path>. Absent paths are
 * skipped; a symlink is copied as a symlink (its target must be listed
 * too, as /lib -> usr/lib is). */
static int expose(const char *path, char *note, size_t n)
{
	char src[PATH_MAX], dst[PATH_MAX];
	if (path[0] != '/' ||
	    snprintf(src, sizeof src, "/oldroot%s", path) >= (int)sizeof src ||
	    snprintf(dst, sizeof dst, "/newroot%s", path) >= (int)sizeof dst) {
		errno = ENAMETOOLONG;
		return fail(note, n, "path", path);
	}
	struct stat st;
	if (lstat(src, &st) != 0)
		return errno == ENOENT ? 0 : fail(note, n, "stat", path);
	if (make_parents(dst) != 0)
		return fail(note, n, "mkdir for", path);
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t len = readlink(src, target, sizeof target - 1);
		if (len < 0)
			return fail(note, n, "readlink", path);
		target[len] = '\0';
		if (symlink(target, dst) != 0 && errno != EEXIST)
			return fail(note, n, "symlink", path);
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0755) != 0 && errno != EEXIST)
			return fail(note, n, "mkdir", path);
	} else {
		int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return fail(note, n, "create", path);
		close(fd);
	}
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) != 0)
		return fail(note, n, "bind", path);
	if (mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(dst),
		NULL) != 0)
		return fail(note, n, "read-only remount of", path);
	return 0;
}

/* Is `path` at or beneath `dir`? */
static bool beneath(const char *path, const char *dir)
{
	size_t len = strlen(dir);
	return strncmp(path, dir, len) == 0 && (path[len] == '/' || path[len] == '\0');
}

/* Expose a path unless an earlier one already holds it (a model under
 * /usr/share, say: /usr is already there, read-only). */
static int expose_once(const sandbox_spec *s, size_t index, char *note, size_t n)
{
	const char *path = index < sandbox_n_system_paths
	    ? sandbox_system_paths[index] : s->ro_paths[index - sandbox_n_system_paths];
	for (size_t j = 0; j < index; j++) {
		const char *prev = j < sandbox_n_system_paths
		    ? sandbox_system_paths[j] : s->ro_paths[j - sandbox_n_system_paths];
		if (beneath(path, prev))
			return 0;
	}
	return expose(path, note, n);
}

static int build_view(const sandbox_spec *s, char *note, size_t n)
{
	/* Nothing done here may propagate back to the host's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return fail(note, n, "make mounts private", "/");
	if (mount("corral", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
		return fail(note, n, "tmpfs on", "/tmp");
	if (chdir("/tmp") != 0 || mkdir("newroot", 0755) != 0 || mkdir("oldroot", 0755) != 0)
		return fail(note, n, "mkdir in", "/tmp");
	if (mount("corral", "newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
		return fail(note, n, "tmpfs on", "newroot");
	if (syscall(SYS_pivot_root, "/tmp", "/tmp/oldroot") != 0)
		return fail(note, n, "pivot_root", "/tmp");
	if (chdir("/") != 0)
		return fail(note, n, "chdir", "/");
	for (size_t i = 0; i < sandbox_n_system_paths + s->n_ro_paths; i++)
		if (expose_once(s, i, note, n) != 0)
			return -1;
	/* Drop the old root, make the new one the root, and freeze it. */
	if (umount2("/oldroot", MNT_DETACH) != 0)
		return fail(note, n, "detach", "/oldroot");
	if (chdir("/newroot") != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
	    umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
		return fail(note, n, "pivot_root", "/newroot");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
		return fail(note, n, "read-only remount of", "/");
	return 0;
}

int sandbox_namespaces(const sandbox_spec *s, char *note, size_t n)
{
	bool user_ns = geteuid() != 0;
	if (user_ns) {
		uid_t uid = geteuid();
		gid_t gid = getegid();
		if (unshare(CLONE_NEWUSER) != 0) {
			snprintf(note, n, "off: this kernel does not let an unprivileged "
			    "process create a user namespace (%s)", strerror(errno));
			return 0;
		}
		char map[64];
		snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
		if (write_file("/proc/self/setgroups", "deny") != 0 ||
		    write_file("/proc/self/uid_map", map) != 0)
			return fail(note, n, "uid map", NULL);
		snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
		if (write_file("/proc/self/gid_map", map) != 0)
			return fail(note, n, "gid map", NULL);
	}
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0) {
		if (!user_ns && errno == EPERM) {
			snprintf(note, n, "off: no privilege to create namespaces (%s)",
			    strerror(errno));
			return 0;
		}
		return fail(note, n, "unshare", NULL);
	}
	static const char host[] = "corral-worker";
	if (sethostname(host, sizeof host - 1) != 0)
		return fail(note, n, "sethostname", NULL);
	if (build_view(s, note, n) != 0)
		return -1;
	snprintf(note, n, "on: %smount (read-only view), network (none), ipc, uts",
	    user_ns ? "user, " : "");
	return 1;
}
