/*
 * hostile_test - the hostile plugin (hostile.c) in a real corrald, next to
 * a well-behaved model: every way out of the sandbox is refused or ends
 * the worker with a reason that names it, the worker comes back, and the
 * neighbour never notices.
 *
 *   hostile_test CORRALD HOSTILE_SO CTOR_EXECVE_SO BAD_MAGIC_SO BAD_MAJOR_SO
 *                BAD_MINOR_SO BAD_SIZE_SO EXAMPLE_REPO
 *
 * One corrald serves iris (the linear plugin, version 1 of the example
 * repository), `hostile` (hostile.so under memory, pids and CPU limits),
 * and one model per broken build of the plugin. A background thread calls
 * iris the whole time and the test fails if any of those calls fails. Each
 * case sends one command to `hostile`, checks the outcome, checks iris,
 * and waits for `hostile` to be READY and answering again. Then every
 * worker left is inspected in /proc (seccomp, no_new_privs, no
 * capabilities, no open files), and the daemon is SIGKILLed: its workers
 * must be gone within a second.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "hostile.h"
#include "test.h"

static harness h;

/* Waits for the `hostile` worker to be READY and answering after a case. */
#define RECOVER_MS 15000
/* The pids limit `hostile` runs under (its config.yaml). */
#define HOSTILE_PIDS 64

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Append to a NUL-terminated message buffer, "; " between parts. */
__attribute__((format(printf, 3, 4)))
static void addf(char *buf, size_t n, const char *fmt, ...)
{
	size_t len = strlen(buf);
	if (len > 0 && len + 2 < n) {
		memcpy(buf + len, "; ", 3);
		len += 2;
	}
	if (len >= n)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + len, n - len, fmt, ap);
	va_end(ap);
}

static double out_at(const corral_tensor *t, size_t i)
{
	double v;
	memcpy(&v, (const char *)t->data + i * 8, 8);
	return v;
}

/* ---------------------------------------------------------------- iris --- */

/* One iris request answered correctly; else why not, into `why`. */
static bool iris_ok(corral_client *c, char *why, size_t n)
{
	static const double row[4] = {5.1, 3.5, 1.4, 0.2};
	int64_t shape[2] = {1, 4};
	corral_tensor t = {"input", CORRAL_DT_FP64, 2, shape, row, sizeof row};
	corral_result *r = NULL;
	corral_error err;
	corral_status st = corral_infer(c, "iris", 0, &t, 1, NULL, 0, &r, &err);
	if (st != CORRAL_OK) {
		snprintf(why, n, "%s: %s", corral_status_name(st), err.message);
		return false;
	}
	const corral_tensor *p = corral_result_find(r, "probabilities");
	bool ok = p && p->nbytes == 24 &&
	    fabs(out_at(p, 0) + out_at(p, 1) + out_at(p, 2) - 1) < 1e-12;
	corral_result_free(r);
	if (!ok)
		snprintf(why, n, "wrong probabilities");
	return ok;
}

static atomic_bool iris_stop;
static atomic_long iris_calls, iris_failures;

/* Calls iris over its own client until told to stop. */
static void *iris_loop(void *arg)
{
	corral_client *c = harness_client(&h, false);
	corral_client_set_timeout(c, 10000);
	while (!atomic_load(&iris_stop)) {
		char why[600];
		if (!iris_ok(c, why, sizeof why)) {
			long f = atomic_fetch_add(&iris_failures, 1);
			if (f < 10)
				fprintf(stderr, "iris (background) failed: %s\n", why);
		}
		atomic_fetch_add(&iris_calls, 1);
		sleep_ms(5);
	}
	corral_client_close(c);
	return arg;
}

/* ------------------------------------------------------------- hostile --- */

typedef struct reply {
	corral_status st;
	corral_error err;
	double y[2];  /* the first values of y, when they exist */
	int64_t ny;   /* y's length; -1 without a y */
	long long ms; /* how long the request took */
} reply;

static void hostile_call(corral_client *c, const char *model, const double *x,
    int64_t n, reply *r)
{
	int64_t shape[1] = {n};
	corral_tensor t = {"x", CORRAL_DT_FP64, 1, shape, x, (size_t)n * 8};
	corral_result *res = NULL;
	memset(r, 0, sizeof *r);
	r->ny = -1;
	long long t0 = harness_now_ms();
	r->st = corral_infer(c, model, 0, &t, 1, NULL, 0, &res, &r->err);
	r->ms = harness_now_ms() - t0;
	if (r->st != CORRAL_OK)
		return;
	r->err.message[0] = '\0';
	const corral_tensor *y = corral_result_find(res, "y");
	if (y != NULL && y->dtype == CORRAL_DT_FP64 && y->ndim == 1) {
		r->ny = y->shape[0];
		for (int64_t i = 0; i < 2 && i < r->ny; i++)
			r->y[i] = out_at(y, (size_t)i);
	}
	corral_result_free(res);
}

/* `hostile` answers a plain request: y = 2 * {0, 21}. */
static bool echo_ok(corral_client *c, reply *r)
{
	hostile_call(c, "hostile", (const double[]){HOSTILE_ECHO, 21}, 2, r);
	return r->st == CORRAL_OK && r->ny == 2 && r->y[0] == 0 && r->y[1] == 42;
}

