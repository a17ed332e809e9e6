/*
 * hostile - a test plugin whose every request tries one thing a plugin
 * must not do (or one way to break its worker), so hostile_test can watch
 * the sandbox and the supervisor deal with it. Built against the SDK only.
 *
 * Input "x" FP64 [-1]; output "y" FP64 [n] (n = the input's length). x[0]
 * is a command (hostile.h); when the command returns, y = 2 * x and then
 * y[0] and y[1] (where n allows) carry its result. Most calls go through
 * syscall(2) so that glibc (or a sanitizer's interceptor) neither hides
 * nor reroutes them. For a call that should have been fatal, y[0] is its
 * errno (0 when it succeeded) and y[1] its return value, for diagnosis.
 *
 *   cmd  does                                    the sandbox should
 *    0   nothing                                 serve: y = 2 * x
 *    1   execve("/bin/true")                     kill: execve
 *    2   fork() (glibc: clone without a thread)  y[0] = errno (EPERM)
 *    3   syscall(SYS_fork)                       y[0] = errno (EPERM)
 *    4   clone3(exit_signal SIGCHLD), then       y[0] = clone3's errno
 *        pthread_create + join                     (ENOSYS), y[1] =
 *                                                  pthread_create's result (0)
 *    5   open("/etc/passwd", O_RDONLY)           y[0] = errno (EACCES)
 *    6   open("/tmp/corral-hostile-PID",         y[0] = errno (EACCES),
 *        O_CREAT | O_WRONLY)                       y[1] = PID (to clean up)
 *    7   socket(AF_INET)                         kill: socket
 *    8   socket(AF_INET6)                        kill: socket
 *    9   socket(AF_NETLINK)                      kill: socket
 *   10   socket(AF_PACKET)                       kill: socket
 *   11   socket(AF_UNIX) + connect to the path   kill: socket
 *        whose bytes are x[1], x[2], ... (to 0)
 *   12   kill(daemon, SIGKILL)                   kill: kill
 *   13   ptrace(PTRACE_ATTACH, daemon)           kill: ptrace
 *   14   process_vm_readv(daemon)                kill: process_vm_readv
 *   15   bpf(BPF_PROG_LOAD, "r0 = 0; exit")      kill: bpf
 *   16   io_uring_setup(8)                       kill: io_uring_setup
 *   17   mount("none", "/tmp", "tmpfs")          kill: mount
 *   18   unshare(CLONE_NEWUSER)                  kill: unshare
 *   19   keyctl(KEYCTL_GET_KEYRING_ID, session)  kill: keyctl
 *   20   mmap a RW page, mprotect it R+X         kill: mprotect
 *   21   sigaction(SIGSYS, handler), execve      kill (sandbox violation)
 *   22   int $0x80 with eax = 20 (i386 getpid)   kill (sandbox violation)
 *   23   syscall(__X32_SYSCALL_BIT | getpid)     kill (sandbox violation)
 *   24   ioctl(0, TIOCSTI | 0xffffffff00000000,  y[0] = errno (ENOTTY);
 *        "x"), the command's high bits set         the worker keeps serving
 *   25   malloc and touch 16 MiB at a time, up   killed by the memory limit
 *        to 4 GiB (then free; y[0] = MiB)          ("out of memory")
 *   26   start idle threads until                y[0] = threads started,
 *        pthread_create fails (at most 4096)       y[1] = the failure's error;
 *                                                  they stay, the worker serves
 *   27   fork() until it fails (children exit    y[0] = errno (EPERM; -1 if
 *        at once; at most 4096)                    4096 forks worked), y[1] = forks
 *   28   spin forever                            the request times out; the
 *                                                  worker is killed, restarted
 *   29   write to address 16                     SIGSEGV
 *   30   abort()                                 SIGABRT
 *   31   unbounded recursion                     SIGSEGV (stack overflow)
 *   32   exit(0) inside infer                    the worker exits
 *   33   output_alloc of 2^40 elements           an error reply (NO_MEMORY
 *                                                  when output_alloc says NULL)
 *   34   a reply of x[1] elements (y[i] = i)     as the reply limit says
 *
 * "daemon" is the worker's parent as load() saw it (getppid is not part of
 * the serving policy); commands 12 and 13 do nothing when it is pid 1.
 * Were a fatal call let through, the command undoes what it can (closes
 * the fd, unmounts, detaches) so a broken sandbox does not also break the
 * test machine.
 *
 * Built more times, as separate plugins, with one of these defined:
 *   HOSTILE_CTOR_EXECVE  a constructor execve()s /bin/true at dlopen: the
 *                        worker must be stopped before it ever serves
 *   HOSTILE_BAD_MAGIC    the descriptor's magic is wrong
 *   HOSTILE_BAD_MAJOR    ABI major is one more than the SDK's
 *   HOSTILE_BAD_MINOR    ABI minor is one more than the SDK's (newer than
 *                        any host built with this SDK)
 *   HOSTILE_BAD_SIZE     struct_size is smaller than ABI 1.0's descriptor
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/keyctl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <corral/plugin.h>

#include "hostile.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
/* io_uring_setup: 425 in every architecture's table since 5.1. */
#define HOSTILE_NR_IO_URING_SETUP 425

