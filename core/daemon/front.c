/*
 * front.c - requests from clients: receive, parse, answer locally or
 * forward to the version's worker, reply.
 *
 * A request's context moves through: RECV -> (local op) -> SEND, or
 * RECV -> WORKER_SEND -> WORKER_RECV -> SEND. The client's message is kept
 * until the reply is written (its `id` is echoed from it) and then reused
 * for the reply. Per-context buffers are reused, so the steady state does
 * not allocate beyond nng's own messages.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "front.h"
#include "control_ops.h"
#include "feedback.h"
#include "shadow.h"
#include "gate.h"
#include "info_ops.h"
#include "lifecycle.h"
#include "log.h"
#include "predlog.h"
#include "routing.h"
#include "workers.h"

/* nng closes a connection that sends a message over its receive limit,
 * without a reply. Up to this multiple of max_request_bytes we still
 * receive and answer PAYLOAD_TOO_LARGE; beyond it, memory comes first. */
#define FRONT_RECV_HARD_FACTOR 4

/* A request of a retryable model whose worker ended under it is sent
 * again, on another READY worker and within its deadline, up to this many
 * times: under a burst of worker deaths, the second worker can be gone
 * too before its connection's end is seen. */
#define FRONT_MAX_RETRIES 2

/* Ops that may block for a while (validate scores a whole set; feedback
 * waits on the prediction log's database) run on threads of their own:
 * nng has a few task threads for every request's callbacks, and a blocked
 * one would hold up everybody's infers. */
#define FRONT_SLOW_THREADS 2

typedef corral_status op_handler(corrald *, const wire_request *, msgpack_packer *, char *,
    size_t);

typedef struct front_req {
	corrald *d;
	struct front *f;
	nng_ctx ctx;
	nng_aio *aio;   /* client side */
	nng_aio *waio;  /* worker side */
	nng_aio *naio;  /* naps while waiting for a dead worker's cause or for
			   a READY worker: never waio, since nng 1.5 lets a
			   sleep's "expiry is success" outlive it and a later
			   receive timeout on the same aio would then complete
			   as success */
	bool sending;   /* aio carries our reply */
	nng_msg *msg;   /* the client's request, until the reply replaces it */
	wire_request req;
	bool parsed;
	worker *w;      /* referenced while forwarding */
	worker *inflight; /* w while its exchange runs: set and cleared under
			     the lock, for front_abort_ended */
	nng_ctx wctx;   /* kept open for the next request to the same worker */
	bool wctx_open;
	nng_socket wctx_sock;
	bool wsent;
	int cause_waits; /* naps taken waiting for a dead worker's cause */
	bool napping_for_cause; /* else naps wait for a READY worker */
	bool parked;     /* counted in mv->waiting */
	int retries;     /* times sent again after its worker ended */
	model_version *mv; /* referenced from the version's choice until the
			      request no longer needs it */
	int64_t model_timeout_ms; /* the model's own deadline, for hang checks */
	nng_msg *wreply;        /* the worker's reply, until ours is sent */
	const char *tail;       /* its outputs, appended after r->sb */
	size_t tail_len;
	model *model;           /* models outlive every request */
	const char *model_name;
	int64_t version;
	int64_t timeout_ms;
	int64_t deadline_ms;   /* now_ms() by which the worker must answer */
	int64_t received_us;   /* when the request arrived (metrics.h) */
	int64_t sent_us;       /* when it was last sent to a worker */
	int64_t answered_us;   /* when that worker's reply came; 0: none */
	corral_status status;  /* what the reply says, for the metrics */
	size_t inputs_off;     /* the inputs array in the worker request in */
	size_t inputs_len;     /*   r->sb, for the prediction log */
	int64_t rows;          /* the request's rows (predlog_schema.h) */
	uint32_t seed;         /* this context's draws for the log's sampling */
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char err[1024];
	op_handler *slow_op;    /* queued for the slow threads: this op */
	struct front_req *slow_next;
} front_req;

struct front {
	corrald *d;
	nng_socket sock;
	front_req *reqs;
	size_t n;
	bool draining; /* atomic: new requests are refused */
	int busy;      /* atomic: requests received and not yet answered */
	/* the slow ops' queue and threads (FRONT_SLOW_THREADS) */
	pthread_mutex_t slow_lock;
	pthread_cond_t slow_cv;
	front_req *slow_head, *slow_tail;
	bool slow_stop;
	pthread_t slow_threads[FRONT_SLOW_THREADS];
	size_t n_slow_threads;
};

static void front_recv(front_req *r)
{
	nng_ctx_recv(r->ctx, r->aio);
}

/* Hold mv for r (dropping the version it held, if any). Lock held. */
static void hold_version(front_req *r, model_version *mv)
{
	version_ref(mv);
	if (r->mv != NULL)
		version_unref(r->mv);
	r->mv = mv;
}