static void describe_reply(const reply *r, char *out, size_t n)
{
	if (r->st == CORRAL_OK)
		snprintf(out, n, "OK: %lld values, y[0]=%g y[1]=%g", (long long)r->ny,
		    r->y[0], r->ny > 1 ? r->y[1] : 0.0);
	else
		snprintf(out, n, "%s: %s", corral_status_name(r->st), r->err.message);
}

/* "MODEL/VERSION" of a worker, from its command line; "" if unknown. */
static void worker_label(pid_t pid, char *out, size_t n)
{
	char path[64], cmd[4096];
	const char *model = NULL, *version = NULL;
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	size_t len = fread(cmd, 1, sizeof cmd - 1, f);
	fclose(f);
	cmd[len] = '\0';
	/* NUL-separated arguments: the value follows its option. */
	for (size_t i = 0; i < len;) {
		size_t next = i + strlen(cmd + i) + 1;
		if (next < len && strcmp(cmd + i, "--model") == 0)
			model = cmd + next;
		if (next < len && strcmp(cmd + i, "--version") == 0)
			version = cmd + next;
		i = next;
	}
	if (model)
		snprintf(out, n, "%s/%s", model, version ? version : "?");
}

/* The pid of the worker serving hostile/1, or 0. */
static pid_t hostile_worker(void)
{
	pid_t pids[64];
	int n = harness_workers(&h, pids, 64);
	for (int i = 0; i < n; i++) {
		char label[160];
		worker_label(pids[i], label, sizeof label);
		if (strcmp(label, "hostile/1") == 0)
			return pids[i];
	}
	return 0;
}

/* The state and last error `models` reports for model/1. */
static void model_status(corral_client *c, const char *model, char *state,
    size_t ns, char *last, size_t nl)
{
	corral_model_list *l;
	snprintf(state, ns, "%s", "");
	snprintf(last, nl, "%s", "");
	if (corral_list_models(c, &l, NULL) != CORRAL_OK) {
		snprintf(state, ns, "(models failed)");
		return;
	}
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->entries[i].name, model) == 0 && l->entries[i].version == 1) {
			snprintf(state, ns, "%s", l->entries[i].state);
			snprintf(last, nl, "%s", l->entries[i].last_error ? l->entries[i].last_error : "");
		}
	corral_model_list_free(l);
}

/* Wait until hostile/1 is READY and answers. A worker that does not come
 * back in RECOVER_MS is killed by hand (so the next case starts clean) and
 * waited for again; that still counts as a failure. */
static bool recover(corral_client *c, char *why, size_t n)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		long long deadline = harness_now_ms() + RECOVER_MS;
		reply e = {0};
		char state[32] = "", last[512] = "";
		while (harness_now_ms() < deadline) {
			model_status(c, "hostile", state, sizeof state, last, sizeof last);
			if (state[0] == '\0' || strcmp(state, "FAILED") == 0 ||
			    strcmp(state, "(models failed)") == 0) {
				addf(why, n, "hostile/1 is %s (%s)", state[0] ? state : "not listed",
				    last[0] ? last : "no last error");
				return false;
			}
			if (strcmp(state, "READY") == 0 && echo_ok(c, &e))
				return attempt == 0;
			sleep_ms(50);
		}
		char got[600] = "not sent";
		if (strcmp(state, "READY") == 0)
			describe_reply(&e, got, sizeof got);
		pid_t p = hostile_worker();
		addf(why, n, "not READY and answering within %d ms (state %s, echo %s)%s",
		    RECOVER_MS, state, got, attempt == 0 && p > 0 ? "; killed its worker by hand" : "");
		if (attempt == 0 && p > 0)
			kill(p, SIGKILL);
		else
			return false;
	}
	return false;
}

/* ---------------------------------------------------------------- cases --- */

typedef enum kind {
	K_SERVE,    /* OK, checks on y; the same worker keeps serving */
	K_KILLED,   /* WORKER_CRASHED whose message holds `want` */
	K_DEADLINE, /* DEADLINE_EXCEEDED; the worker is replaced */
	K_REFUSED,  /* an error reply, not WORKER_CRASHED; the worker serves on */
} kind;

typedef struct hcase hcase;
struct hcase {
	const char *name;
	int cmd;
	kind k;
	const char *want; /* K_KILLED: in the error message */
	bool (*check)(const hcase *k, const reply *r, char *why, size_t n); /* K_SERVE */
	double want_y0;   /* for check_y0 */
	int n_args;       /* x[1..n_args] */
	double args[2];
	bool x86_only;
};

static bool check_y0(const hcase *k, const reply *r, char *why, size_t n)
{
	if (r->ny >= 1 && r->y[0] == k->want_y0)
		return true;
	addf(why, n, "y[0] = %g, expected %g", r->ny >= 1 ? r->y[0] : NAN, k->want_y0);
	return false;
}

static bool check_echo(const hcase *k, const reply *r, char *why, size_t n)
{
	if (r->ny == 2 && r->y[0] == 0 && r->y[1] == 42)
		return true;
	addf(why, n, "y is not 2 * x");
	return false;
}