typedef struct hostile {
	const corral_host_api *host;
	pid_t parent; /* the daemon, as load() saw it */
} hostile;

static const int64_t x_shape[] = {-1};
static const corral_tensor_spec inputs[] = {{"x", CORRAL_DT_FP64, 1, x_shape, 0, NULL}};
static const corral_tensor_spec outputs[] = {{"y", CORRAL_DT_FP64, 1, x_shape, 0, NULL}};

static void exec_true(void)
{
	char arg0[] = "true";
	char *argv[] = {arg0, NULL};
	syscall(SYS_execve, "/bin/true", argv, environ);
}

#ifdef HOSTILE_CTOR_EXECVE
/* Runs inside dlopen, before load() and before any confinement. */
__attribute__((constructor)) static void hostile_ctor(void)
{
	exec_true();
}
#endif

/* ------------------------------------------------------------ threads --- */

/* Idle threads wait on a condition that never comes (futex only). */
static pthread_mutex_t idle_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cv = PTHREAD_COND_INITIALIZER;

static void *idle_thread(void *arg)
{
	pthread_mutex_lock(&idle_mu);
	for (;;)
		pthread_cond_wait(&idle_cv, &idle_mu);
	return arg;
}

static void *quick_thread(void *arg)
{
	return arg;
}

/* -------------------------------------------------------------- helpers --- */

/* What a command that returned reports: y[0], y[1] when `set`. */
typedef struct outcome {
	double v[2];
	int set; /* how many of v to write */
} outcome;

/* y[0] = errno of a failed call (0 when it worked), y[1] = its return. */
static void note_call(outcome *o, long ret, int err)
{
	o->v[0] = ret < 0 ? err : 0;
	o->v[1] = (double)ret;
	o->set = 2;
}

static double x_at(const corral_tensor *t, int64_t i)
{
	double v;
	memcpy(&v, (const char *)t->data + i * 8, 8);
	return v;
}

static volatile sig_atomic_t sigsys_caught;

static void on_sigsys(int sig)
{
	sigsys_caught = 1;
}

/* Each frame holds a volatile array and the call is not in tail position,
 * so the compiler can neither drop the frames nor turn this into a loop;
 * the base case is never reached before the stack runs out. */
static int recurse(int depth)
{
	volatile char frame[1024];
	frame[(size_t)depth % sizeof frame] = (char)depth;
	if (depth == INT_MAX)
		return frame[0];
	return recurse(depth + 1) + frame[(size_t)depth % sizeof frame];
}

/* Kept in a global so the allocations and their writes are observable and
 * cannot be optimised away. */
