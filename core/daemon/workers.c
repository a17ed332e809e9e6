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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "../worker/worker_exit.h"
#include "front.h"
#include "gate.h"
#include "log.h"
#include "sock_closer.h"
#include "workers.h"


/* How long the supervisor waits for a dead worker's socket to close
 * (sock_closer.h); a close takes well under a millisecond. */
#define CLOSE_WAIT_MS 2000

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
	pthread_mutex_lock(&d->lock);
	version_unref(w->mv);
	pthread_mutex_unlock(&d->lock);
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
/* The inputs of a checked describe reply, with each one's further
 * accepted datatypes ("accepts", absent from older workers), into a new
 * array the caller frees; NULL when out of memory or there are none. */
static input_sig *parse_signature(const msgpack_object *inputs,
    const msgpack_object *accepts, size_t *n)
{
	*n = inputs->via.array.size;
	input_sig *sig = *n ? calloc(*n, sizeof *sig) : NULL;
	for (size_t i = 0; sig && i < *n; i++) {
		const msgpack_object *o = &inputs->via.array.ptr[i];
		const msgpack_object *name = wire_map_get(o, "name");
		const msgpack_object *dt = wire_map_get(o, "datatype");
		const msgpack_object *shape = wire_map_get(o, "shape");
		snprintf(sig[i].name, sizeof sig[i].name, "%.*s", (int)name->via.str.size,
		    name->via.str.ptr);
		sig[i].dtype = corral_dtype_parse(dt->via.str.ptr, dt->via.str.size);
		sig[i].ndim = shape->via.array.size;
		for (uint32_t k = 0; k < sig[i].ndim; k++)
			sig[i].shape[k] = shape->via.array.ptr[k].via.i64;
		const msgpack_object *acc = accepts && accepts->type == MSGPACK_OBJECT_ARRAY &&
			i < accepts->via.array.size
		    ? &accepts->via.array.ptr[i] : NULL;
		for (uint32_t k = 0; acc && acc->type == MSGPACK_OBJECT_ARRAY &&
		     k < acc->via.array.size; k++) {
			const msgpack_object *a = &acc->via.array.ptr[k];
			corral_dtype adt = a->type == MSGPACK_OBJECT_STR
			    ? corral_dtype_parse(a->via.str.ptr, a->via.str.size)
			    : CORRAL_DT_INVALID;
			if (adt != CORRAL_DT_INVALID)
				sig[i].accepts |= 1u << adt;
		}
	}
	return sig;
}

static char *describe_to_meta(const nng_msg *m, size_t *meta_len,
    char **sandbox, size_t *sandbox_len, input_sig **sig, size_t *n_sig)
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
	const msgpack_object *layers = wire_map_get(&u.data, "sandbox");
	ok = ok && layers && layers->type == MSGPACK_OBJECT_MAP;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* The layers go to `status` as the worker sent them (any map of
	 * strings is shown as it is). */
	if (ok && msgpack_pack_object(&pk, *layers) == 0) {
		*sandbox_len = sb.size;
		*sandbox = msgpack_sbuffer_release(&sb);
	} else {
		ok = false;
	}
	if (ok && !(wire_pack_cstr(&pk, "plugin") || msgpack_pack_object(&pk, *plugin) ||
		    wire_pack_cstr(&pk, "plugin_version") ||
		    msgpack_pack_object(&pk, *version) || wire_pack_cstr(&pk, "inputs") ||
		    pack_specs(&pk, io[0]) || wire_pack_cstr(&pk, "outputs") ||
		    pack_specs(&pk, io[1]))) {
		*meta_len = sb.size; /* release() empties sb */
		meta = msgpack_sbuffer_release(&sb);
		*sig = parse_signature(io[0], wire_map_get(&u.data, "accepts"), n_sig);
	}
	if (meta == NULL && ok) {
		free(*sandbox);
		*sandbox = NULL;
	}
	msgpack_sbuffer_destroy(&sb);
	msgpack_unpacked_destroy(&u);
	return meta;
}