static bool check_clone3(const hcase *k, const reply *r, char *why, size_t n)
{
	if (r->ny == 2 && r->y[0] == ENOSYS && r->y[1] == 0)
		return true;
	addf(why, n, "clone3 errno %g (want ENOSYS %d), pthread_create %g (want 0)",
	    r->y[0], ENOSYS, r->y[1]);
	return false;
}

static bool check_open_create(const hcase *k, const reply *r, char *why, size_t n)
{
	if (r->ny == 2 && r->y[0] != EACCES && r->y[1] > 0) {
		/* The file may exist now: do not leave it behind. */
		char path[64];
		snprintf(path, sizeof path, HOSTILE_CREATE_PATH, (int)r->y[1]);
		unlink(path);
	}
	return check_y0(k, r, why, n);
}

/* Threads start until the pids limit stops them, and the worker lives. */
static bool check_thread_bomb(const hcase *k, const reply *r, char *why, size_t n)
{
	if (r->ny == 2 && r->y[0] >= 1 && r->y[0] < HOSTILE_PIDS && r->y[1] != 0)
		return true;
	addf(why, n, "%g threads started before pthread_create failed with %g: want 1..%d "
	    "and a failure (the pids limit)", r->y[0], r->y[1], HOSTILE_PIDS - 1);
	return false;
}

static bool check_sized_reply(const hcase *k, const reply *r, char *why, size_t n)
{
	if (r->ny == (int64_t)k->args[0] && r->y[1] == 1)
		return true;
	addf(why, n, "a reply of %lld values, expected %g", (long long)r->ny, k->args[0]);
	return false;
}

#define VIOLATION(name_, cmd_, syscall_) \
	{name_, cmd_, K_KILLED, "sandbox violation: " syscall_, NULL, 0, 0, {0}, false}
#define SERVE_ERRNO(name_, cmd_, errno_) \
	{name_, cmd_, K_SERVE, NULL, check_y0, errno_, 1, {0}, false}

/* In this order: the serving cases first; the thread bomb leaves its
 * threads in the worker, so the next case ends that worker. */
static const hcase cases[] = {
	{"echo", HOSTILE_ECHO, K_SERVE, NULL, check_echo, 0, 1, {21}, false},
	SERVE_ERRNO("ioctl_tiocsti", HOSTILE_IOCTL_TIOCSTI, ENOTTY),
	SERVE_ERRNO("open_passwd", HOSTILE_OPEN_READ, EACCES),
	{"open_create", HOSTILE_OPEN_CREATE, K_SERVE, NULL, check_open_create, EACCES, 1, {0}, false},
	SERVE_ERRNO("fork", HOSTILE_FORK, EPERM),
	SERVE_ERRNO("fork_raw", HOSTILE_FORK_RAW, EPERM),
	{"clone3", HOSTILE_CLONE3, K_SERVE, NULL, check_clone3, 0, 1, {0}, false},
	SERVE_ERRNO("fork_bomb", HOSTILE_FORK_BOMB, EPERM),
	{"reply_2^40", HOSTILE_HUGE_REPLY, K_REFUSED, NULL, NULL, 0, 0, {0}, false},
	{"reply_too_large", HOSTILE_SIZED_REPLY, K_REFUSED, NULL, NULL, 0, 1, {200000}, false},
	{"reply_1000", HOSTILE_SIZED_REPLY, K_SERVE, NULL, check_sized_reply, 0, 1, {1000}, false},
	{"thread_bomb", HOSTILE_THREAD_BOMB, K_SERVE, NULL, check_thread_bomb, 0, 1, {0}, false},
	VIOLATION("execve", HOSTILE_EXECVE, "execve"),
	VIOLATION("socket_inet", HOSTILE_SOCKET_INET, "socket"),
	VIOLATION("socket_inet6", HOSTILE_SOCKET_INET6, "socket"),
	VIOLATION("socket_netlink", HOSTILE_SOCKET_NETLINK, "socket"),
	VIOLATION("socket_packet", HOSTILE_SOCKET_PACKET, "socket"),
	VIOLATION("socket_unix", HOSTILE_SOCKET_UNIX, "socket"), /* args: the daemon's socket */
	VIOLATION("kill_daemon", HOSTILE_KILL_DAEMON, "kill"),
	VIOLATION("ptrace_daemon", HOSTILE_PTRACE_DAEMON, "ptrace"),
	VIOLATION("vm_readv_daemon", HOSTILE_VM_READV_DAEMON, "process_vm_readv"),
	VIOLATION("bpf", HOSTILE_BPF, "bpf"),
	VIOLATION("io_uring", HOSTILE_IO_URING, "io_uring_setup"),
	VIOLATION("mount", HOSTILE_MOUNT, "mount"),
	VIOLATION("unshare", HOSTILE_UNSHARE, "unshare"),
	VIOLATION("keyctl", HOSTILE_KEYCTL, "keyctl"),
	VIOLATION("mprotect_exec", HOSTILE_MPROTECT_EXEC, "mprotect"),
	{"sigsys_handler", HOSTILE_SIGSYS_HANDLER, K_KILLED, "sandbox violation", NULL, 0, 0, {0}, false},
	{"int80", HOSTILE_INT80, K_KILLED, "sandbox violation", NULL, 0, 0, {0}, true},
	{"x32", HOSTILE_X32, K_KILLED, "sandbox violation", NULL, 0, 0, {0}, true},
	{"oom", HOSTILE_OOM, K_KILLED, "out of memory", NULL, 0, 1, {0}, false},
	{"segv", HOSTILE_SEGV, K_KILLED, "signal", NULL, 0, 0, {0}, false},
	{"abort", HOSTILE_ABORT, K_KILLED, "signal", NULL, 0, 0, {0}, false},
	{"stack_overflow", HOSTILE_STACK_OVERFLOW, K_KILLED, "signal", NULL, 0, 0, {0}, false},
	{"exit0", HOSTILE_EXIT, K_KILLED, "exit", NULL, 0, 0, {0}, false},
	{"spin", HOSTILE_SPIN, K_DEADLINE, NULL, NULL, 0, 0, {0}, false},
};
#define N_CASES (sizeof cases / sizeof *cases)

