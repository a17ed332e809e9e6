/*
 * workers.c - the life of a corral-worker process, seen from the daemon.
 *
 * Each spawn gets a fresh REQ socket listening on a fresh ipc path in the
 * private worker folder. A fresh socket per process matters: nng's REQ
 * resends a request whose pipe closed on the next pipe to connect, and a
 * request that killed one worker must not be replayed into its successor.
 * When a worker dies its socket is closed, which completes every request in
 * flight on it with NNG_ECLOSED; their handlers then report w->cause.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "../worker/worker_exit.h"
#include "log.h"
#include "workers.h"

/* corral-worker's fixed arguments (18 with argv[0]), two per parameter,
 * and the closing NULL. */
#define WORKER_FIXED_ARGS 18
#define MAX_ARGS (WORKER_FIXED_ARGS + 2 * CONFIG_MAX_PARAMS + 1)

void worker_ref(worker *w)
{
	w->refs++;
}

void worker_unref(corrald *d, worker *w)
{
	pthread_mutex_lock(&d->lock);
	bool last = --w->refs == 0;
	pthread_mutex_unlock(&d->lock);
	if (!last)
		return;
	/* nng_aio_free waits for a running probe callback, which takes the
	 * lock: so this runs without it. */
	if (w->probe_aio)
		nng_aio_free(w->probe_aio);
	if (w->report_fd >= 0)
		close(w->report_fd);
	free(w);
}

/* --------------------------------------------------------- readiness --- */

/* Does the describe reply look like a signature (a map without error)? */
/* A spec map from a worker: a name, a known datatype, a shape of at most
 * CORRAL_MAX_DIMS integers (-1 allowed), and labels, if any, all strings. */