/* The describe probe moved on: its send finished (so receive), or its reply
 * came (READY, or a heartbeat answered), or it failed or timed out (a
 * worker that never became READY, or a READY one silent since its
 * heartbeat, is killed; its exit is then handled by workers_reap like any
 * other). */
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
	nng_ctx_close(w->probe_ctx);

	nng_msg *reply = rv == 0 ? nng_aio_get_msg(w->probe_aio) : NULL;
	char *meta = NULL, *layers = NULL;
	size_t meta_len = 0, layers_len = 0, n_sig = 0;
	input_sig *sig = NULL;
	if (reply != NULL)
		meta = describe_to_meta(reply, &meta_len, &layers, &layers_len, &sig, &n_sig);
	if (reply != NULL)
		nng_msg_free(reply);

	pthread_mutex_lock(&d->lock);
	model_version *mv = w->mv;
	instance *in = w->inst;
	char *old = NULL, *old_layers = NULL;
	bool beat = w->beating;
	int64_t now = now_ms();
	w->beating = w->probing = false;
	/* READY only from STARTING: a version stopped meanwhile stays so. */
	if (in->w == w && meta != NULL && in->state == VERSION_STARTING &&
	    !mv->stopped && !mv->failed) {
		old = mv->meta;
		mv->meta = meta;
		mv->meta_len = meta_len;
		old_layers = mv->sandbox;
		mv->sandbox = layers;
		mv->sandbox_len = layers_len;
		in->state = VERSION_READY;
		in->ready_at_ms = now;
		if (!mv->sig_known && sig != NULL) {
			/* the same for every worker of the version: set once */
			mv->sig = sig;
			mv->n_sig = n_sig;
			sig = NULL;
			__atomic_store_n(&mv->sig_known, true, __ATOMIC_RELEASE);
		}
		/* a version with a validation set is checked at its first READY,
		 * before it takes traffic (gate.h) */
		if (mv->gate == GATE_PENDING && !mv->gate_started) {
			mv->gate_started = true;
			gate_start(d, mv);
		}
		mv->load_ms = now - w->started_ms;
		if (mv->ready_at[0] == '\0') {
			time_t t = time(NULL);
			struct tm tm;
			strftime(mv->ready_at, sizeof mv->ready_at, "%Y-%m-%dT%H:%M:%SZ",
			    gmtime_r(&t, &tm));
		}
		__atomic_store_n(&w->last_answer_ms, now, __ATOMIC_RELAXED);
		meta = layers = NULL;
		log_event(LOG_INFO, &(log_ctx){.model = mv->model->name, .version = mv->version,
		    .pid = w->pid}, "model %s version %lld ready (worker pid %d, instance %d)",
		    mv->model->name, (long long)mv->version, (int)w->pid, in->index);
	} else if (beat && meta != NULL) {
		__atomic_store_n(&w->last_answer_ms, now, __ATOMIC_RELAXED);
	} else if (beat) {
		/* Busy with requests it keeps answering is not hung. */
		int64_t last = __atomic_load_n(&w->last_answer_ms, __ATOMIC_RELAXED);
		if (in->w == w && w->pid > 0 && last <= w->beat_sent_ms && !w->timed_out) {
			w->hung = true;
			log_event(LOG_ERROR, &(log_ctx){.model = mv->model->name,
			    .version = mv->version, .pid = w->pid},
			    "model %s version %lld: worker pid %d missed its "
			    "heartbeat (%s); killing it", mv->model->name,
			    (long long)mv->version, (int)w->pid, nng_strerror(rv));
			kill(w->pid, SIGKILL);
		}
	} else if (in->w == w && w->pid > 0 && meta == NULL) {
		snprintf(w->cause, sizeof w->cause, "did not become ready: %s",
		    rv ? nng_strerror(rv) : "bad describe reply");
		log_event(LOG_ERROR, &(log_ctx){.model = mv->model->name, .version = mv->version,
		    .pid = w->pid}, "model %s version %lld: worker pid %d %s; killing it",
		    mv->model->name, (long long)mv->version, (int)w->pid, w->cause);
		kill(w->pid, SIGKILL);
	}
	pthread_mutex_unlock(&d->lock);
	free(old);
	free(old_layers);
	free(meta);
	free(layers);
	free(sig);
}

/* Send w a describe on a context of its own, answered within timeout_ms:
 * the readiness probe of a new worker, and later its heartbeats. */
static int probe_start(worker *w, int64_t timeout_ms)
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
	if (rv == 0 && w->probe_aio == NULL)
		rv = nng_aio_alloc(&w->probe_aio, probe_done, w);
	if (rv == 0 && (rv = nng_ctx_open(&w->probe_ctx, w->sock)) == 0) {
		/* One deadline for the whole exchange: at start, send waits
		 * for the dial. */
		w->probe_sent = false;
		nng_aio_set_timeout(w->probe_aio, (nng_duration)timeout_ms);
		nng_aio_set_msg(w->probe_aio, m);
		nng_ctx_send(w->probe_ctx, w->probe_aio);
		return 0;
	}
	nng_msg_free(m);
	return rv;
}

/* Ping w if it is READY, idle and has been silent for heartbeat_ms; it
 * must answer within heartbeat_ms (or answer something else meanwhile).
 * Supervisor thread. */