#define OOM_STEP ((size_t)16 << 20)
#define OOM_BLOCKS 256 /* 4 GiB */
static char *volatile oom_blocks[OOM_BLOCKS];
static volatile unsigned long spin_count;
static char vm_readv_target[8];

/* ---------------------------------------------------------- commands --- */

static void cmd_clone3(outcome *o)
{
	/* struct clone_args, version 0 (64 bytes); its own copy, as
	 * <linux/sched.h> clashes with <sched.h>. */
	struct {
		uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
		    stack_size, tls;
	} ca;
	memset(&ca, 0, sizeof ca);
	ca.exit_signal = SIGCHLD;
	long ret = syscall(SYS_clone3, &ca, sizeof ca);
	if (ret == 0)
		syscall(SYS_exit_group, 0); /* a child: leave at once */
	o->v[0] = ret < 0 ? errno : 0;
	pthread_t t;
	int rc = pthread_create(&t, NULL, quick_thread, NULL);
	if (rc == 0)
		pthread_join(t, NULL);
	o->v[1] = rc;
	o->set = 2;
}

static void cmd_socket_unix(const corral_tensor *x, int64_t n, outcome *o)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	for (int64_t i = 1; i < n && (size_t)i < sizeof a.sun_path; i++) {
		int c = (int)x_at(x, i);
		if (c <= 0 || c > 255)
			break;
		a.sun_path[i - 1] = (char)c;
	}
	long fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		note_call(o, fd, errno);
		return;
	}
	long ret = syscall(SYS_connect, fd, &a, sizeof a);
	note_call(o, ret, errno);
	close((int)fd);
}

static void cmd_ptrace(const hostile *m, outcome *o)
{
	if (m->parent <= 1)
		return;
	long ret = syscall(SYS_ptrace, PTRACE_ATTACH, m->parent, 0, 0);
	int e = errno;
	if (ret == 0) {
		/* Let the daemon go again: wait for its stop, then detach. */
		int st;
		waitpid(m->parent, &st, __WALL);
		syscall(SYS_ptrace, PTRACE_DETACH, m->parent, 0, 0);
	}
	note_call(o, ret, e);
}

static void cmd_bpf(outcome *o)
{
	struct bpf_insn prog[2];
	memset(prog, 0, sizeof prog);
	prog[0].code = BPF_ALU64 | BPF_MOV | BPF_K; /* r0 = 0 */
	prog[0].dst_reg = BPF_REG_0;
	prog[1].code = BPF_JMP | BPF_EXIT;
	static const char license[] = "GPL";
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insn_cnt = 2;
	attr.insns = (uint64_t)(uintptr_t)prog;
	attr.license = (uint64_t)(uintptr_t)license;
	long ret = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
	note_call(o, ret, errno);
	if (ret >= 0)
		close((int)ret);
}

static void cmd_mprotect_exec(outcome *o)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		note_call(o, -1, errno);
		return;
	}
	memset(p, 0xc3, 4096); /* x86 `ret`, should anyone jump there */
	long ret = syscall(SYS_mprotect, p, 4096, PROT_READ | PROT_EXEC);
	note_call(o, ret, errno);
	munmap(p, 4096);
}

static void cmd_oom(outcome *o)
{
	int n = 0;
	int e = 0;
	for (; n < OOM_BLOCKS; n++) {
		char *p = malloc(OOM_STEP);
		if (p == NULL) {
			e = errno;
			break;
		}
		memset(p, n + 1, OOM_STEP);
		oom_blocks[n] = p;
	}
	for (int i = 0; i < n; i++) {
		free(oom_blocks[i]);
		oom_blocks[i] = NULL;
	}
	o->v[0] = (double)n * (double)(OOM_STEP >> 20);
	o->v[1] = e;
	o->set = 2;
}