static bool spec_ok(const msgpack_object *o)
{
	const msgpack_object *name = wire_map_get(o, "name");
	const msgpack_object *dt = wire_map_get(o, "datatype");
	const msgpack_object *shape = wire_map_get(o, "shape");
	const msgpack_object *labels = wire_map_get(o, "labels");
	if (!name || name->type != MSGPACK_OBJECT_STR || !dt ||
	    dt->type != MSGPACK_OBJECT_STR ||
	    corral_dtype_parse(dt->via.str.ptr, dt->via.str.size) == CORRAL_DT_INVALID ||
	    !shape || shape->type != MSGPACK_OBJECT_ARRAY ||
	    shape->via.array.size > CORRAL_MAX_DIMS ||
	    (labels && labels->type != MSGPACK_OBJECT_ARRAY))
		return false;
	for (uint32_t i = 0; i < shape->via.array.size; i++) {
		const msgpack_object *d = &shape->via.array.ptr[i];
		if (d->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    !(d->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && d->via.i64 == -1))
			return false;
	}
	for (uint32_t i = 0; labels && i < labels->via.array.size; i++)
		if (labels->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
			return false;
	return true;
}

static int pack_specs(msgpack_packer *pk, const msgpack_object *a)
{
	if (msgpack_pack_array(pk, a->via.array.size))
		return -1;
	for (uint32_t i = 0; i < a->via.array.size; i++) {
		const msgpack_object *o = &a->via.array.ptr[i];
		const msgpack_object *labels = wire_map_get(o, "labels");
		if (msgpack_pack_map(pk, labels ? 4 : 3))
			return -1;
		static const char *const keys[] = {"name", "datatype", "shape", "labels"};
		for (size_t k = 0; k < (labels ? 4u : 3u); k++)
			if (wire_pack_cstr(pk, keys[k]) ||
			    msgpack_pack_object(pk, *wire_map_get(o, keys[k])))
				return -1;
	}
	return 0;
}

/*
 * The worker's describe reply, checked field by field (a worker is not
 * trusted) and re-encoded as the four key/value pairs `metadata` replies
 * carry: plugin, plugin_version, inputs, outputs. Stored so that `metadata`
 * appends them as they are, with nothing to parse. NULL if the reply is
 * not a proper signature.
 */
static char *describe_to_meta(const nng_msg *m, size_t *meta_len)
{
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0, len = nng_msg_len((nng_msg *)m);
	const void *body = nng_msg_body((nng_msg *)m);
	char why[256], *meta = NULL;
	if (wire_scan(body, len, WIRE_MAX_OBJECTS, why, sizeof why) != CORRAL_OK ||
	    msgpack_unpack_next(&u, body, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len || u.data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(&u);
		return NULL;
	}
	const msgpack_object *plugin = wire_map_get(&u.data, "plugin");
	const msgpack_object *version = wire_map_get(&u.data, "plugin_version");
	const msgpack_object *io[2] = {wire_map_get(&u.data, "inputs"),
	    wire_map_get(&u.data, "outputs")};
	bool ok = plugin && plugin->type == MSGPACK_OBJECT_STR && version &&
	    version->type == MSGPACK_OBJECT_STR;
	for (int k = 0; ok && k < 2; k++) {
		ok = io[k] && io[k]->type == MSGPACK_OBJECT_ARRAY;
		for (uint32_t i = 0; ok && i < io[k]->via.array.size; i++)
			ok = spec_ok(&io[k]->via.array.ptr[i]);
	}
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (ok && !(wire_pack_cstr(&pk, "plugin") || msgpack_pack_object(&pk, *plugin) ||
		    wire_pack_cstr(&pk, "plugin_version") ||
		    msgpack_pack_object(&pk, *version) || wire_pack_cstr(&pk, "inputs") ||
		    pack_specs(&pk, io[0]) || wire_pack_cstr(&pk, "outputs") ||
		    pack_specs(&pk, io[1]))) {
		*meta_len = sb.size; /* release() empties sb */
		meta = msgpack_sbuffer_release(&sb);
	}
	msgpack_sbuffer_destroy(&sb);
	msgpack_unpacked_destroy(&u);
	return meta;
}

/* The describe probe moved on: its send finished (so receive), or its reply
 * came (READY), or it failed or timed out (kill the worker; its exit is
 * then handled by workers_reap like any other). */
static void probe_done(void *arg)
{
	worker *w = arg;
	corrald *d = w->d;
	int rv = nng_aio_result(w->probe_aio);
	if (rv == 0 && !w->probe_sent) {
		w->probe_sent = true;
		nng_ctx_recv(w->probe_ctx, w->probe_aio);
		return;
	}
	if (rv != 0 && !w->probe_sent)
		nng_msg_free(nng_aio_get_msg(w->probe_aio));

	nng_msg *reply = rv == 0 ? nng_aio_get_msg(w->probe_aio) : NULL;
	char *meta = NULL;
	size_t meta_len = 0;
	if (reply != NULL)
		meta = describe_to_meta(reply, &meta_len);
	if (reply != NULL)
		nng_msg_free(reply);

	pthread_mutex_lock(&d->lock);
	model_version *mv = w->mv;
	char *old = NULL;
	/* READY only from STARTING: a version stopped meanwhile stays so. */
	if (mv->w == w && meta != NULL && mv->state == VERSION_STARTING) {
		old = mv->meta;
		mv->meta = meta;
		mv->meta_len = meta_len;
		mv->state = VERSION_READY;
		meta = NULL;
		log_msg(LOG_INFO, "model %s version %lld ready (worker pid %d)",
		    mv->model->name, (long long)mv->version, (int)w->pid);
	} else if (mv->w == w && w->pid > 0 && meta == NULL) {
		snprintf(w->cause, sizeof w->cause, "did not become ready: %s",
		    rv ? nng_strerror(rv) : "bad describe reply");
		log_msg(LOG_ERROR, "model %s version %lld: worker pid %d %s; killing it",
		    mv->model->name, (long long)mv->version, (int)w->pid, w->cause);
		kill(w->pid, SIGKILL);
	}
	pthread_mutex_unlock(&d->lock);
	free(old);
	free(meta);
	nng_ctx_close(w->probe_ctx);
}

static int probe_start(corrald *d, worker *w)
{
	nng_msg *m = NULL;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	int rv = msgpack_pack_map(&pk, 2) || wire_pack_envelope(&pk, NULL) ||
		wire_pack_kv_str(&pk, "op", "describe")
	    ? NNG_ENOMEM : 0;
	if (rv == 0 && (rv = nng_msg_alloc(&m, 0)) == 0)
		rv = nng_msg_append(m, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	if (rv == 0 && (rv = nng_ctx_open(&w->probe_ctx, w->sock)) == 0 &&
	    (rv = nng_aio_alloc(&w->probe_aio, probe_done, w)) == 0) {
		/* One deadline for the whole load: send waits for the dial. */
		nng_aio_set_timeout(w->probe_aio, (nng_duration)d->cfg.worker_start_timeout_ms);
		nng_aio_set_msg(w->probe_aio, m);
		nng_ctx_send(w->probe_ctx, w->probe_aio);
		return 0;
	}
	nng_msg_free(m);
	return rv;
}

/* ------------------------------------------------------------ spawning --- */

/* The parent of process `pid` as /proc says, or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, so after the
	 * last ')'. */
	char *p = strrchr(buf, ')');
	int ppid;
	char state;
	return p && sscanf(p + 1, " %c %d", &state, &ppid) == 2 ? (pid_t)ppid : -1;
}

/*
 * Only the worker this socket was made for may connect: any other process
 * that reaches the folder (another model's plugin during its unconfined
 * load(), say) would otherwise be handed this model's requests by REQ's
 * round robin. Checked by the peer's pid, which the kernel reports for a
 * unix socket. Until the fork's pid is stored, a child of this daemon is
 * let in (the worker may be quicker than the parent).
 */
static void pipe_admit(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	worker *w = arg;
	uint64_t peer = 0;
	pid_t want = __atomic_load_n(&w->spawned_pid, __ATOMIC_ACQUIRE);
	bool ok = nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &peer) == 0 &&
	    (want != 0 ? (pid_t)peer == want : parent_of((pid_t)peer) == getpid());
	if (!ok) {
		log_msg(LOG_WARN, "refused a connection from pid %llu to the socket of "
		    "model %s version %lld", (unsigned long long)peer,
		    w->mv->model->name, (long long)w->mv->version);
		nng_pipe_close(p);
	}
}

/* fork + exec with the report pipe's write end as fd 3 and no other
 * descriptor beyond stdio. */
static pid_t spawn_process(char *const argv[], int report_wr)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* Child of a threaded parent: only async-signal-safe calls until exec. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (report_wr != WORKER_REPORT_FD ? dup2(report_wr, WORKER_REPORT_FD) < 0
					  : fcntl(report_wr, F_SETFD, 0) < 0)
		_exit(127); /* dup2 clears close-on-exec; an fd already in place needs it cleared */
	if (close_range(WORKER_REPORT_FD + 1, ~0u, 0) != 0)
		_exit(127); /* never run a worker with the daemon's descriptors */
	execv(argv[0], argv);
	_exit(127);
}