static void heartbeat(corrald *d, worker *w, instance *in, int64_t now)
{
	int64_t every = d->cfg.heartbeat_ms;
	pthread_mutex_lock(&d->lock);
	bool due = every > 0 && in->w == w && in->state == VERSION_READY && w->pid > 0 &&
	    !w->beating && !w->hung && !w->timed_out && w->outstanding == 0 &&
	    now - __atomic_load_n(&w->last_answer_ms, __ATOMIC_RELAXED) >= every;
	if (due) {
		w->beating = w->probing = true;
		w->beat_sent_ms = now;
	}
	pthread_mutex_unlock(&d->lock);
	if (!due)
		return;
	int rv = probe_start(w, every);
	if (rv != 0) {
		log_msg(LOG_WARN, "worker pid %d: heartbeat not sent: %s", (int)w->pid,
		    nng_strerror(rv));
		pthread_mutex_lock(&d->lock);
		w->beating = w->probing = false;
		pthread_mutex_unlock(&d->lock);
	}
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
		return;
	}
	__atomic_store_n(&w->pipe_id, nng_pipe_id(p), __ATOMIC_RELEASE);
}

/* The worker's own connection closed (not a refused one): it is dead or
 * dying. Until the supervisor reaps it, no new request is sent its way. */
static void pipe_gone(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	worker *w = arg;
	if (nng_pipe_id(p) == __atomic_load_n(&w->pipe_id, __ATOMIC_ACQUIRE))
		__atomic_store_n(&w->disconnected, true, __ATOMIC_RELEASE);
}

/* The argument list of one worker: strings formatted into a pool that
 * lives as long as the spawn. */
#define ARGS_MAX (40 + 2 * (CONFIG_MAX_PARAMS + CONFIG_MAX_RO_PATHS + 64))
typedef struct arg_list {
	char *v[ARGS_MAX + 1];
	size_t n;
	char pool[64 * 1024];
	size_t used;
	bool overflow;
} arg_list;

static void arg_add(arg_list *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void arg_add(arg_list *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = sizeof a->pool - a->used;
	int k = vsnprintf(a->pool + a->used, room, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= room || a->n == ARGS_MAX) {
		a->overflow = true;
		return;
	}
	a->v[a->n++] = a->pool + a->used;
	a->v[a->n] = NULL;
	a->used += (size_t)k + 1;
}

/* --ro PATH for the real location of `path` (the worker's private view
 * binds paths as the daemon resolves them). */
static void arg_ro(arg_list *a, const char *path)
{
	char real[PATH_MAX];
	if (realpath(path, real) == NULL)
		return; /* absent: the worker would not find it anyway */
	arg_add(a, "--ro");
	arg_add(a, "%s", real);
}

/* What the worker reads: the plugin's folder (its bundled libraries too),
 * the version folder and the targets of links in it, its socket folder,
 * and the model's read_only_paths. */
static void add_ro_paths(arg_list *a, const model *m, const model_version *mv,
    const worker *w)
{
	char *plugin = realpath(m->plugin_path, NULL);
	if (plugin != NULL) {
		char *slash = strrchr(plugin, '/');
		if (slash != NULL && slash != plugin)
			*slash = '\0';
		arg_ro(a, plugin);
		free(plugin);
	}
	arg_ro(a, mv->dir);
	DIR *dh = opendir(mv->dir);
	struct dirent *e;
	while (dh != NULL && (e = readdir(dh)) != NULL)
		if (e->d_type == DT_LNK) {
			char link[PATH_MAX];
			snprintf(link, sizeof link, "%s/%s", mv->dir, e->d_name);
			arg_ro(a, link);
		}
	if (dh != NULL)
		closedir(dh);
	arg_ro(a, w->sock_dir);
	for (size_t i = 0; i < m->cfg.n_ro_paths; i++)
		arg_ro(a, m->cfg.ro_paths[i]);
}

static void build_args(corrald *d, const model_version *mv, const worker *w,
    arg_list *a)
{
	const model *m = mv->model;
	const worker_limits *lim = &m->cfg.limits;
	char dir[PATH_MAX], plugin[PATH_MAX];
	a->n = 0;
	a->used = 0;
	a->overflow = false;
	arg_add(a, "%s", d->worker_exe);
	arg_add(a, "--plugin");
	/* Real paths: the worker's private view holds only those. */
	arg_add(a, "%s", realpath(m->plugin_path, plugin) ? plugin : m->plugin_path);
	arg_add(a, "--model");
	arg_add(a, "%s", m->name);
	arg_add(a, "--version");
	arg_add(a, "%lld", (long long)mv->version);
	arg_add(a, "--dir");
	arg_add(a, "%s", realpath(mv->dir, dir) ? dir : mv->dir);
	arg_add(a, "--connect");
	arg_add(a, "%s", w->sock_url);
	arg_add(a, "--parent");
	arg_add(a, "%d", (int)getpid());
	arg_add(a, "--report-fd");
	arg_add(a, "%d", WORKER_REPORT_FD);
	/* Leave room for the envelope nng adds to the worker's reply. */
	arg_add(a, "--max-reply-bytes");
	arg_add(a, "%lld", (long long)d->cfg.max_response_bytes - 64);
	if (d->as_root) {
		arg_add(a, "--uid");
		arg_add(a, "%u", (unsigned)m->uid);
		arg_add(a, "--gid");
		arg_add(a, "%u", (unsigned)m->gid);
	}
	arg_add(a, "--open-files");
	arg_add(a, "%lld", (long long)lim->open_files);
	if (lim->cpu_seconds > 0) {
		arg_add(a, "--cpu-seconds");
		arg_add(a, "%lld", (long long)lim->cpu_seconds);
	}
	if (lim->address_space_bytes > 0) {
		arg_add(a, "--address-space");
		arg_add(a, "%lld", (long long)lim->address_space_bytes);
	}
	add_ro_paths(a, m, mv, w);
	for (size_t i = 0; i < m->cfg.n_params; i++) {
		arg_add(a, "--param");
		arg_add(a, "%s=%s", m->cfg.params[i].key, m->cfg.params[i].value);
	}
}

/* The environment a worker starts with: nothing of the daemon's caller's
 * (no LD_*, no proxies, no credentials), except the sanitizer options a
 * test build runs with. */
static void build_env(char **env, size_t cap)
{
	static const char *const passed[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS",
	    "LSAN_OPTIONS"};
	size_t n = 0;
	env[n++] = "PATH=/usr/bin:/bin";
	env[n++] = "LANG=C";
	for (size_t i = 0; i < sizeof passed / sizeof *passed && n + 1 < cap; i++) {
		size_t len = strlen(passed[i]);
		for (char **e = environ; *e; e++)
			if (strncmp(*e, passed[i], len) == 0 && (*e)[len] == '=')
				env[n++] = *e;
	}
	env[n] = NULL;
}

/* The descriptors a worker starts with: /dev/null, its output pipe (as
 * stdout and stderr) and its report pipe (WORKER_REPORT_FD); nothing else. */
typedef struct child_fds {
	int null_rd, err_wr, report_wr;
} child_fds;

/* fork + exec into the worker's cgroups. */
static pid_t spawn_process(char *const argv[], char *const envp[],
    const child_fds *fds, const worker_cgroup *cg)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* Child of a threaded parent: only async-signal-safe calls until exec. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (cgroup_join(cg) != 0)
		_exit(WORKER_EXIT_SETUP);
	/* stdio first (either source may sit on descriptor 3): stdout and
	 * stderr both go to the relay. */
	if (dup2(fds->null_rd, STDIN_FILENO) < 0 || dup2(fds->err_wr, STDOUT_FILENO) < 0 ||
	    dup2(fds->err_wr, STDERR_FILENO) < 0)
		_exit(WORKER_EXIT_SETUP);
	if (fds->report_wr != WORKER_REPORT_FD ? dup2(fds->report_wr, WORKER_REPORT_FD) < 0
					       : fcntl(fds->report_wr, F_SETFD, 0) < 0)
		_exit(WORKER_EXIT_SETUP); /* dup2 clears close-on-exec; an fd already in place needs it cleared */
	if (close_range(WORKER_REPORT_FD + 1, ~0u, 0) != 0)
		_exit(WORKER_EXIT_SETUP); /* never run a worker with the daemon's descriptors */
	execve(argv[0], argv, envp);
	_exit(WORKER_EXIT_EXEC);
}