static void cmd_thread_bomb(outcome *o)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	int count = 0, rc = 0;
	while (count < HOSTILE_BOMB_CAP) {
		pthread_t t;
		rc = pthread_create(&t, &attr, idle_thread, NULL);
		if (rc != 0)
			break;
		pthread_detach(t);
		count++;
	}
	pthread_attr_destroy(&attr);
	o->v[0] = count;
	o->v[1] = rc;
	o->set = 2;
}

static void cmd_fork_bomb(outcome *o)
{
	int count = 0, e = -1;
	while (count < HOSTILE_BOMB_CAP) {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		if (p < 0) {
			e = errno;
			break;
		}
		count++;
	}
	o->v[0] = e;
	o->v[1] = count;
	o->set = 2;
}

/* Run a command that returns; fatal ones never get back here when the
 * sandbox works. */
static void run_command(hostile *m, int cmd, const corral_tensor *x, int64_t n, outcome *o)
{
	long ret;
	switch (cmd) {
	case HOSTILE_EXECVE:
		exec_true();
		note_call(o, -1, errno);
		break;
	case HOSTILE_FORK: {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		note_call(o, p, errno);
		break;
	}
	case HOSTILE_FORK_RAW:
#ifdef SYS_fork
		ret = syscall(SYS_fork);
		if (ret == 0)
			syscall(SYS_exit_group, 0);
		note_call(o, ret, errno);
#else
		o->v[0] = HOSTILE_UNSUPPORTED;
		o->set = 1;
#endif
		break;
	case HOSTILE_CLONE3:
		cmd_clone3(o);
		break;
	case HOSTILE_OPEN_READ: {
		int fd = open("/etc/passwd", O_RDONLY);
		note_call(o, fd, errno);
		if (fd >= 0)
			close(fd);
		break;
	}
	case HOSTILE_OPEN_CREATE: {
		char path[64];
		snprintf(path, sizeof path, HOSTILE_CREATE_PATH, (int)getpid());
		int fd = open(path, O_CREAT | O_WRONLY, 0600);
		note_call(o, fd, errno);
		o->v[1] = getpid();
		if (fd >= 0)
			close(fd);
		break;
	}
	case HOSTILE_SOCKET_INET:
	case HOSTILE_SOCKET_INET6:
	case HOSTILE_SOCKET_NETLINK:
	case HOSTILE_SOCKET_PACKET: {
		int domain = cmd == HOSTILE_SOCKET_INET ? AF_INET
		    : cmd == HOSTILE_SOCKET_INET6       ? AF_INET6
		    : cmd == HOSTILE_SOCKET_NETLINK     ? AF_NETLINK
							: AF_PACKET;
		int type = domain == AF_INET || domain == AF_INET6 ? SOCK_STREAM : SOCK_RAW;
		int proto = domain == AF_PACKET ? htons(ETH_P_ALL) : 0;
		ret = syscall(SYS_socket, domain, type, proto);
		note_call(o, ret, errno);
		if (ret >= 0)
			close((int)ret);
		break;
	}
	case HOSTILE_SOCKET_UNIX:
		cmd_socket_unix(x, n, o);
		break;
	case HOSTILE_KILL_DAEMON:
		if (m->parent > 1) {
			ret = syscall(SYS_kill, m->parent, SIGKILL);
			note_call(o, ret, errno);
		}
		break;
	case HOSTILE_PTRACE_DAEMON:
		cmd_ptrace(m, o);
		break;
	case HOSTILE_VM_READV_DAEMON: {
		char buf[8];
		struct iovec local = {buf, sizeof buf};
		struct iovec remote = {vm_readv_target, sizeof vm_readv_target};
		ret = syscall(SYS_process_vm_readv, m->parent, &local, 1, &remote, 1, 0);
		note_call(o, ret, errno);
		break;
	}
	case HOSTILE_BPF:
		cmd_bpf(o);
		break;
	case HOSTILE_IO_URING: {
		uint64_t params[16]; /* struct io_uring_params is 120 bytes */
		memset(params, 0, sizeof params);
		ret = syscall(HOSTILE_NR_IO_URING_SETUP, 8, params);
		note_call(o, ret, errno);
		if (ret >= 0)
			close((int)ret);
		break;
	}
	case HOSTILE_MOUNT:
		ret = syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL);
		note_call(o, ret, errno);
		if (ret == 0)
			syscall(SYS_umount2, "/tmp", MNT_DETACH);
		break;
	case HOSTILE_UNSHARE:
		ret = syscall(SYS_unshare, CLONE_NEWUSER);
		note_call(o, ret, errno);
		break;
	case HOSTILE_KEYCTL:
		ret = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
		note_call(o, ret, errno);
		break;
	case HOSTILE_MPROTECT_EXEC:
		cmd_mprotect_exec(o);
		break;
	case HOSTILE_SIGSYS_HANDLER: {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_sigsys;
		sigemptyset(&sa.sa_mask);
		int rc = sigaction(SIGSYS, &sa, NULL);
		exec_true();
		note_call(o, rc, errno);
		o->v[1] = sigsys_caught;
		break;
	}
	case HOSTILE_INT80:
#if defined(__x86_64__)
		__asm__ volatile("int $0x80"
				 : "=a"(ret)
				 : "0"(20L)
				 : "memory", "cc", "r8", "r9", "r10", "r11");
		o->v[0] = ret < 0 ? (double)-ret : 0; /* the kernel returns -errno */
		o->v[1] = (double)ret;
		o->set = 2;
#else
		o->v[0] = HOSTILE_UNSUPPORTED;
		o->set = 1;
#endif
		break;
	case HOSTILE_X32:
#if defined(__x86_64__) && defined(__X32_SYSCALL_BIT)
		ret = syscall(__X32_SYSCALL_BIT | SYS_getpid);
		note_call(o, ret, errno);
#else
		o->v[0] = HOSTILE_UNSUPPORTED;
		o->set = 1;
#endif
		break;
	case HOSTILE_IOCTL_TIOCSTI:
		ret = syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | 0xffffffff00000000UL, "x");
		note_call(o, ret, errno);
		break;
	case HOSTILE_OOM:
		cmd_oom(o);
		break;
	case HOSTILE_THREAD_BOMB:
		cmd_thread_bomb(o);
		break;
	case HOSTILE_FORK_BOMB:
		cmd_fork_bomb(o);
		break;
	case HOSTILE_SPIN:
		for (;;)
			spin_count++;
		break;
	case HOSTILE_SEGV: {
		/* Not NULL: UBSan would report a NULL store itself. */
		volatile int *volatile bad = (volatile int *)(uintptr_t)16;
		*bad = 1;
		break;
	}
	case HOSTILE_ABORT:
		abort();
	case HOSTILE_STACK_OVERFLOW:
		o->v[0] = recurse(0);
		o->set = 1;
		break;
	case HOSTILE_EXIT:
		exit(0);
	default:
		break;
	}
}