/* Append what the worker wrote to its report pipe (why it could not serve)
 * to its cause. The worker is dead, so the read cannot block for long. */
static void read_report(worker *w)
{
	char buf[400];
	ssize_t n = read(w->report_fd, buf, sizeof buf - 1);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* The worker's text goes into logs and replies: one printable line. */
	for (ssize_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = ' ';
	size_t len = strlen(w->cause);
	snprintf(w->cause + len, sizeof w->cause - len, " (%s)", buf);
}

/* A worker could not be started: try again after the restart delay, as
 * after a crash (the cause may be passing, e.g. no memory or fds). */
static void spawn_failed(corrald *d, model_version *mv, worker *w, const char *why)
{
	log_msg(LOG_ERROR, "model %s version %lld: cannot start a worker: %s",
	    mv->model->name, (long long)mv->version, why);
	if (w != NULL) {
		nng_close(w->sock);
		if (w->report_fd >= 0)
			close(w->report_fd);
		free(w);
	}
	pthread_mutex_lock(&d->lock);
	snprintf(mv->last_cause, sizeof mv->last_cause, "cannot start a worker: %s", why);
	mv->state = VERSION_CRASHED;
	mv->restart_at_ms = now_ms() + d->cfg.restart_delay_ms;
	pthread_mutex_unlock(&d->lock);
}

void worker_spawn(corrald *d, model_version *mv)
{
	worker *w = calloc(1, sizeof *w);
	if (w == NULL) {
		spawn_failed(d, mv, NULL, "out of memory");
		return;
	}
	w->d = d;
	w->mv = mv;
	w->refs = 1; /* the version's */
	w->report_fd = -1;
	snprintf(w->sock_url, sizeof w->sock_url, "ipc://%s/w%llu.sock",
	    d->worker_dir, ++d->spawn_seq);

	int rv;
	if ((rv = nng_req0_open(&w->sock)) != 0) {
		free(w);
		spawn_failed(d, mv, NULL, nng_strerror(rv));
		return;
	}
	if ((rv = nng_pipe_notify(w->sock, NNG_PIPE_EV_ADD_PRE, pipe_admit, w)) ||
	    (rv = nng_socket_set_ms(w->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) ||
	    (rv = nng_socket_set_size(w->sock, NNG_OPT_RECVMAXSZ,
		 (size_t)d->cfg.max_response_bytes)) ||
	    (rv = nng_listen(w->sock, w->sock_url, NULL, 0))) {
		spawn_failed(d, mv, w, nng_strerror(rv));
		return;
	}

	int report[2];
	if (pipe2(report, O_CLOEXEC | O_NONBLOCK) != 0) {
		spawn_failed(d, mv, w, strerror(errno));
		return;
	}
	w->report_fd = report[0];

	model *m = mv->model;
	char version[24], parent[24], report_arg[16], max_reply[24];
	snprintf(report_arg, sizeof report_arg, "%d", WORKER_REPORT_FD);
	/* Leave room for the envelope nng adds to the worker's reply. */
	snprintf(max_reply, sizeof max_reply, "%lld", (long long)d->cfg.max_response_bytes - 64);
	char params[CONFIG_MAX_PARAMS][512];
	snprintf(version, sizeof version, "%lld", (long long)mv->version);
	snprintf(parent, sizeof parent, "%d", (int)getpid());
	char *argv[MAX_ARGS];
	size_t n = 0;
	argv[n++] = d->worker_exe;
	argv[n++] = "--plugin";
	argv[n++] = m->plugin_path;
	argv[n++] = "--model";
	argv[n++] = m->name;
	argv[n++] = "--version";
	argv[n++] = version;
	argv[n++] = "--dir";
	argv[n++] = mv->dir;
	argv[n++] = "--connect";
	argv[n++] = w->sock_url;
	argv[n++] = "--parent";
	argv[n++] = parent;
	argv[n++] = "--report-fd";
	argv[n++] = report_arg;
	argv[n++] = "--max-reply-bytes";
	argv[n++] = max_reply;
	for (size_t i = 0; i < m->cfg.n_params; i++) {
		/* The config refuses parameters that do not fit. */
		snprintf(params[i], sizeof params[i], "%s=%s", m->cfg.params[i].key,
		    m->cfg.params[i].value);
		argv[n++] = "--param";
		argv[n++] = params[i];
	}
	argv[n] = NULL;
	_Static_assert(WORKER_FIXED_ARGS == 18, "count the fixed arguments above");

	pid_t pid = spawn_process(argv, report[1]);
	int fork_errno = errno;
	if (pid > 0)
		__atomic_store_n(&w->spawned_pid, pid, __ATOMIC_RELEASE);
	close(report[1]);
	if (pid < 0) {
		spawn_failed(d, mv, w, strerror(fork_errno));
		return;
	}
	pthread_mutex_lock(&d->lock);
	w->pid = pid;
	mv->w = w;
	mv->state = VERSION_STARTING;
	pthread_mutex_unlock(&d->lock);
	log_msg(LOG_INFO, "model %s version %lld: started worker pid %d (%s)",
	    m->name, (long long)mv->version, (int)pid, m->plugin_path);
	if ((rv = probe_start(d, w)) != 0) {
		log_msg(LOG_ERROR, "worker probe: %s", nng_strerror(rv));
		kill(pid, SIGKILL);
	}
}

/* ------------------------------------------------------------- reaping --- */

static void describe_exit(int status, char *out, size_t n)
{
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		if (sig == SIGSYS)
			snprintf(out, n, "killed by SIGSYS: sandbox violation");
		else
			snprintf(out, n, "killed by signal %d (%s)", sig, strsignal(sig));
		return;
	}
	int code = WEXITSTATUS(status);
	static const char *const meanings[] = {
	    [WORKER_EXIT_USAGE - 64] = "bad worker arguments",
	    [WORKER_EXIT_PLUGIN - 64] = "plugin could not be loaded",
	    [WORKER_EXIT_LOAD - 64] = "model could not be loaded",
	    [WORKER_EXIT_CONFINE - 64] = "confinement could not be applied",
	    [WORKER_EXIT_CONNECT - 64] = "could not connect to the daemon",
	    [WORKER_EXIT_SERVE - 64] = "request loop failed",
	};
	const char *what = code == 127 ? "worker executable could not be run"
	    : code >= 64 && code <= WORKER_EXIT_SERVE ? meanings[code - 64]
						      : "exited";
	snprintf(out, n, "exit code %d: %s", code, what);
}

static worker *find_worker_locked(corrald *d, pid_t pid)
{
	for (size_t i = 0; i < d->n_models; i++)
		for (size_t j = 0; j < d->models[i].n_versions; j++) {
			worker *w = d->models[i].versions[j].w;
			if (w != NULL && w->pid == pid)
				return w;
		}
	return NULL;
}

void workers_reap(corrald *d)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		pthread_mutex_lock(&d->lock);
		worker *w = find_worker_locked(d, pid);
		if (w == NULL) {
			pthread_mutex_unlock(&d->lock);
			continue;
		}
		model_version *mv = w->mv;
		char cause[sizeof w->cause];
		describe_exit(status, cause, sizeof cause);
		if (w->cause[0] == '\0') /* else the probe already said why */
			memcpy(w->cause, cause, sizeof cause);
		read_report(w);
		snprintf(mv->last_cause, sizeof mv->last_cause, "%s", w->cause);
		w->pid = 0;
		mv->w = NULL;
		bool permanent = WIFEXITED(status) &&
		    (worker_exit_is_permanent(WEXITSTATUS(status)) ||
			WEXITSTATUS(status) == 127);
		if (mv->state == VERSION_STOPPED) {
			/* shutting down: stay stopped */
		} else if (permanent) {
			mv->state = VERSION_FAILED;
		} else {
			mv->state = VERSION_CRASHED;
			mv->restart_at_ms = now_ms() + d->cfg.restart_delay_ms;
		}
		log_msg(mv->state == VERSION_STOPPED ? LOG_INFO : LOG_ERROR,
		    "model %s version %lld: worker pid %d ended (%s); now %s",
		    mv->model->name, (long long)mv->version, (int)pid, w->cause,
		    version_state_name(mv->state));
		pthread_mutex_unlock(&d->lock);

		nng_close(w->sock); /* fails its requests in flight */
		worker_unref(d, w);
	}
}