/* A worker's stderr, relayed line by line into the daemon's log with the
 * worker's name, until the worker closes it. A worker never writes to a
 * file itself (its RLIMIT_FSIZE is 0), so this works whatever the daemon's
 * stderr is. */
typedef struct relay {
	int fd;
	char label[160];
	char model[128];
	int64_t version;
	pid_t pid;
} relay;

static void *relay_stderr(void *arg)
{
	relay *r = arg;
	FILE *f = fdopen(r->fd, "r");
	char line[1024];
	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		/* the plugin's text, one printable line in our log */
		for (char *c = line; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = ' ';
		/* warn: shown at the default level and at warn, since violation
		 * reports and load errors come this way */
		log_event(LOG_WARN, &(log_ctx){.model = r->model, .version = r->version,
		    .pid = r->pid}, "%s: %s", r->label, line);
	}
	if (f != NULL)
		fclose(f);
	else
		close(r->fd);
	free(r);
	return NULL;
}

static void start_relay(int fd, const model_version *mv, pid_t pid)
{
	relay *r = malloc(sizeof *r);
	pthread_t t;
	pthread_attr_t attr;
	if (r == NULL) {
		close(fd);
		return;
	}
	r->fd = fd;
	snprintf(r->label, sizeof r->label, "worker %d (%s/%lld)", (int)pid,
	    mv->model->name, (long long)mv->version);
	snprintf(r->model, sizeof r->model, "%s", mv->model->name);
	r->version = mv->version;
	r->pid = pid;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, relay_stderr, r) != 0) {
		close(fd);
		free(r);
	}
	pthread_attr_destroy(&attr);
}