static int cases_passed, cases_failed;
static char failed_names[1024];

static void case_line(const char *name, bool ok, long long ms, long long back_ms,
    const char *outcome, const char *why)
{
	if (back_ms >= 0)
		printf("  %-16s %s %6lld ms  back %6lld ms  %s\n", name, ok ? "PASS" : "FAIL",
		    ms, back_ms, outcome);
	else
		printf("  %-16s %s %6lld ms  %s\n", name, ok ? "PASS" : "FAIL", ms, outcome);
	if (!ok)
		printf("  %-16s      why: %s\n", "", why);
	fflush(stdout);
	CHECK_MSG(ok, "%s: %s", name, why);
	if (ok) {
		cases_passed++;
	} else {
		cases_failed++;
		addf(failed_names, sizeof failed_names, "%s", name);
	}
}

/* Whether the daemon is still running; reaps it if not. */
static bool daemon_alive(void)
{
	int status;
	if (h.pid <= 0)
		return false;
	if (waitpid(h.pid, &status, WNOHANG) != h.pid)
		return true;
	printf("corrald died (wait status 0x%x)\n", status);
	h.pid = 0;
	return false;
}

static void run_case(corral_client *c, const hcase *k)
{
	char why[2048] = "", outcome[700];
	bool ok = true;
	double x[128];
	/* At least two values, so y[0] and y[1] can carry a result. */
	int64_t nx = k->n_args < 1 ? 2 : 1 + k->n_args;
	x[0] = k->cmd;
	x[1] = 0;
	for (int i = 0; i < k->n_args; i++)
		x[1 + i] = k->args[i];
	if (k->cmd == HOSTILE_SOCKET_UNIX) {
		/* The daemon's own client socket, one byte per value. */
		const char *path = h.ipc_url + strlen("ipc://");
		nx = 1;
		for (size_t i = 0; path[i] && nx < 126; i++)
			x[nx++] = (unsigned char)path[i];
		x[nx++] = 0;
	}

	pid_t before = hostile_worker();
	reply r;
	hostile_call(c, "hostile", x, nx, &r);
	describe_reply(&r, outcome, sizeof outcome);

	switch (k->k) {
	case K_SERVE:
		if (r.st != CORRAL_OK) {
			ok = false;
			addf(why, sizeof why, "expected OK");
		} else if (k->check != NULL && !k->check(k, &r, why, sizeof why)) {
			ok = false;
		}
		break;
	case K_KILLED:
		if (r.st != CORRAL_E_WORKER_CRASHED || strstr(r.err.message, k->want) == NULL) {
			ok = false;
			addf(why, sizeof why, "expected WORKER_CRASHED with \"%s\"", k->want);
		}
		break;
	case K_DEADLINE:
		if (r.st != CORRAL_E_DEADLINE_EXCEEDED) {
			ok = false;
			addf(why, sizeof why, "expected DEADLINE_EXCEEDED");
		}
		break;
	case K_REFUSED:
		if (r.st == CORRAL_OK || r.st == CORRAL_E_WORKER_CRASHED ||
		    r.st == CORRAL_E_DEADLINE_EXCEEDED || r.st >= CORRAL_E_CONNECT) {
			ok = false;
			addf(why, sizeof why, "expected an error reply from a worker that lives");
		}
		break;
	}

	if (!daemon_alive()) {
		case_line(k->name, false, r.ms, -1, outcome, "corrald died");
		return;
	}
	char iris_why[600];
	if (!iris_ok(c, iris_why, sizeof iris_why)) {
		ok = false;
		addf(why, sizeof why, "iris failed right after: %s", iris_why);
	}
	if (k->k == K_SERVE || k->k == K_REFUSED) {
		/* No restart: the same worker answers the next request at once. */
		reply e;
		if (!echo_ok(c, &e)) {
			char got[600];
			describe_reply(&e, got, sizeof got);
			ok = false;
			addf(why, sizeof why, "the next request failed: %s", got);
		}
		pid_t after = hostile_worker();
		if (before <= 0 || after != before) {
			ok = false;
			addf(why, sizeof why, "worker pid %d before, %d after: restarted",
			    (int)before, (int)after);
		}
	}
	long long t0 = harness_now_ms();
	if (!recover(c, why, sizeof why))
		ok = false;
	long long back = harness_now_ms() - t0;
	char last[512] = "";
	if (k->k == K_DEADLINE) {
		pid_t after = hostile_worker();
		if (before > 0 && after == before) {
			ok = false;
			addf(why, sizeof why, "worker %d was not replaced after the timeout", (int)before);
		}
		char state[32];
		model_status(c, "hostile", state, sizeof state, last, sizeof last);
	}
	case_line(k->name, ok, r.ms, back, outcome, why);
	if (k->k == K_DEADLINE) /* informational: the contract names "request timeout" */
		printf("  %-16s      last_error: %s\n", "", last[0] ? last : "(none)");
}