void workers_tick(corrald *d)
{
	int64_t now = now_ms();
	for (size_t i = 0; i < d->n_models; i++)
		for (size_t j = 0; j < d->models[i].n_versions; j++) {
			model_version *mv = &d->models[i].versions[j];
			pthread_mutex_lock(&d->lock);
			bool due = mv->state == VERSION_CRASHED && mv->restart_at_ms <= now;
			pthread_mutex_unlock(&d->lock);
			if (due)
				worker_spawn(d, mv);
		}
}

void workers_stop_all(corrald *d, int64_t grace_ms)
{
	pthread_mutex_lock(&d->lock);
	size_t running = 0;
	for (size_t i = 0; i < d->n_models; i++)
		for (size_t j = 0; j < d->models[i].n_versions; j++) {
			model_version *mv = &d->models[i].versions[j];
			mv->state = VERSION_STOPPED;
			if (mv->w != NULL && mv->w->pid > 0) {
				kill(mv->w->pid, SIGTERM);
				running++;
			}
		}
	pthread_mutex_unlock(&d->lock);

	int64_t deadline = now_ms() + grace_ms;
	bool killed = false;
	for (;;) {
		workers_reap(d);
		pthread_mutex_lock(&d->lock);
		running = 0;
		for (size_t i = 0; i < d->n_models; i++)
			for (size_t j = 0; j < d->models[i].n_versions; j++) {
				worker *w = d->models[i].versions[j].w;
				if (w == NULL)
					continue;
				running++;
				if (!killed && now_ms() >= deadline)
					kill(w->pid, SIGKILL);
			}
		pthread_mutex_unlock(&d->lock);
		if (running == 0)
			break;
		killed = killed || now_ms() >= deadline;
		usleep(10000);
	}
}