/* Append what the worker wrote to its report pipe (why it could not serve)
 * into buf, as one printable line. The worker is dead, so the read cannot
 * block for long. */
static void read_report(worker *w, char *buf, size_t n)
{
	ssize_t got = read(w->report_fd, buf, n - 1);
	buf[got > 0 ? got : 0] = '\0';
	/* The worker's text goes into logs and replies. */
	for (ssize_t i = 0; i < got; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = ' ';
	for (ssize_t i = got - 1; i >= 0 && buf[i] == ' '; i--)
		buf[i] = '\0';
}

/* Remove the worker's private socket folder. */
static void remove_sock_dir(worker *w)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/s.sock", w->sock_dir);
	unlink(path);
	rmdir(w->sock_dir);
}

static void worker_discard(worker *w)
{
	nng_close(w->sock);
	if (w->report_fd >= 0)
		close(w->report_fd);
	cgroup_close_fds(&w->cg);
	cgroup_destroy(&w->cg);
	remove_sock_dir(w);
	free(w);
}

/* ------------------------------------------------------------ restarts --- */

/* No more restarts for mv: kill its other workers (reaped as FAILED).
 * Lock held. */
static void fail_version(model_version *mv, const char *why)
{
	mv->failed = true;
	if (why != mv->last_cause) {
		char last[sizeof mv->last_cause];
		snprintf(last, sizeof last, "%s", mv->last_cause);
		snprintf(mv->last_cause, sizeof mv->last_cause, "%s (last exit: %.300s)", why, last);
	}
	log_event(LOG_ERROR, &(log_ctx){.model = mv->model->name, .version = mv->version},
	    "model %s version %lld: FAILED: %s; not restarting",
	    mv->model->name, (long long)mv->version, why);
	for (size_t k = 0; k < mv->n_inst; k++) {
		instance *in = &mv->inst[k];
		if (in->w != NULL && in->w->pid > 0)
			kill(in->w->pid, SIGKILL);
		else
			in->state = VERSION_FAILED;
	}
}

/*
 * in's worker is gone: schedule the next start after its backoff (with
 * +-20% jitter), and double the backoff for the time after, up to its
 * maximum; a worker that had been READY for healthy_ms starts again from
 * the base delay. Past the restart intensity (more than `intensity`
 * restarts of the version's workers within period_ms), the version fails
 * instead. Lock held.
 */
static void schedule_restart(model_version *mv, instance *in, int64_t now)
{
	const restart_policy *p = &mv->model->cfg.restart;
	size_t ring = (size_t)p->intensity;
	int64_t oldest = mv->restart_log[mv->restart_log_next % ring];
	if (oldest != 0 && now - oldest < p->period_ms) {
		char why[160];
		snprintf(why, sizeof why, "crash loop: %lld restarts within %lld ms",
		    (long long)p->intensity, (long long)p->period_ms);
		in->state = VERSION_FAILED;
		fail_version(mv, why);
		return;
	}
	mv->restart_log[mv->restart_log_next++ % ring] = now;
	if (in->ready_at_ms != 0 && now - in->ready_at_ms >= p->healthy_ms)
		in->delay_ms = p->delay_ms;
	int64_t delay = in->delay_ms * (80 + random() % 41) / 100;
	in->restart_at_ms = now + delay;
	in->delay_ms = in->delay_ms * 2 > p->max_delay_ms ? p->max_delay_ms : in->delay_ms * 2;
	in->ready_at_ms = 0;
	in->restarts++;
	in->state = VERSION_CRASHED;
	log_event(LOG_WARN, &(log_ctx){.model = mv->model->name, .version = mv->version},
	    "model %s version %lld instance %d: restart %llu in %lld ms",
	    mv->model->name, (long long)mv->version, in->index,
	    (unsigned long long)in->restarts, (long long)delay);
}

/* A worker could not be started: try again after the backoff, as after a
 * crash (the cause may be passing, e.g. no memory or fds). */
static void spawn_failed(corrald *d, instance *in, model_version *mv, worker *w,
    const char *why)
{
	log_event(LOG_ERROR, &(log_ctx){.model = mv->model->name, .version = mv->version},
	    "model %s version %lld: cannot start a worker: %s",
	    mv->model->name, (long long)mv->version, why);
	if (w != NULL)
		worker_discard(w);
	pthread_mutex_lock(&d->lock);
	snprintf(mv->last_cause, sizeof mv->last_cause, "cannot start a worker: %s", why);
	in->w = NULL;
	schedule_restart(mv, in, now_ms());
	pthread_mutex_unlock(&d->lock);
}

/* The worker's own folder for its socket, which only its user may enter:
 * another model's worker (another user, or the same one without this
 * folder in its view) cannot reach it. */