/* A broken build of the plugin never serves: its version ends FAILED with
 * a last error naming the defect (any one of `want`). */
static void check_broken_model(corral_client *c, const char *model,
    const char *const *want)
{
	char why[1024] = "", state[32] = "", last[512] = "";
	long long t0 = harness_now_ms();
	while (harness_now_ms() - t0 < RECOVER_MS) {
		model_status(c, model, state, sizeof state, last, sizeof last);
		if (strcmp(state, "FAILED") == 0 || state[0] == '\0')
			break;
		sleep_ms(50);
	}
	long long ms = harness_now_ms() - t0;
	bool ok = strcmp(state, "FAILED") == 0;
	if (!ok)
		addf(why, sizeof why, "state %s, expected FAILED", state[0] ? state : "(not listed)");
	bool named = false;
	for (size_t i = 0; want[i] != NULL; i++)
		named = named || strstr(last, want[i]) != NULL;
	if (!named) {
		ok = false;
		addf(why, sizeof why, "last_error does not mention \"%s\"%s", want[0],
		    want[1] ? " (or an alternative)" : "");
	}
	/* Never served, not even once. */
	reply r;
	hostile_call(c, model, (const double[]){HOSTILE_ECHO, 21}, 2, &r);
	if (r.st == CORRAL_OK) {
		ok = false;
		addf(why, sizeof why, "it answered a request");
	}
	char outcome[700];
	snprintf(outcome, sizeof outcome, "%s: %s", state[0] ? state : "(not listed)",
	    last[0] ? last : "(no last error)");
	case_line(model, ok, ms, -1, outcome, why);
}

/* -------------------------------------------------------- after the cases --- */

static bool status_has(const char *status, const char *line)
{
	const char *p = strstr(status, line);
	return p != NULL && (p == status || p[-1] == '\n');
}

/* The line of /proc/.../status with the same key as `like` ("Key:\t..."),
 * without its newline; "Key: (missing)" when there is none. */
static void status_line(const char *status, const char *like, char *out, size_t n)
{
	size_t klen = strcspn(like, ":") + 1;
	for (const char *p = status; *p; p += strcspn(p, "\n"), p += *p == '\n') {
		if (strncmp(p, like, klen) == 0) {
			snprintf(out, n, "%.*s", (int)strcspn(p, "\n"), p);
			return;
		}
	}
	snprintf(out, n, "%.*s (missing)", (int)klen, like);
}

/* Every thread of a worker confined and unprivileged; no file open. */
static void check_worker(pid_t pid)
{
	char label[160], why[2048] = "", path[320];
	worker_label(pid, label, sizeof label);
	int threads = 0;
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char spath[600], status[4096];
		snprintf(spath, sizeof spath, "%s/%s/status", path, e->d_name);
		FILE *f = fopen(spath, "r");
		if (f == NULL)
			continue; /* the thread ended meanwhile */
		size_t len = fread(status, 1, sizeof status - 1, f);
		fclose(f);
		status[len] = '\0';
		threads++;
		static const char *const want[] = {"Seccomp:\t2\n", "NoNewPrivs:\t1\n",
		    "CapEff:\t0000000000000000\n"};
		for (size_t i = 0; i < sizeof want / sizeof *want; i++)
			if (!status_has(status, want[i])) {
				char have[64];
				status_line(status, want[i], have, sizeof have);
				addf(why, sizeof why, "thread %s: %s", e->d_name, have);
			}
	}
	if (d)
		closedir(d);
	else
		addf(why, sizeof why, "cannot list %s: %s", path, strerror(errno));
	if (threads == 0)
		addf(why, sizeof why, "no threads seen");

	int fds = 0;
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL)
		addf(why, sizeof why, "cannot list %s: %s", path, strerror(errno));
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char fpath[600], target[512];
		snprintf(fpath, sizeof fpath, "%s/%s", path, e->d_name);
		ssize_t len = readlink(fpath, target, sizeof target - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		fds++;
		/* Sockets, pipes and anon inodes are fine; no file or folder. */
		if (target[0] == '/' && strcmp(target, "/dev/null") != 0)
			addf(why, sizeof why, "fd %s -> %s", e->d_name, target);
	}
	if (d)
		closedir(d);

	char name[200], outcome[200];
	snprintf(name, sizeof name, "worker %d", (int)pid);
	snprintf(outcome, sizeof outcome, "%s: %d threads, %d fds", label[0] ? label : "?",
	    threads, fds);
	case_line(name, why[0] == '\0', 0, -1, outcome, why);
}

/* Gone: no such process, or only a zombie waiting to be reaped. */
static bool process_gone(pid_t pid)
{
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return true;
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return true;
	size_t len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = '\0';
	char *p = strrchr(buf, ')');
	char state = '?';
	return p != NULL && sscanf(p + 1, " %c", &state) == 1 && (state == 'Z' || state == 'X');
}