/* ------------------------------------------------------------ the ABI --- */

static corral_plugin_error h_load(const corral_host_api *host,
    const corral_load_args *args, void **model, char *err, size_t errlen)
{
	hostile *m = calloc(1, sizeof *m);
	if (m == NULL)
		return CORRAL_PLUGIN_NO_MEMORY;
	m->host = host;
	m->parent = getppid();
	/* hang_load=1: never finish loading (the worker must still die with
	 * the daemon) */
	for (size_t i = 0; i < args->n_params; i++)
		if (strcmp(args->params[i].key, "hang_load") == 0 &&
		    strcmp(args->params[i].value, "1") == 0)
			for (;;)
				pause();
	*model = m;
	return CORRAL_PLUGIN_OK;
}

static corral_plugin_error h_describe(void *model, corral_signature *sig,
    char *err, size_t errlen)
{
	*sig = (corral_signature){inputs, 1, outputs, 1};
	return CORRAL_PLUGIN_OK;
}

static corral_plugin_error h_infer(void *model, corral_infer_ctx *ctx,
    const corral_tensor *in, size_t n_in, char *err, size_t errlen)
{
	hostile *m = model;
	int64_t n = in[0].shape[0];
	double cmd = n > 0 ? x_at(&in[0], 0) : HOSTILE_ECHO;

	if (cmd == HOSTILE_HUGE_REPLY) {
		int64_t huge = (int64_t)1 << 40;
		if (m->host->output_alloc(ctx, "y", CORRAL_DT_FP64, 1, &huge) == NULL) {
			snprintf(err, errlen, "hostile: output_alloc refused 2^40 elements");
			return CORRAL_PLUGIN_NO_MEMORY;
		}
		return CORRAL_PLUGIN_OK; /* 8 TiB: not touched */
	}
	if (cmd == HOSTILE_SIZED_REPLY) {
		int64_t len = n > 1 ? (int64_t)x_at(&in[0], 1) : 0;
		double *y = m->host->output_alloc(ctx, "y", CORRAL_DT_FP64, 1, &len);
		if (y == NULL) {
			snprintf(err, errlen, "hostile: output_alloc refused %lld elements",
			    (long long)len);
			return CORRAL_PLUGIN_NO_MEMORY;
		}
		for (int64_t i = 0; i < len; i++) {
			double v = (double)i;
			memcpy(&y[i], &v, 8);
		}
		return CORRAL_PLUGIN_OK;
	}

	outcome o = {{0, 0}, 0};
	if (cmd >= 1 && cmd <= HOSTILE_SIZED_REPLY && cmd == (int)cmd)
		run_command(m, (int)cmd, &in[0], n, &o);

	double *y = m->host->output_alloc(ctx, "y", CORRAL_DT_FP64, 1, &n);
	if (y == NULL)
		return CORRAL_PLUGIN_NO_MEMORY;
	for (int64_t i = 0; i < n; i++) {
		double v = i < o.set ? o.v[i] : 2 * x_at(&in[0], i);
		memcpy(&y[i], &v, 8);
	}
	return CORRAL_PLUGIN_OK;
}