static int make_sock_dir(corrald *d, worker *w)
{
	const model *m = w->mv->model;
	if (mkdir(w->sock_dir, 0700) != 0)
		return -1;
	if (d->as_root && chown(w->sock_dir, m->uid, m->gid) != 0) {
		rmdir(w->sock_dir);
		return -1;
	}
	return 0;
}

void worker_spawn(corrald *d, model_version *mv, instance *in)
{
	worker *w = calloc(1, sizeof *w);
	if (w == NULL) {
		spawn_failed(d, in, mv, NULL, "out of memory");
		return;
	}
	model *m = mv->model;
	unsigned long long seq = ++d->spawn_seq;
	w->d = d;
	w->mv = mv;
	w->inst = in;
	w->refs = 1; /* the instance's */
	w->report_fd = -1;
	for (int c = 0; c < CG_N; c++)
		w->cg.procs_fd[c] = -1;
	snprintf(w->sock_dir, sizeof w->sock_dir, "%s/w%llu", d->worker_dir, seq);
	snprintf(w->sock_url, sizeof w->sock_url, "ipc://%s/s.sock", w->sock_dir);

	int rv;
	if (make_sock_dir(d, w) != 0) {
		w->sock_dir[0] = '\0';
		free(w);
		spawn_failed(d, in, mv, NULL, strerror(errno));
		return;
	}
	if ((rv = nng_req0_open(&w->sock)) != 0) {
		remove_sock_dir(w);
		free(w);
		spawn_failed(d, in, mv, NULL, nng_strerror(rv));
		return;
	}
	if ((rv = nng_pipe_notify(w->sock, NNG_PIPE_EV_ADD_PRE, pipe_admit, w)) ||
	    (rv = nng_pipe_notify(w->sock, NNG_PIPE_EV_REM_POST, pipe_gone, w)) ||
	    (rv = nng_socket_set_ms(w->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) ||
	    (rv = nng_socket_set_size(w->sock, NNG_OPT_RECVMAXSZ,
		 (size_t)d->cfg.max_response_bytes)) ||
	    (rv = nng_listen(w->sock, w->sock_url, NULL, 0))) {
		spawn_failed(d, in, mv, w, nng_strerror(rv));
		return;
	}
	if (d->as_root && chown(w->sock_url + 6, m->uid, m->gid) != 0) {
		spawn_failed(d, in, mv, w, strerror(errno));
		return;
	}
	char err[256];
	if (cgroup_create(&d->cg, seq, &m->cfg.limits, &w->cg, err, sizeof err) != 0) {
		spawn_failed(d, in, mv, w, err);
		return;
	}

	static arg_list args; /* supervisor thread only */
	build_args(d, mv, w, &args);
	if (args.overflow) {
		spawn_failed(d, in, mv, w, "the worker's argument list is too long");
		return;
	}
	char *env[8];
	build_env(env, sizeof env / sizeof *env);

	int report[2], errp[2] = {-1, -1};
	child_fds fds = {.null_rd = open("/dev/null", O_RDONLY | O_CLOEXEC)};
	if (fds.null_rd < 0 || pipe2(report, O_CLOEXEC | O_NONBLOCK) != 0) {
		if (fds.null_rd >= 0)
			close(fds.null_rd);
		spawn_failed(d, in, mv, w, strerror(errno));
		return;
	}
	w->report_fd = report[0];
	if (pipe2(errp, O_CLOEXEC) != 0) {
		close(fds.null_rd);
		close(report[1]);
		spawn_failed(d, in, mv, w, strerror(errno));
		return;
	}
	fds.err_wr = errp[1];
	fds.report_wr = report[1];

	pid_t pid = spawn_process(args.v, env, &fds, &w->cg);
	int fork_errno = errno;
	if (pid > 0)
		__atomic_store_n(&w->spawned_pid, pid, __ATOMIC_RELEASE);
	close(report[1]);
	close(errp[1]);
	close(fds.null_rd);
	cgroup_close_fds(&w->cg);
	if (pid < 0) {
		close(errp[0]);
		spawn_failed(d, in, mv, w, strerror(fork_errno));
		return;
	}
	start_relay(errp[0], mv, pid);
	pthread_mutex_lock(&d->lock);
	version_ref(mv); /* dropped when w is freed (worker_unref) */
	w->probing = true; /* the readiness probe, just below */
	w->pid = pid;
	w->started_ms = now_ms();
	in->w = w;
	in->state = VERSION_STARTING;
	mv->starts++;
	pthread_mutex_unlock(&d->lock);
	log_event(LOG_INFO, &(log_ctx){.model = m->name, .version = mv->version, .pid = pid},
	    "model %s version %lld: started worker pid %d (instance %d, %s)",
	    m->name, (long long)mv->version, (int)pid, in->index, m->plugin_path);
	if ((rv = probe_start(w, d->cfg.worker_start_timeout_ms)) != 0) {
		log_msg(LOG_ERROR, "worker probe: %s", nng_strerror(rv));
		pthread_mutex_lock(&d->lock);
		w->probing = false;
		pthread_mutex_unlock(&d->lock);
		kill(pid, SIGKILL);
	}
}

void worker_kill_hung(corrald *d, worker *w, int64_t timeout_ms)
{
	/* A request can time out queued behind slow ones on a worker that
	 * keeps answering: that worker is slow, not hung, and stays. */
	int64_t silent = now_ms() - __atomic_load_n(&w->last_answer_ms, __ATOMIC_RELAXED);
	if (silent < timeout_ms)
		return;
	pthread_mutex_lock(&d->lock);
	if (w->pid > 0 && !w->timed_out) {
		w->timed_out = true;
		log_event(LOG_ERROR, &(log_ctx){.model = w->mv->model->name,
		    .version = w->mv->version, .pid = w->pid},
		    "model %s version %lld: worker pid %d did not answer "
		    "within %lld ms; killing it", w->mv->model->name,
		    (long long)w->mv->version, (int)w->pid, (long long)timeout_ms);
		kill(w->pid, SIGKILL);
	}
	pthread_mutex_unlock(&d->lock);
}

/* ------------------------------------------------------------- reaping --- */

static void retire(corrald *d, worker *w);

/* One more sandbox violation of mv, by the syscall its text names; past
 * MODEL_MAX_VIOLATION_KINDS names, the last slot counts "other". Lock
 * held. */
static void count_violation(model_version *mv, const char *text)
{
	char name[32];
	exit_violation_syscall(text, name, sizeof name);
	size_t i = 0;
	while (i < mv->n_violations && strcmp(mv->violations[i].syscall, name) != 0)
		i++;
	if (i == mv->n_violations && i == MODEL_MAX_VIOLATION_KINDS) {
		i = MODEL_MAX_VIOLATION_KINDS - 1;
		snprintf(mv->violations[i].syscall, sizeof mv->violations[i].syscall, "other");
	} else if (i == mv->n_violations) {
		snprintf(mv->violations[i].syscall, sizeof mv->violations[i].syscall, "%s", name);
		mv->n_violations++;
	}
	mv->violations[i].n++;
}

static worker *find_worker_locked(corrald *d, pid_t pid)
{
	for (size_t i = 0; i < d->n_models; i++)
		for (size_t j = 0; j < d->models[i]->n_versions; j++) {
			model_version *mv = d->models[i]->versions[j];
			for (size_t k = 0; k < mv->n_inst; k++) {
				worker *w = mv->inst[k].w;
				if (w != NULL && w->pid == pid)
					return w;
			}
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
		instance *in = w->inst;
		char report[400], cause[sizeof w->cause];
		read_report(w, report, sizeof report);
		exit_facts facts = {
		    .status = status, .killed_for_timeout = w->timed_out,
		    .killed_for_heartbeat = w->hung,
		    .stopped_by_daemon = mv->stopped,
		    .oom_killed = cgroup_oom_killed(&w->cg), .report = report};
		exit_cause kind = exit_classify(&facts, cause, sizeof cause);
		bool starting = in->state == VERSION_STARTING;
		if (w->cause[0] != '\0') /* the probe already said why */
			kind = EXIT_START_FAILURE;
		else
			memcpy(w->cause, cause, sizeof cause);
		mv->exits[kind]++;
		if (kind == EXIT_VIOLATION)
			count_violation(mv, w->cause);
		/* a failed version keeps saying why it failed */
		if (!mv->failed)
			snprintf(mv->last_cause, sizeof mv->last_cause, "%s", w->cause);
		snprintf(in->last_cause, sizeof in->last_cause, "%s", w->cause);
		w->pid = 0;
		in->w = NULL;
		/* Permanent: restarting would fail the same way. A violation
		 * before the worker served is in the plugin's load path. */
		bool permanent = (WIFEXITED(status) &&
				     (worker_exit_is_permanent(WEXITSTATUS(status)) ||
					 WEXITSTATUS(status) == WORKER_EXIT_EXEC)) ||
		    (kind == EXIT_VIOLATION && starting);
		log_event(mv->stopped ? LOG_INFO : LOG_ERROR,
		    &(log_ctx){.model = mv->model->name, .version = mv->version, .pid = pid},
		    "model %s version %lld: worker pid %d (instance %d) ended (%s: %s)",
		    mv->model->name, (long long)mv->version, (int)pid, in->index,
		    exit_cause_name(kind), w->cause);
		if (mv->stopped) {
			in->state = VERSION_STOPPED;
		} else if (mv->failed) {
			in->state = VERSION_FAILED;
		} else if (permanent) {
			in->state = VERSION_FAILED;
			fail_version(mv, mv->last_cause);
		} else {
			schedule_restart(mv, in, now_ms());
		}
		pthread_mutex_unlock(&d->lock);

		retire(d, w);
	}
}

/*
 * w has ended: its requests in flight fail now (front_abort_ended: each is
 * retried or answered with w's cause) and its probe is cut short. Its
 * socket is closed later, by workers_close_retired, once nothing uses it:
 * nng 1.5.2 can panic or hang when a socket closes under an operation on
 * one of its contexts (sock_closer.h). The instance's reference on w
 * moves to d->retired.
 */
static void retire(corrald *d, worker *w)
{
	if (d->front != NULL)
		front_abort_ended(d->front);
	if (w->probe_aio != NULL)
		nng_aio_abort(w->probe_aio, NNG_ECLOSED);
	if (d->n_retired == d->cap_retired) {
		size_t cap = d->cap_retired ? d->cap_retired * 2 : 16;
		worker **grown = realloc(d->retired, cap * sizeof *grown);
		if (grown == NULL) {
			/* no room to wait: close now, as nng intends it to work */
			sock_closer_close(d->closer, w->sock, CLOSE_WAIT_MS);
			cgroup_destroy(&w->cg);
			remove_sock_dir(w);
			worker_unref(d, w);
			return;
		}
		d->retired = grown;
		d->cap_retired = cap;
	}
	d->retired[d->n_retired++] = w;
}

void workers_close_retired(corrald *d, bool stopping)
{
	for (size_t i = 0; i < d->n_retired;) {
		worker *w = d->retired[i];
		pthread_mutex_lock(&d->lock);
		bool probing = w->probing;
		bool unused = (stopping || w->outstanding == 0) && !probing;
		pthread_mutex_unlock(&d->lock);
		if (!unused) {
			/* a probe's receive may have started after the reap's
			 * abort (its send had just finished): abort again */
			if (probing)
				nng_aio_abort(w->probe_aio, NNG_ECLOSED);
			i++;
			continue;
		}
		if (d->front != NULL)
			front_release_socket(d->front, w->sock);
		sock_closer_close(d->closer, w->sock, CLOSE_WAIT_MS);
		cgroup_destroy(&w->cg);
		remove_sock_dir(w);
		worker_unref(d, w);
		d->retired[i] = d->retired[--d->n_retired];
	}
}

void workers_tick(corrald *d)
{
	int64_t now = now_ms();
	for (size_t i = 0; i < d->n_models; i++)
		for (size_t j = 0; j < d->models[i]->n_versions; j++) {
			model_version *mv = d->models[i]->versions[j];
			for (size_t k = 0; k < mv->n_inst; k++) {
				instance *in = &mv->inst[k];
				pthread_mutex_lock(&d->lock);
				/* a new slot, or a restart whose time has come */
				bool due = !mv->failed && !mv->stopped && !mv->draining &&
				    ((in->state == VERSION_STARTING && in->w == NULL) ||
					(in->state == VERSION_CRASHED && in->restart_at_ms <= now));
				worker *w = in->w;
				pthread_mutex_unlock(&d->lock);
				if (due)
					worker_spawn(d, mv, in);
				else if (w != NULL)
					heartbeat(d, w, in, now);
			}
		}
}

void workers_stop_all(corrald *d, int64_t grace_ms)
{
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n_models; i++)
		for (size_t j = 0; j < d->models[i]->n_versions; j++) {
			model_version *mv = d->models[i]->versions[j];
			mv->stopped = true;
			for (size_t k = 0; k < mv->n_inst; k++) {
				worker *w = mv->inst[k].w;
				if (w != NULL && w->pid > 0)
					kill(w->pid, SIGTERM);
				else
					mv->inst[k].state = VERSION_STOPPED;
			}
		}
	pthread_mutex_unlock(&d->lock);

	int64_t deadline = now_ms() + grace_ms;
	bool killed = false;
	for (;;) {
		workers_reap(d);
		pthread_mutex_lock(&d->lock);
		size_t running = 0;
		for (size_t i = 0; i < d->n_models; i++)
			for (size_t j = 0; j < d->models[i]->n_versions; j++) {
				model_version *mv = d->models[i]->versions[j];
				for (size_t k = 0; k < mv->n_inst; k++) {
					worker *w = mv->inst[k].w;
					if (w == NULL)
						continue;
					running++;
					if (!killed && now_ms() >= deadline)
						kill(w->pid, SIGKILL);
				}
			}
		pthread_mutex_unlock(&d->lock);
		/* the client side may be gone: then nothing uses the sockets
		 * but probes, which the reap cut short */
		workers_close_retired(d, d->front == NULL);
		if (running == 0 && d->n_retired > 0 && now_ms() >= deadline + grace_ms) {
			log_msg(LOG_WARN, "%zu ended workers' sockets are still in use; left "
			    "open", d->n_retired);
			break;
		}
		if (running == 0 && d->n_retired == 0)
			break;
		killed = killed || now_ms() >= deadline;
		usleep(10000);
	}
}