/* SIGKILL the daemon: no worker may outlive it by more than a second. */
static void check_workers_die_with_daemon(void)
{
	pid_t pids[64];
	int n = harness_workers(&h, pids, 64);
	long long t0 = harness_now_ms();
	kill(h.pid, SIGKILL);
	waitpid(h.pid, NULL, 0);
	h.pid = 0;
	int alive = n;
	while (alive > 0 && harness_now_ms() - t0 < 1000) {
		alive = 0;
		for (int i = 0; i < n; i++)
			alive += !process_gone(pids[i]);
		if (alive > 0)
			sleep_ms(10);
	}
	char why[512] = "", outcome[128];
	for (int i = 0; i < n; i++)
		if (!process_gone(pids[i]))
			addf(why, sizeof why, "worker %d still alive", (int)pids[i]);
	snprintf(outcome, sizeof outcome, "%d workers, all gone", n);
	case_line("daemon_sigkill", why[0] == '\0' && n > 0, harness_now_ms() - t0, -1,
	    why[0] ? "some workers outlived the daemon" : outcome, why[0] ? why : "no workers");
}

/* A model whose CPU time limit (1 s) comes long before its request
 * deadline: spinning ends in SIGXCPU, reported as the CPU limit. */
static void check_cpu_limit(corral_client *c)
{
	double x[2] = {HOSTILE_SPIN, 0};
	reply r;
	long long t0 = harness_now_ms();
	hostile_call(c, "hostile_cpu", x, 2, &r);
	long long ms = harness_now_ms() - t0;
	bool ok = r.st == CORRAL_E_WORKER_CRASHED && strstr(r.err.message, "CPU time limit");
	bool back = harness_wait_state(c, "hostile_cpu", 1, "READY", RECOVER_MS);
	char outcome[700];
	snprintf(outcome, sizeof outcome, "%s: %s", corral_status_name(r.st), r.err.message);
	case_line("cpu_limit", ok && back, ms, -1, outcome,
	    "expected WORKER_CRASHED naming the CPU time limit, then READY again");
}

/* `status` for one model, parsed; NULL (and a failed check) on error. */
static json_t *status_of(corral_client *c, const char *model)
{
	char *text = NULL;
	corral_error err;
	corral_status st = corral_get_status(c, model, &text, &err);
	CHECK_MSG(st == CORRAL_OK, "status %s: %s", model, err.message);
	json_t *root = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	json_t *v = json_array_get(json_object_get(root, "models"), 0);
	json_incref(v);
	json_decref(root);
	return v;
}

static long long exits_of(const json_t *v, const char *cause)
{
	return (long long)json_integer_value(
	    json_object_get(json_object_get(v, "exits"), cause));
}

/* What `status` says after the cases: every exit counted under its cause,
 * and (as root) every layer of the well-behaved neighbour on. */
static void check_status(corral_client *c)
{
	json_t *hv = status_of(c, "hostile"), *iv = status_of(c, "iris"),
	       *cv = status_of(c, "ctor_execve"), *uv = status_of(c, "hostile_cpu");
	char why[1024] = "", outcome[256];
	static const struct { const char *cause; long long at_least; } want[] = {
	    {"sandbox_violation", 15}, {"out_of_memory", 1}, {"request_timeout", 1},
	    {"crash", 3}, {"clean_exit", 1}};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++)
		if (exits_of(hv, want[i].cause) < want[i].at_least)
			addf(why, sizeof why, "hostile: %s %lld < %lld", want[i].cause,
			    exits_of(hv, want[i].cause), want[i].at_least);
	if (exits_of(cv, "sandbox_violation") != 1 ||
	    strcmp(json_string_value(json_object_get(cv, "state")) ?: "", "FAILED") != 0)
		addf(why, sizeof why, "ctor_execve: one violation, then FAILED");
	if (exits_of(uv, "cpu_limit") != 1)
		addf(why, sizeof why, "hostile_cpu: one exit at the CPU limit");
	if (exits_of(iv, "crash") + exits_of(iv, "sandbox_violation") != 0)
		addf(why, sizeof why, "iris: its worker never ended");
	/* /metrics counts the same violations, by syscall */
	double hostile_sum = 0, execve = 0, ctor = 0;
	char *metrics = NULL;
	if (harness_http_get(h.http_port, "/metrics", &metrics) == 200 && metrics != NULL)
		for (char *line = strtok(metrics, "\n"); line; line = strtok(NULL, "\n")) {
			const char *sp = strrchr(line, ' ');
			double n = sp ? strtod(sp + 1, NULL) : 0;
			if (strncmp(line, "corral_sandbox_violations_total{model=\"hostile\",", 48) == 0)
				hostile_sum += n;
			if (strstr(line, "{model=\"hostile\",version=\"1\",syscall=\"execve\"}"))
				execve = n;
			if (strstr(line, "{model=\"ctor_execve\",version=\"1\",syscall=\"execve\"}"))
				ctor = n;
		}
	free(metrics);
	if (hostile_sum != (double)exits_of(hv, "sandbox_violation") || execve < 1 || ctor != 1)
		addf(why, sizeof why, "metrics: violations by syscall %g (execve %g, ctor %g), "
		    "status says %lld", hostile_sum, execve, ctor, exits_of(hv, "sandbox_violation"));
	const json_t *layers = json_object_get(iv, "sandbox");
	const char *key;
	const json_t *val;
	int on = 0;
	json_object_foreach((json_t *)layers, key, val) {
		const char *text = json_string_value(val);
		if (text == NULL)
			continue; /* extra_syscalls */
		bool is_on = strncmp(text, "on", 2) == 0;
		on += is_on;
		if (!is_on && geteuid() == 0)
			addf(why, sizeof why, "iris: layer %s: %s", key, text);
	}
	if (json_array_size(json_object_get(layers, "extra_syscalls")) != 0)
		addf(why, sizeof why, "iris: the linear plugin declares no extra syscalls");
	snprintf(outcome, sizeof outcome, "hostile: %lld violations, %lld oom, %lld timeout, "
	    "%lld crash, %lld clean; iris: %d layers on",
	    exits_of(hv, "sandbox_violation"), exits_of(hv, "out_of_memory"),
	    exits_of(hv, "request_timeout"), exits_of(hv, "crash"), exits_of(hv, "clean_exit"), on);
	case_line("status", why[0] == '\0' && on >= 5, 0, -1, outcome, why);
	json_decref(hv);
	json_decref(iv);
	json_decref(cv);
	json_decref(uv);
}