static void h_unload(void *model)
{
	free(model);
}

#if defined(HOSTILE_BAD_MAGIC)
#define HOSTILE_MAGIC (CORRAL_PLUGIN_MAGIC + 1)
#else
#define HOSTILE_MAGIC CORRAL_PLUGIN_MAGIC
#endif
#if defined(HOSTILE_BAD_MAJOR)
#define HOSTILE_ABI_MAJOR (CORRAL_PLUGIN_ABI_MAJOR + 1)
#else
#define HOSTILE_ABI_MAJOR CORRAL_PLUGIN_ABI_MAJOR
#endif
#if defined(HOSTILE_BAD_MINOR)
#define HOSTILE_ABI_MINOR (CORRAL_PLUGIN_ABI_MINOR + 1)
#else
#define HOSTILE_ABI_MINOR CORRAL_PLUGIN_ABI_MINOR
#endif
#if defined(HOSTILE_BAD_SIZE)
/* As if built against a header whose descriptor ended a field early. */
#define HOSTILE_STRUCT_SIZE (CORRAL_PLUGIN_SIZE_1_0 - sizeof(void *))
#else
#define HOSTILE_STRUCT_SIZE sizeof(corral_plugin)
#endif

static const corral_plugin hostile_plugin = {
	.magic = HOSTILE_MAGIC,
	.abi_major = HOSTILE_ABI_MAJOR,
	.abi_minor = HOSTILE_ABI_MINOR,
	.struct_size = HOSTILE_STRUCT_SIZE,
	.name = "hostile",
	.version = "1.0.0",
	.load = h_load,
	.describe = h_describe,
	.infer = h_infer,
	.unload = h_unload,
};

CORRAL_PLUGIN_EXPORT const corral_plugin *CORRAL_PLUGIN_ENTRY(void)
{
	return &hostile_plugin;
}