/* r is done with its version (any thread: the reference is atomic). */
static void release_version(front_req *r)
{
	if (r->mv != NULL) {
		version_unref(r->mv);
		r->mv = NULL;
	}
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Count the request in the metrics of the version it reached, if any,
 * and let that version go. */
static void count_request(front_req *r)
{
	if (r->mv != NULL) {
		bool answered = r->answered_us != 0;
		metrics_observe(&r->mv->metrics, r->status, now_us() - r->received_us,
		    answered ? r->sent_us - r->received_us : -1,
		    answered ? r->answered_us - r->sent_us : -1);
	}
	else if (r->status != CORRAL_OK)
		metrics_observe_unrouted(r->status);
	release_version(r);
}

/* Send what r->sb holds as the reply, in place of the request. */
static void front_send(front_req *r)
{
	count_request(r);
	if (r->parsed) {
		wire_request_fini(&r->req);
		r->parsed = false;
	}
	nng_msg_clear(r->msg);
	int rv = nng_msg_append(r->msg, r->sb.data, r->sb.size);
	if (rv == 0 && r->wreply != NULL)
		rv = nng_msg_append(r->msg, r->tail, r->tail_len);
	if (r->wreply != NULL) {
		nng_msg_free(r->wreply);
		r->wreply = NULL;
	}
	if (rv != 0) {
		nng_msg_free(r->msg);
		r->msg = NULL;
		__atomic_sub_fetch(&r->f->busy, 1, __ATOMIC_RELAXED);
		front_recv(r);
		return;
	}
	nng_aio_set_msg(r->aio, r->msg);
	r->msg = NULL;
	r->sending = true;
	nng_ctx_send(r->ctx, r->aio);
}

static void front_send_error(front_req *r, corral_status st, const char *msg)
{
	r->status = st;
	msgpack_sbuffer_clear(&r->sb);
	wire_pack_error(&r->pk, r->parsed ? r->req.id : NULL, st, msg);
	front_send(r);
}

/* ----------------------------------------------------------- forwarding --- */

/* NON_FINITE_INPUT when a floating-point input holds NaN or an infinity
 * (the model's config says non_finite: reject), naming where. */
static corral_status check_finite(const wire_tensor *t, char *err, size_t errlen)
{
	bool fp = t->dtype == CORRAL_DT_FP64 || t->dtype == CORRAL_DT_FP32;
	size_t n = fp ? (size_t)t->elements : 0;
	size_t cols = t->ndim ? (size_t)t->shape[t->ndim - 1] : 1;
	for (size_t i = 0; i < n; i++) {
		double v = wire_tensor_fp_at(t, i);
		if (!isfinite(v)) {
			snprintf(err, errlen, "input '%.*s' has %s at row %zu, column %zu (this "
			    "model's config rejects NaN and infinite values)", (int)t->name.len,
			    t->name.ptr, isnan(v) ? "NaN" : "an infinity",
			    cols ? i / cols + 1 : 1, cols ? i % cols + 1 : 1);
			return CORRAL_E_NON_FINITE_INPUT;
		}
	}
	return CORRAL_OK;
}

/*
 * Check input t against the version's signature before any worker sees
 * it, each fault with its own code: an input the model does not have or
 * given twice (INVALID_ARGUMENT), its datatype (TYPE_MISMATCH), its
 * number of dimensions (RANK_MISMATCH), its last dimension, the features
 * (FEATURE_COUNT_MISMATCH), any other fixed dimension (SHAPE_MISMATCH).
 * *seen marks the inputs met so far (bit per input, the first 64).
 */
static corral_status check_signature(front_req *r, const wire_tensor *t, uint64_t *seen)
{
	const model_version *mv = r->mv;
	int nl = (int)(t->name.len > 64 ? 64 : t->name.len);
	size_t i = 0;
	while (i < mv->n_sig && !wire_str_eq(t->name, mv->sig[i].name))
		i++;
	if (i == mv->n_sig) {
		snprintf(r->err, sizeof r->err, "the model has no input '%.*s'", nl, t->name.ptr);
		return CORRAL_E_INVALID_ARGUMENT;
	}
	const input_sig *in = &mv->sig[i];
	if (i < 64 && (*seen >> i) & 1u) {
		snprintf(r->err, sizeof r->err, "input '%s' given twice", in->name);
		return CORRAL_E_INVALID_ARGUMENT;
	}
	if (i < 64)
		*seen |= 1ull << i;
	if (t->dtype != in->dtype && !(in->accepts & (1u << t->dtype))) {
		snprintf(r->err, sizeof r->err, "input '%s' must be %s, got %s", in->name,
		    corral_dtype_name(in->dtype), corral_dtype_name(t->dtype));
		return CORRAL_E_TYPE_MISMATCH;
	}
	uint32_t last = in->ndim - 1;
	corral_status st = CORRAL_OK;
	if (t->ndim != in->ndim)
		st = CORRAL_E_RANK_MISMATCH;
	else if (in->ndim > 0 && in->shape[last] >= 0 && t->shape[last] != in->shape[last])
		st = CORRAL_E_FEATURE_COUNT_MISMATCH;
	for (uint32_t d = 0; st == CORRAL_OK && d < in->ndim; d++)
		if (in->shape[d] >= 0 && t->shape[d] != in->shape[d])
			st = CORRAL_E_SHAPE_MISMATCH;
	if (st == CORRAL_OK)
		return st;
	/* the shapes are written out for a refusal only, not on every request */
	char want[128], got[128];
	wire_format_shape(want, sizeof want, in->shape, in->ndim);
	wire_format_shape(got, sizeof got, t->shape, t->ndim);
	if (st == CORRAL_E_RANK_MISMATCH)
		snprintf(r->err, sizeof r->err, "input '%s' has %u dimensions %s, the model "
		    "takes %u %s (-1: any)", in->name, t->ndim, got, in->ndim, want);
	else if (st == CORRAL_E_FEATURE_COUNT_MISMATCH)
		snprintf(r->err, sizeof r->err, "input '%s' has %lld features per row, the "
		    "model takes %lld (shape %s, the model's %s)", in->name,
		    (long long)t->shape[last], (long long)in->shape[last], got, want);
	else
		snprintf(r->err, sizeof r->err, "input '%s' has shape %s, the model takes "
		    "%s (-1: any)", in->name, got, want);
	return st;
}

/* {v, op: "infer", inputs: [canonical tensors], outputs?: [names]} */
static corral_status build_worker_request(front_req *r)
{
	const wire_request *q = &r->req;
	if (q->inputs == NULL || q->inputs->via.array.size == 0) {
		snprintf(r->err, sizeof r->err, "infer needs a non-empty 'inputs' array");
		return CORRAL_E_INVALID_ARGUMENT;
	}
	/* the signature, once a worker of the version has described it */
	bool known = __atomic_load_n(&r->mv->sig_known, __ATOMIC_ACQUIRE);
	uint64_t seen = 0;
	if (known && q->inputs->via.array.size != r->mv->n_sig) {
		snprintf(r->err, sizeof r->err, "the model takes %zu inputs, got %u",
		    r->mv->n_sig, q->inputs->via.array.size);
		return CORRAL_E_INVALID_ARGUMENT;
	}
	uint32_t n_out = q->outputs ? q->outputs->via.array.size : 0;
	msgpack_sbuffer_clear(&r->sb);
	msgpack_packer *pk = &r->pk;
	int rc = msgpack_pack_map(pk, n_out ? 4 : 3) || wire_pack_envelope(pk, NULL) ||
	    wire_pack_kv_str(pk, "op", "infer") || wire_pack_cstr(pk, "inputs");
	r->inputs_off = r->sb.size;
	rc = rc || msgpack_pack_array(pk, q->inputs->via.array.size);
	for (uint32_t i = 0; rc == 0 && i < q->inputs->via.array.size; i++) {
		wire_tensor t;
		corral_status st = wire_tensor_decode(&q->inputs->via.array.ptr[i], &t,
		    r->err, sizeof r->err);
		if (st == CORRAL_OK && known)
			st = check_signature(r, &t, &seen);
		if (st == CORRAL_OK && r->model->cfg.reject_non_finite)
			st = check_finite(&t, r->err, sizeof r->err);
		if (st != CORRAL_OK)
			return st;
		if (r->retries == 0) /* a retry is the same request again */
			drift_observe(r->mv->drift, &t);
		if (i == 0)
			r->rows = t.ndim >= 2 ? t.shape[0] : 1;
		rc = wire_pack_tensor(pk, &t);
	}
	r->inputs_len = r->sb.size - r->inputs_off;
	if (rc == 0 && n_out > 0)
		rc = wire_pack_cstr(pk, "outputs") || msgpack_pack_array(pk, n_out);
	for (uint32_t i = 0; rc == 0 && i < n_out; i++) {
		/* KServe's {name: ...} maps, or plain strings. */
		const msgpack_object *o = &q->outputs->via.array.ptr[i];
		if (o->type == MSGPACK_OBJECT_MAP)
			o = wire_map_get(o, "name");
		if (o == NULL || o->type != MSGPACK_OBJECT_STR) {
			snprintf(r->err, sizeof r->err,
			    "outputs[%u] must be a name or a map with a string 'name'", i);
			return CORRAL_E_INVALID_ARGUMENT;
		}
		rc = msgpack_pack_object(pk, *o);
	}
	if (rc != 0) {
		snprintf(r->err, sizeof r->err, "out of memory");
		return CORRAL_E_INTERNAL;
	}
	return CORRAL_OK;
}

/*
 * The worker's reply {outputs: [...]} or {error: {...}}, checked (the
 * worker is not trusted: every output must be a well-formed tensor).
 * Returns the status to send; on success *tail and *tail_len hold the encoded
 * outputs array inside wm, which the client's reply reuses as it is.
 */
static corral_status check_worker_reply(front_req *r, nng_msg *wm,
    const char **tail, size_t *tail_len)
{
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	const char *body = nng_msg_body(wm);
	size_t len = nng_msg_len(wm), off = 0;
	corral_status st = CORRAL_E_INTERNAL;
	char why[256];
	snprintf(r->err, sizeof r->err, "the worker sent a malformed reply");
	if (wire_scan(body, len, WIRE_MAX_OBJECTS, why, sizeof why) != CORRAL_OK ||
	    msgpack_unpack_next(&u, body, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len || u.data.type != MSGPACK_OBJECT_MAP)
		goto out;
	const msgpack_object *error = wire_map_get(&u.data, "error");
	if (error != NULL) {
		const msgpack_object *c = wire_map_get(error, "code");
		const msgpack_object *m = wire_map_get(error, "message");
		st = c && c->type == MSGPACK_OBJECT_STR
		    ? corral_status_parse(c->via.str.ptr, c->via.str.size)
		    : CORRAL_E_INTERNAL;
		/* Only server codes may reach a client from a worker. */
		if (st == CORRAL_OK || st >= CORRAL_E_CONNECT)
			st = CORRAL_E_INTERNAL;
		if (m && m->type == MSGPACK_OBJECT_STR)
			snprintf(r->err, sizeof r->err, "%.*s", (int)m->via.str.size, m->via.str.ptr);
		else
			snprintf(r->err, sizeof r->err, "the worker gave no message");
		goto out;
	}
	/* Success is exactly {outputs: [tensor...]}. */
	const msgpack_object_kv *kv = &u.data.via.map.ptr[0];
	if (u.data.via.map.size != 1 || kv->key.type != MSGPACK_OBJECT_STR ||
	    !wire_str_eq((wire_str){kv->key.via.str.ptr, kv->key.via.str.size}, "outputs") ||
	    kv->val.type != MSGPACK_OBJECT_ARRAY)
		goto out;
	for (uint32_t i = 0; i < kv->val.via.array.size; i++) {
		wire_tensor t;
		if (wire_tensor_decode(&kv->val.via.array.ptr[i], &t, why, sizeof why) != CORRAL_OK ||
		    t.array != NULL) {
			snprintf(r->err, sizeof r->err, "the worker sent a malformed output: %s",
			    t.array != NULL ? "data is not bin" : why);
			goto out;
		}
	}
	/* The value is the map's only entry, so it runs from the end of its
	 * key (a str pointing into body) to the end of the message. */
	*tail = kv->key.via.str.ptr + kv->key.via.str.size;
	*tail_len = (size_t)(body + len - *tail);
	st = CORRAL_OK;
out:
	msgpack_unpacked_destroy(&u);
	return st;
}

/* Write the client's reply for the worker's reply wm; r keeps wm until the
 * reply is sent, since the outputs are copied from it only then. */
static void reply_from_worker(front_req *r, nng_msg *wm)
{
	const char *tail = NULL;
	size_t tail_len = 0;
	corral_status st = check_worker_reply(r, wm, &tail, &tail_len);
	/* the log copies the inputs from the worker request, still in r->sb */
	predlog *log = r->d->predlog;
	int64_t logged = st == CORRAL_OK && log != NULL && !r->req.no_log &&
		predlog_sampled(log, &r->seed)
	    ? predlog_submit(log, r->model_name, r->version, r->rows, r->sb.data + r->inputs_off,
		  r->inputs_len, tail, tail_len)
	    : 0;
	msgpack_sbuffer_clear(&r->sb);
	msgpack_packer *pk = &r->pk;
	const msgpack_object *id = r->req.id;
	if (st == CORRAL_OK &&
	    (msgpack_pack_map(pk, 4 + (id != NULL) + (logged > 0)) ||
		wire_pack_envelope(pk, id) ||
		wire_pack_kv_str(pk, "model_name", r->model_name) ||
		wire_pack_cstr(pk, "model_version") || wire_pack_i64(pk, r->version) ||
		(logged > 0 &&
		    (wire_pack_cstr(pk, "prediction_id") || wire_pack_i64(pk, logged))) ||
		wire_pack_cstr(pk, "outputs"))) {
		st = CORRAL_E_INTERNAL;
		snprintf(r->err, sizeof r->err, "out of memory");
	}
	r->status = st;
	if (st != CORRAL_OK) {
		msgpack_sbuffer_clear(&r->sb);
		wire_pack_error(pk, id, st, r->err);
		nng_msg_free(wm);
		return;
	}
	r->wreply = wm;
	r->tail = tail;
	r->tail_len = tail_len;
}

/* Wait this long, at most, for the supervisor to say why a worker whose
 * connection broke has died (it reaps on SIGCHLD, so normally at once). */
#define CAUSE_WAIT_STEP_MS 20
#define CAUSE_WAIT_STEPS 100

/* The worker-side exchange ended with rv (0: its reply is in waio):
 * answer the client. */
static void front_dispatch(front_req *r);
static void dispatch_locked(front_req *r);

/* Should this answered request also go to the model's shadow version
 * (shadow.h)? Only traffic that named no version, answered by another
 * version, for the shadow's share. Lock held. */
static bool wants_mirror(const front_req *r)
{
	const model *m = r->model;
	return m->shadow_version != 0 && m->shadow_version != r->version &&
	    r->req.version == 0 && random() % 100 < m->shadow_percent;
}

/* Mirror: the worker request still in r->sb, and a copy of its reply to
 * compare the shadow's answer with. */
static void mirror(front_req *r, nng_msg *reply)
{
	nng_msg *request = NULL, *primary = NULL;
	if (nng_msg_alloc(&request, 0) != 0 ||
	    nng_msg_append(request, r->sb.data, r->sb.size) != 0 ||
	    nng_msg_dup(&primary, reply) != 0) {
		nng_msg_free(request);
		return;
	}
	shadow_mirror(r->d->shadows, r->model, request, primary);
}

/* The client's `id` as text for the log (a string or an integer), or
 * NULL when it sent none. */
static const char *request_id(const front_req *r, char *buf, size_t n)
{
	const msgpack_object *id = r->req.id;
	if (id == NULL)
		return NULL;
	if (id->type == MSGPACK_OBJECT_STR)
		snprintf(buf, n, "%.*s", (int)id->via.str.size, id->via.str.ptr);
	else if (id->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		snprintf(buf, n, "%llu", (unsigned long long)id->via.u64);
	else if (id->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		snprintf(buf, n, "%lld", (long long)id->via.i64);
	else
		return NULL;
	return buf;
}

static void worker_finish(front_req *r, int rv)
{
	corrald *d = r->d;
	pthread_mutex_lock(&d->lock);
	r->inflight = NULL;
	r->w->outstanding--;
	r->w->served += rv == 0;
	bool retry = rv != 0 && rv != NNG_ETIMEDOUT && r->retries < FRONT_MAX_RETRIES &&
	    r->model->cfg.retryable;
	bool shadow = rv == 0 && wants_mirror(r);
	pthread_mutex_unlock(&d->lock);
	if (retry) {
		/* On another READY worker (the dead one is not READY any more),
		 * within the same deadline. */
		char id[64];
		log_event(LOG_INFO, &(log_ctx){.model = r->model_name, .version = r->version,
		    .pid = r->w->spawned_pid, .request_id = request_id(r, id, sizeof id)},
		    "model %s version %lld: retrying a request whose worker ended (%s)",
		    r->model_name, (long long)r->version, r->w->cause);
		worker_unref(d, r->w);
		r->w = NULL;
		r->retries++;
		front_dispatch(r);
		return;
	}
	if (rv == 0) {
		r->answered_us = now_us();
		__atomic_store_n(&r->w->last_answer_ms, r->answered_us / 1000, __ATOMIC_RELAXED);
		if (shadow)
			mirror(r, nng_aio_get_msg(r->waio));
		reply_from_worker(r, nng_aio_get_msg(r->waio));
	} else {
		msgpack_sbuffer_clear(&r->sb);
		if (rv == NNG_ETIMEDOUT) {
			snprintf(r->err, sizeof r->err,
			    "model '%s' version %lld did not answer within %lld ms",
			    r->model_name, (long long)r->version, (long long)r->timeout_ms);
			r->status = CORRAL_E_DEADLINE_EXCEEDED;
			wire_pack_error(&r->pk, r->req.id, r->status, r->err);
			worker_kill_hung(d, r->w, r->model_timeout_ms);
		} else {
			pthread_mutex_lock(&d->lock);
			snprintf(r->err, sizeof r->err,
			    "the worker serving model '%s' version %lld ended: %s",
			    r->model_name, (long long)r->version,
			    r->w->cause[0] ? r->w->cause : nng_strerror(rv));
			pthread_mutex_unlock(&d->lock);
			r->status = CORRAL_E_WORKER_CRASHED;
			wire_pack_error(&r->pk, r->req.id, r->status, r->err);
		}
	}
	worker_unref(d, r->w);
	r->w = NULL;
	front_send(r);
}

/* A nap on naio ended: look again for a READY worker, or (after a broken
 * connection) for the supervisor's word on why the worker died; the
 * connection error is what we report if it does not come in time. */
static void nap_done(void *arg)
{
	front_req *r = arg;
	corrald *d = r->d;
	if (!r->napping_for_cause) {
		front_dispatch(r);
		return;
	}
	pthread_mutex_lock(&d->lock);
	bool known = r->w->cause[0] != '\0';
	pthread_mutex_unlock(&d->lock);
	if (!known && r->cause_waits++ < CAUSE_WAIT_STEPS) {
		nng_sleep_aio(CAUSE_WAIT_STEP_MS, r->naio);
		return;
	}
	r->cause_waits = 0;
	r->napping_for_cause = false;
	worker_finish(r, NNG_ECONNRESET);
}

static void worker_done(void *arg)
{
	front_req *r = arg;
	int rv = nng_aio_result(r->waio);
	if (rv != 0 && rv != NNG_ETIMEDOUT && r->wsent) {
		/* The connection broke under a request: the worker is dying.
		 * Answer once the supervisor has reaped it and knows why. */
		r->cause_waits = 1;
		r->napping_for_cause = true;
		nng_sleep_aio(0, r->naio);
		return;
	}
	if (!r->wsent) {
		if (rv == 0) {
			/* One deadline for send and receive together. */
			int64_t left = r->deadline_ms - now_ms();
			r->wsent = true;
			nng_aio_set_timeout(r->waio, (nng_duration)(left > 0 ? left : 1));
			nng_ctx_recv(r->wctx, r->waio);
			return;
		}
		nng_msg_free(nng_aio_get_msg(r->waio));
	}
	worker_finish(r, rv);
}

/* A context on the worker's socket: the one kept from the last request
 * when it went to the same worker (socket ids are not reused), else a new
 * one. Contexts of a closed socket are closed with it. */
static int front_worker_ctx(front_req *r)
{
	if (r->wctx_open && nng_socket_id(r->wctx_sock) == nng_socket_id(r->w->sock))
		return 0;
	if (r->wctx_open)
		nng_ctx_close(r->wctx);
	int rv = nng_ctx_open(&r->wctx, r->w->sock);
	r->wctx_open = rv == 0;
	r->wctx_sock = r->w->sock;
	return rv;
}

/* How often a request waiting for a READY worker looks again. */
#define DISPATCH_POLL_MS 5

/* Stop counting r among mv's waiting requests. Lock held. */
static void unpark(front_req *r)
{
	if (r->parked) {
		r->mv->waiting--;
		r->parked = false;
	}
}

static void front_infer(front_req *r)
{
	corrald *d = r->d;
	corral_status st = CORRAL_OK;
	pthread_mutex_lock(&d->lock);
	model_version *mv = models_find(d, r->req.model, r->req.version, true, &st,
	    r->err, sizeof r->err);
	if (mv != NULL) {
		hold_version(r, mv);
		r->model = mv->model;
		r->model_name = mv->model->name;
		r->version = mv->version;
		r->model_timeout_ms = mv->model->cfg.request_timeout_ms
		    ? mv->model->cfg.request_timeout_ms : d->cfg.request_timeout_ms;
		/* the client's deadline, capped by the model's */
		r->timeout_ms = r->req.timeout_ms > 0 && r->req.timeout_ms < r->model_timeout_ms
		    ? r->req.timeout_ms : r->model_timeout_ms;
		r->deadline_ms = now_ms() + r->timeout_ms;
		r->retries = 0;
		dispatch_locked(r); /* unlocks */
		return;
	}
	pthread_mutex_unlock(&d->lock);
	front_send_error(r, st, r->err);
}

/*
 * Send r to the READY worker of its version with the least outstanding
 * work. With none READY (starting, restarting), r waits, polling, until
 * one is or its deadline passes; a version that has failed answers
 * UNAVAILABLE, and one with max_queue requests already queued answers
 * OVERLOADED.
 */
static void front_dispatch(front_req *r)
{
	pthread_mutex_lock(&r->d->lock);
	dispatch_locked(r);
}

/* front_dispatch with the lock already held (it is released): an infer
 * finds its version and goes on under the same lock. */
static void dispatch_locked(front_req *r)
{
	corrald *d = r->d;
	model_version *mv = r->mv;
	corral_status st = CORRAL_OK;
	version_state vs = version_state_of(mv);
	if ((vs == VERSION_DRAINING || vs == VERSION_STOPPED) && r->req.version == 0) {
		/* Its version is being unloaded (lifecycle.h) before the request
		 * reached a worker: the routing picks again. */
		model_version *now = routing_pick(mv->model);
		if (now != NULL && now != mv) {
			unpark(r);
			hold_version(r, now);
			r->version = now->version;
			mv = now;
			vs = version_state_of(mv);
		}
	}
	/* a version being unloaded takes no new request; one whose
	 * validation failed takes no traffic naming no version, and one
	 * whose validation is running makes such traffic wait (gate.h) */
	bool gated = r->req.version == 0 && !gate_open(mv);
	bool closed = vs == VERSION_FAILED || vs == VERSION_STOPPED || vs == VERSION_DRAINING ||
	    (gated && mv->gate == GATE_FAILED);
	worker *w = closed || gated ? NULL : version_pick_worker(mv);
	size_t limit = (size_t)mv->model->cfg.max_queue;
	if (closed) {
		st = CORRAL_E_UNAVAILABLE;
		if (gated)
			snprintf(r->err, sizeof r->err, "model '%s' version %lld is kept out of "
			    "traffic: validation failed: %s", mv->model->name,
			    (long long)mv->version, mv->gate_report);
		else
			snprintf(r->err, sizeof r->err, "model '%s' version %lld is %s%s%s",
			    mv->model->name, (long long)mv->version, version_state_name(vs),
			    mv->last_cause[0] ? ": " : "", mv->last_cause);
	} else if (w == NULL && now_ms() >= r->deadline_ms) {
		st = CORRAL_E_DEADLINE_EXCEEDED;
		snprintf(r->err, sizeof r->err,
		    "no worker of model '%s' version %lld was ready within %lld ms (%s%s%s)",
		    mv->model->name, (long long)mv->version, (long long)r->timeout_ms,
		    version_state_name(vs), mv->last_cause[0] ? ": " : "", mv->last_cause);
	} else if (!r->parked && version_queue_length(mv) >= limit &&
		   (w == NULL || w->outstanding > 0)) {
		st = CORRAL_E_OVERLOADED;
		snprintf(r->err, sizeof r->err,
		    "model '%s' version %lld has %zu requests queued (max_queue %zu)",
		    mv->model->name, (long long)mv->version, version_queue_length(mv), limit);
	} else if (w == NULL) {
		if (!r->parked) {
			r->parked = true;
			mv->waiting++;
		}
		pthread_mutex_unlock(&d->lock);
		r->napping_for_cause = false;
		nng_sleep_aio(DISPATCH_POLL_MS, r->naio);
		return;
	}
	unpark(r);
	int rv = 0;
	if (st == CORRAL_OK) {
		r->w = r->inflight = w;
		worker_ref(w);
		/* an idle worker starts a busy spell: its silence counts from now */
		if (w->outstanding++ == 0)
			__atomic_store_n(&w->last_answer_ms, now_ms(), __ATOMIC_RELAXED);
		/* Under the lock: the supervisor closes a dead worker's socket
		 * after taking it out of service under the lock, and nng 1.5
		 * waits for ever for a context opened while the close runs. */
		rv = front_worker_ctx(r);
	}
	pthread_mutex_unlock(&d->lock);
	if (st != CORRAL_OK) {
		front_send_error(r, st, r->err);
		return;
	}

	if (rv == NNG_ECLOSED) {
		/* its socket closed under us: the worker is dying */
		worker_finish(r, rv);
		return;
	}
	nng_msg *wm = NULL;
	if (rv == 0 && (st = build_worker_request(r)) == CORRAL_OK &&
	    ((rv = nng_msg_alloc(&wm, 0)) != 0 ||
		(rv = nng_msg_append(wm, r->sb.data, r->sb.size)) != 0))
		st = CORRAL_E_INTERNAL;
	if (rv != 0 && st == CORRAL_OK)
		st = CORRAL_E_INTERNAL;
	if (st != CORRAL_OK) {
		if (rv != 0)
			snprintf(r->err, sizeof r->err, "cannot reach the worker: %s",
			    nng_strerror(rv));
		nng_msg_free(wm);
		pthread_mutex_lock(&d->lock);
		r->inflight = NULL;
		w->outstanding--;
		pthread_mutex_unlock(&d->lock);
		worker_unref(d, r->w);
		r->w = NULL;
		front_send_error(r, st, r->err);
		return;
	}
	int64_t left = r->deadline_ms - now_ms();
	r->wsent = false;
	r->sent_us = now_us();
	nng_aio_set_msg(r->waio, wm);
	nng_aio_set_timeout(r->waio, (nng_duration)(left > 0 ? left : 1));
	nng_ctx_send(r->wctx, r->waio);
}

/* ------------------------------------------------------------ dispatch --- */

/* Run r's op and answer it: on a slow thread, or inline. */
static void run_op(front_req *r, op_handler *handler)
{
	msgpack_sbuffer_clear(&r->sb);
	corral_status st = handler(r->d, &r->req, &r->pk, r->err, sizeof r->err);
	if (st != CORRAL_OK)
		front_send_error(r, st, r->err);
	else
		front_send(r);
}

static void *slow_main(void *arg)
{
	front *f = arg;
	pthread_mutex_lock(&f->slow_lock);
	for (;;) {
		while (f->slow_head == NULL && !f->slow_stop)
			pthread_cond_wait(&f->slow_cv, &f->slow_lock);
		front_req *r = f->slow_head;
		if (r == NULL)
			break;
		f->slow_head = r->slow_next;
		if (f->slow_head == NULL)
			f->slow_tail = NULL;
		bool stopping = f->slow_stop;
		pthread_mutex_unlock(&f->slow_lock);
		if (stopping)
			front_send_error(r, CORRAL_E_UNAVAILABLE, "corrald is shutting down");
		else
			run_op(r, r->slow_op);
		pthread_mutex_lock(&f->slow_lock);
	}
	pthread_mutex_unlock(&f->slow_lock);
	return NULL;
}

static void queue_slow(front_req *r, op_handler *handler)
{
	front *f = r->f;
	r->slow_op = handler;
	r->slow_next = NULL;
	pthread_mutex_lock(&f->slow_lock);
	if (f->slow_tail != NULL)
		f->slow_tail->slow_next = r;
	else
		f->slow_head = r;
	f->slow_tail = r;
	pthread_cond_signal(&f->slow_cv);
	pthread_mutex_unlock(&f->slow_lock);
}

static void front_handle(front_req *r)
{
	size_t len = nng_msg_len(r->msg);
	if (len > (size_t)r->d->cfg.max_request_bytes) {
		snprintf(r->err, sizeof r->err,
		    "request of %zu bytes is over the limit of %lld bytes", len,
		    (long long)r->d->cfg.max_request_bytes);
		front_send_error(r, CORRAL_E_PAYLOAD_TOO_LARGE, r->err);
		return;
	}
	corral_status st = wire_request_parse(&r->req, nng_msg_body(r->msg), len,
	    r->err, sizeof r->err);
	r->parsed = true;
	if (st != CORRAL_OK) {
		front_send_error(r, st, r->err);
		return;
	}
	wire_str op = r->req.op;
	if (wire_str_eq(op, "infer")) {
		if (r->req.model.len == 0)
			front_send_error(r, CORRAL_E_INVALID_ARGUMENT, "infer needs 'model'");
		else
			front_infer(r);
		return;
	}
	op_handler *handler = wire_str_eq(op, "metadata") ? op_metadata
	    : wire_str_eq(op, "models")                   ? op_models
	    : wire_str_eq(op, "health")                   ? op_health
	    : wire_str_eq(op, "status")                   ? op_status
	    : wire_str_eq(op, "promote") || wire_str_eq(op, "rollback") ||
		    wire_str_eq(op, "set-traffic") || wire_str_eq(op, "shadow")
		? op_control
	    : wire_str_eq(op, "load") || wire_str_eq(op, "unload") || wire_str_eq(op, "reload")
		? op_lifecycle
	    : wire_str_eq(op, "validate") ? op_validate
	    : wire_str_eq(op, "feedback") ? op_feedback
		: NULL;
	if (handler == NULL) {
		snprintf(r->err, sizeof r->err, "unknown op '%.*s'",
		    (int)(op.len > 64 ? 64 : op.len), op.ptr);
		front_send_error(r, CORRAL_E_UNKNOWN_OP, r->err);
		return;
	}
	if ((handler == op_metadata || handler == op_control || handler == op_validate) &&
	    r->req.model.len == 0) {
		snprintf(r->err, sizeof r->err, "%.*s needs 'model'", (int)op.len, op.ptr);
		front_send_error(r, CORRAL_E_INVALID_ARGUMENT, r->err);
		return;
	}
	if (handler == op_validate || handler == op_feedback)
		queue_slow(r, handler);
	else
		run_op(r, handler);
}

static void front_done(void *arg)
{
	front_req *r = arg;
	int rv = nng_aio_result(r->aio);
	if (r->sending) {
		r->sending = false;
		__atomic_sub_fetch(&r->f->busy, 1, __ATOMIC_RELAXED);
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(r->aio));
	} else if (rv == 0) {
		r->msg = nng_aio_get_msg(r->aio);
		r->received_us = now_us();
		r->answered_us = 0;
		r->status = CORRAL_OK;
		__atomic_add_fetch(&r->f->busy, 1, __ATOMIC_RELAXED);
		if (__atomic_load_n(&r->f->draining, __ATOMIC_RELAXED))
			front_send_error(r, CORRAL_E_UNAVAILABLE,
			    "corrald is shutting down: it finishes the requests it has "
			    "and takes no new ones");
		else
			front_handle(r);
		return;
	}
	/* Closed or stopped: the daemon is shutting down; do not re-arm. */
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	front_recv(r);
}

/* ------------------------------------------------------------- set-up --- */

front *front_start(corrald *d, char *err, size_t errlen)
{
	front *f = calloc(1, sizeof *f);
	size_t n = (size_t)d->cfg.concurrency;
	if (f == NULL || (f->reqs = calloc(n, sizeof *f->reqs)) == NULL) {
		free(f);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->d = d;
	pthread_mutex_init(&f->slow_lock, NULL);
	pthread_cond_init(&f->slow_cv, NULL);
	int rv;
	size_t hard = (size_t)d->cfg.max_request_bytes * FRONT_RECV_HARD_FACTOR;
	if ((rv = nng_rep0_open(&f->sock)) != 0 ||
	    (rv = nng_socket_set_size(f->sock, NNG_OPT_RECVMAXSZ, hard)) != 0) {
		snprintf(err, errlen, "client socket: %s", nng_strerror(rv));
		goto fail;
	}
	for (size_t i = 0; i < d->cfg.n_listen; i++)
		if ((rv = nng_listen(f->sock, d->cfg.listen[i], NULL, 0)) != 0) {
			snprintf(err, errlen, "listen %s: %s", d->cfg.listen[i], nng_strerror(rv));
			goto fail;
		}
	for (size_t i = 0; i < n; i++) {
		front_req *r = &f->reqs[i];
		r->d = d;
		r->f = f;
		r->seed = (uint32_t)random() | 1u;
		msgpack_sbuffer_init(&r->sb);
		msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
		if ((rv = nng_ctx_open(&r->ctx, f->sock)) != 0 ||
		    (rv = nng_aio_alloc(&r->aio, front_done, r)) != 0 ||
		    (rv = nng_aio_alloc(&r->waio, worker_done, r)) != 0 ||
		    (rv = nng_aio_alloc(&r->naio, nap_done, r)) != 0) {
			snprintf(err, errlen, "client contexts: %s", nng_strerror(rv));
			f->n = i + 1;
			goto fail;
		}
		f->n = i + 1;
	}
	for (; f->n_slow_threads < FRONT_SLOW_THREADS; f->n_slow_threads++)
		if (pthread_create(&f->slow_threads[f->n_slow_threads], NULL, slow_main, f) != 0) {
			snprintf(err, errlen, "cannot start threads");
			goto fail;
		}
	for (size_t i = 0; i < n; i++)
		front_recv(&f->reqs[i]);
	return f;
fail:
	front_stop(f);
	return NULL;
}

void front_drain(front *f)
{
	/* The listeners stay open: closing one closes the connections it
	 * accepted, and the replies still due on them would be lost. */
	__atomic_store_n(&f->draining, true, __ATOMIC_RELAXED);
}

void front_abort_ended(front *f)
{
	pthread_mutex_lock(&f->d->lock);
	for (size_t i = 0; i < f->n; i++) {
		const worker *w = f->reqs[i].inflight;
		if (w != NULL && w->pid == 0)
			nng_aio_abort(f->reqs[i].waio, NNG_ECONNRESET);
	}
	pthread_mutex_unlock(&f->d->lock);
}

void front_release_socket(front *f, nng_socket s)
{
	pthread_mutex_lock(&f->d->lock);
	for (size_t i = 0; i < f->n; i++) {
		front_req *r = &f->reqs[i];
		if (r->inflight == NULL && r->wctx_open &&
		    nng_socket_id(r->wctx_sock) == nng_socket_id(s)) {
			nng_ctx_close(r->wctx);
			r->wctx_open = false;
		}
	}
	pthread_mutex_unlock(&f->d->lock);
}

bool front_draining(front *f)
{
	return __atomic_load_n(&f->draining, __ATOMIC_RELAXED);
}

int front_busy(front *f)
{
	return __atomic_load_n(&f->busy, __ATOMIC_RELAXED);
}

void front_stop(front *f)
{
	/* The slow ops first: one running finishes and answers; those still
	 * queued are answered UNAVAILABLE. */
	pthread_mutex_lock(&f->slow_lock);
	f->slow_stop = true;
	pthread_cond_broadcast(&f->slow_cv);
	pthread_mutex_unlock(&f->slow_lock);
	for (size_t i = 0; i < f->n_slow_threads; i++)
		pthread_join(f->slow_threads[i], NULL);
	/* Stop every operation, waiting for running callbacks, while the
	 * socket is still open: a worker-side callback sends its reply on the
	 * client side, and nng must not see that send race the socket's
	 * teardown. Worker side first, then the client side, then close. */
	for (size_t i = 0; i < f->n; i++) {
		nng_aio_stop(f->reqs[i].naio);
		nng_aio_stop(f->reqs[i].waio);
	}
	for (size_t i = 0; i < f->n; i++)
		nng_aio_stop(f->reqs[i].aio);
	nng_close(f->sock);
	for (size_t i = 0; i < f->n; i++) {
		front_req *r = &f->reqs[i];
		/* A send cut short by the stop leaves its message with the aio
		 * (no callback runs to free it). */
		if (r->w != NULL && !r->wsent)
			nng_msg_free(nng_aio_get_msg(r->waio));
		if (r->sending)
			nng_msg_free(nng_aio_get_msg(r->aio));
		nng_aio_free(r->naio);
		nng_aio_free(r->waio);
		nng_aio_free(r->aio);
		if (r->parsed)
			wire_request_fini(&r->req);
		if (r->msg)
			nng_msg_free(r->msg);
		if (r->wreply)
			nng_msg_free(r->wreply);
		if (r->w)
			worker_unref(f->d, r->w);
		release_version(r);
		msgpack_sbuffer_destroy(&r->sb);
	}
	pthread_mutex_destroy(&f->slow_lock);
	pthread_cond_destroy(&f->slow_cv);
	free(f->reqs);
	free(f);
}