/* A worker stuck in its plugin's load() (no connection to the daemon yet,
 * so only the death signal can end it) dies with a SIGKILLed daemon too:
 * the identity change clears the death signal, which the worker sets again. */
static void check_hung_load_dies_with_daemon(const char *corrald, const char *so)
{
	harness h2;
	harness_init(&h2);
	char yaml[700];
	snprintf(yaml, sizeof yaml, "plugin: %s\nparameters: {hang_load: \"1\"}\n", so);
	harness_write(&h2, "hang/config.yaml", yaml);
	harness_write(&h2, "hang/1/README", "never loads\n");
	h2.no_settle = true;
	harness_start(&h2, corrald, "worker_start_timeout_ms: 600000\n");
	/* Wait until the worker is inside load(): past its sandbox, so past
	 * the identity change. */
	pid_t pid = 0;
	long long t0 = harness_now_ms();
	while (harness_now_ms() - t0 < 10000) {
		char path[64], buf[4096];
		if (harness_workers(&h2, &pid, 1) == 1) {
			snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
			FILE *f = fopen(path, "r");
			size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
			if (f)
				fclose(f);
			buf[n] = '\0';
			if (strstr(buf, "Seccomp:\t2"))
				break; /* stage 1 is on: the plugin is loading */
		}
		sleep_ms(20);
	}
	usleep(200000);
	long long t1 = harness_now_ms();
	kill(h2.pid, SIGKILL);
	waitpid(h2.pid, NULL, 0);
	h2.pid = 0;
	while (pid > 0 && !process_gone(pid) && harness_now_ms() - t1 < 1000)
		sleep_ms(10);
	bool gone = pid > 0 && process_gone(pid);
	char outcome[128];
	snprintf(outcome, sizeof outcome, "worker %d in load(): %s", (int)pid,
	    gone ? "gone" : "still alive");
	case_line("hung_load_sigkill", gone, harness_now_ms() - t1, -1, outcome,
	    "a worker stuck in load() outlived the daemon");
	if (pid > 0 && !gone)
		kill(pid, SIGKILL);
	harness_cleanup(&h2);
}

/* ---------------------------------------------------------------- main --- */

static void setup_repo(const char *const *so, const char *example_repo)
{
	char target[600], yaml[800];
	harness_write(&h, "iris/config.yaml", "plugin: linear\n");
	snprintf(target, sizeof target, "%s/iris/1", example_repo);
	harness_link(&h, "iris/1", target);

	snprintf(yaml, sizeof yaml,
	    "plugin: %s\n"
	    "request_timeout_ms: 2000\n"
	    /* every case is its own crash, reported as it happened; quick
	     * restarts, many of them */
	    "retryable: false\n"
	    "restart: {delay_ms: 50, max_delay_ms: 100, intensity: 100, period_ms: 60000}\n"
	    "limits:\n"
	    "  memory_bytes: 268435456\n"
	    "  pids: %d\n"
	    "  cpu_seconds: 120\n",
	    so[0], HOSTILE_PIDS);
	harness_write(&h, "hostile/config.yaml", yaml);
	harness_write(&h, "hostile/1/README", "no files needed\n");
	snprintf(yaml, sizeof yaml,
	    "plugin: %s\n"
	    "request_timeout_ms: 30000\n"
	    "retryable: false\n"
	    "limits: {cpu_seconds: 1}\n", so[0]);
	harness_write(&h, "hostile_cpu/config.yaml", yaml);
	harness_write(&h, "hostile_cpu/1/README", "no files needed\n");

	static const char *const broken[] = {"ctor_execve", "bad_magic", "bad_major",
	    "bad_minor", "bad_size"};
	for (size_t i = 0; i < 5; i++) {
		char rel[128];
		snprintf(yaml, sizeof yaml, "plugin: %s\n", so[1 + i]);
		snprintf(rel, sizeof rel, "%s/config.yaml", broken[i]);
		harness_write(&h, rel, yaml);
		snprintf(rel, sizeof rel, "%s/1/README", broken[i]);
		harness_write(&h, rel, "a broken build of the hostile plugin\n");
	}
}

/* The last `lines` lines of the daemon's log, for a failed run (a model
 * that keeps restarting can make the whole log long). */
static void dump_log_tail(int lines)
{
	FILE *f = fopen(h.log, "r");
	if (f == NULL)
		return;
	char (*ring)[512] = calloc((size_t)lines, 512);
	long n = 0;
	while (ring && fgets(ring[n % lines], 512, f))
		n++;
	fclose(f);
	fprintf(stderr, "---- corrald log (last %d of %ld lines) ----\n", lines, n);
	for (long i = n > lines ? n - lines : 0; ring && i < n; i++)
		fputs(ring[i % lines], stderr);
	fprintf(stderr, "---------------------\n");
	free(ring);
}

static void cleanup_at_exit(void)
{
	harness_cleanup(&h);
}

int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr, "usage: hostile_test CORRALD HOSTILE_SO CTOR_EXECVE_SO "
				"BAD_MAGIC_SO BAD_MAJOR_SO BAD_MINOR_SO BAD_SIZE_SO EXAMPLE_REPO\n");
		return 2;
	}
	char *so[6];
	for (int i = 0; i < 6; i++) {
		so[i] = realpath(argv[2 + i], NULL);
		REQUIRE(so[i] != NULL);
	}
	char *example_repo = realpath(argv[8], NULL);
	REQUIRE(example_repo != NULL);

	setvbuf(stdout, NULL, _IOLBF, 0); /* in step with the CHECK lines on stderr */
	harness_init(&h);
	atexit(cleanup_at_exit);
	setup_repo((const char *const *)so, example_repo);
	harness_start(&h, argv[1], "restart_delay_ms: 100\nmax_response_bytes: 1048576\n");

	corral_client *c = harness_client(&h, false);
	char why[600];
	/* The neighbour serves before anything else happens. */
	bool iris_up = harness_wait_state(c, "iris", 1, "READY", RECOVER_MS) &&
	    iris_ok(c, why, sizeof why);
	CHECK_MSG(iris_up, "iris serves at start: %s", why);
	pthread_t iris_thread;
	REQUIRE(pthread_create(&iris_thread, NULL, iris_loop, NULL) == 0);

	printf("broken builds:\n");
	check_broken_model(c, "ctor_execve", (const char *const[]){"execve", NULL});
	check_broken_model(c, "bad_magic", (const char *const[]){"magic", NULL});
	check_broken_model(c, "bad_major", (const char *const[]){"major", NULL});
	check_broken_model(c, "bad_minor", (const char *const[]){"minor", NULL});
	/* plugin_host.c words it "plugin descriptor is N bytes, ... needs at
	 * least M": either wording names the defect. */
	check_broken_model(c, "bad_size", (const char *const[]){"size", "bytes", NULL});

	printf("hostile commands:\n");
	why[0] = '\0';
	if (!harness_wait_state(c, "hostile", 1, "READY", RECOVER_MS)) {
		char state[32], last[512];
		model_status(c, "hostile", state, sizeof state, last, sizeof last);
		printf("  hostile/1 is not READY: state %s, last_error %s\n",
		    state[0] ? state : "(not listed: its config.yaml was refused?)",
		    last[0] ? last : "(none)");
	}
	bool daemon_died = false;
	for (size_t i = 0; i < N_CASES; i++) {
#if !defined(__x86_64__)
		if (cases[i].x86_only) {
			printf("  %-16s SKIP (x86-64 only)\n", cases[i].name);
			continue;
		}
#endif
		run_case(c, &cases[i]);
		if (!daemon_alive()) {
			daemon_died = true;
			break;
		}
	}

	if (!daemon_died)
		check_cpu_limit(c);

	atomic_store(&iris_stop, true);
	pthread_join(iris_thread, NULL);
	long calls = atomic_load(&iris_calls), failures = atomic_load(&iris_failures);
	char outcome[128];
	snprintf(outcome, sizeof outcome, "%ld calls, %ld failed", calls, failures);
	printf("iris, all along:\n");
	case_line("iris_background", calls > 0 && failures == 0, 0, -1, outcome,
	    "iris must never fail while its neighbour misbehaves");

	if (!daemon_died) {
		printf("status:\n");
		check_status(c);
	}
	corral_client_close(c);
	if (!daemon_died) {
		printf("workers afterwards:\n");
		pid_t pids[64];
		int n = harness_workers(&h, pids, 64);
		CHECK_MSG(n >= 2, "at least iris and hostile have workers (%d)", n);
		for (int i = 0; i < n; i++)
			check_worker(pids[i]);
		check_workers_die_with_daemon();
		check_hung_load_dies_with_daemon(argv[1], so[0]);
	}

	printf("hostile_test: %d of %d checks passed%s%s\n", cases_passed,
	    cases_passed + cases_failed, cases_failed ? "; failed: " : "", failed_names);
	if (test_failed_)
		dump_log_tail(150);
	harness_cleanup(&h);
	for (int i = 0; i < 6; i++)
		free(so[i]);
	free(example_repo);
	TEST_MAIN_END();
}
