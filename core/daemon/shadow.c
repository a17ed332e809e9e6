/* shadow.c - mirrored requests and the comparison of answers (shadow.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shadow.h"
#include "workers.h"

typedef struct slot {
	shadows *s;
	nng_aio *aio;
	nng_ctx ctx;
	bool ctx_open;
	bool busy;     /* lock */
	bool sent;
	model *m;
	worker *w;
	nng_msg *primary;
} slot;

struct shadows {
	corrald *d;
	slot *slots;
	size_t n;
};

/* The outputs array of a worker reply {outputs: [...]}, or NULL. */
static const msgpack_object *outputs_of(msgpack_unpacked *u, nng_msg *m)
{
	size_t off = 0;
	if (msgpack_unpack_next(u, nng_msg_body(m), nng_msg_len(m), &off) !=
	    MSGPACK_UNPACK_SUCCESS || u->data.type != MSGPACK_OBJECT_MAP)
		return NULL;
	const msgpack_object *o = wire_map_get(&u->data, "outputs");
	return o && o->type == MSGPACK_OBJECT_ARRAY ? o : NULL;
}

/* Element i of a fixed-size numeric tensor, as a double. */
static double element(const wire_tensor *t, int64_t i)
{
	const char *p = (const char *)t->raw + i * (int64_t)corral_dtype_size(t->dtype);
	union { float f; double d; int8_t i8; int16_t i16; int32_t i32; int64_t i64;
		uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64; } v;
	memcpy(&v, p, corral_dtype_size(t->dtype));
	switch (t->dtype) {
	case CORRAL_DT_FP32: return v.f;
	case CORRAL_DT_FP64: return v.d;
	case CORRAL_DT_INT8: return v.i8;
	case CORRAL_DT_INT16: return v.i16;
	case CORRAL_DT_INT32: return v.i32;
	case CORRAL_DT_INT64: return (double)v.i64;
	case CORRAL_DT_UINT16: return v.u16;
	case CORRAL_DT_UINT32: return v.u32;
	case CORRAL_DT_UINT64: return (double)v.u64;
	default: return v.u8; /* BOOL, UINT8 */
	}
}

static bool numeric(corral_dtype dt)
{
	return dt != CORRAL_DT_BYTES && dt != CORRAL_DT_FP16 && dt != CORRAL_DT_BF16;
}

/* Compare two worker replies: false when they diverge; *max_diff gets the
 * largest numeric difference found. */
static bool same_answer(nng_msg *a, nng_msg *b, double *max_diff)
{
	msgpack_unpacked ua, ub;
	msgpack_unpacked_init(&ua);
	msgpack_unpacked_init(&ub);
	const msgpack_object *oa = outputs_of(&ua, a), *ob = outputs_of(&ub, b);
	bool same = oa && ob && oa->via.array.size == ob->via.array.size;
	*max_diff = 0;
	char why[128];
	for (uint32_t i = 0; same && i < oa->via.array.size; i++) {
		wire_tensor ta, tb;
		same = wire_tensor_decode(&oa->via.array.ptr[i], &ta, why, sizeof why) == CORRAL_OK &&
		    wire_tensor_decode(&ob->via.array.ptr[i], &tb, why, sizeof why) == CORRAL_OK &&
		    ta.name.len == tb.name.len && memcmp(ta.name.ptr, tb.name.ptr, ta.name.len) == 0 &&
		    ta.dtype == tb.dtype && ta.ndim == tb.ndim &&
		    memcmp(ta.shape, tb.shape, sizeof ta.shape[0] * ta.ndim) == 0 &&
		    ta.nbytes == tb.nbytes;
		if (same && !numeric(ta.dtype))
			same = memcmp(ta.raw, tb.raw, ta.nbytes) == 0;
		for (int64_t e = 0; same && numeric(ta.dtype) && e < ta.elements; e++) {
			double d = fabs(element(&ta, e) - element(&tb, e));
			if (!(d <= *max_diff)) /* NaN counts as the largest */
				*max_diff = isnan(d) ? INFINITY : d;
		}
	}
	msgpack_unpacked_destroy(&ua);
	msgpack_unpacked_destroy(&ub);
	return same && *max_diff <= SHADOW_TOLERANCE;
}

/* The mirror is over: count it and free the slot. */
static void slot_finish(slot *sl, nng_msg *reply)
{
	corrald *d = sl->s->d;
	double diff = 0;
	bool same = reply != NULL && same_answer(sl->primary, reply, &diff);
	pthread_mutex_lock(&d->lock);
	struct shadow_stats *st = &sl->m->shadow;
	if (reply == NULL) {
		st->failed++;
	} else {
		st->compared++;
		st->diverged += !same;
		if (diff > st->max_abs_diff)
			st->max_abs_diff = diff;
	}
	sl->w->outstanding--;
	worker *w = sl->w;
	sl->w = NULL;
	pthread_mutex_unlock(&d->lock);
	nng_msg_free(reply);
	nng_msg_free(sl->primary);
	sl->primary = NULL;
	worker_unref(d, w);
	pthread_mutex_lock(&d->lock);
	sl->busy = false;
	pthread_mutex_unlock(&d->lock);
}

static void slot_done(void *arg)
{
	slot *sl = arg;
	int rv = nng_aio_result(sl->aio);
	if (rv == 0 && !sl->sent) {
		sl->sent = true;
		nng_ctx_recv(sl->ctx, sl->aio);
		return;
	}
	if (rv != 0 && !sl->sent)
		nng_msg_free(nng_aio_get_msg(sl->aio));
	slot_finish(sl, rv == 0 ? nng_aio_get_msg(sl->aio) : NULL);
}

void shadow_mirror(shadows *s, model *m, nng_msg *request, nng_msg *primary)
{
	corrald *d = s->d;
	slot *sl = NULL;
	pthread_mutex_lock(&d->lock);
	model_version *mv = model_find_version(m, m->shadow_version);
	worker *w = mv ? version_pick_worker(mv) : NULL;
	for (size_t i = 0; w != NULL && sl == NULL && i < s->n; i++)
		if (!s->slots[i].busy)
			sl = &s->slots[i];
	/* As in front.c: a context is opened under the lock, so never on a
	 * socket the supervisor is closing. */
	int rv = -1;
	if (sl != NULL) {
		if (sl->ctx_open)
			nng_ctx_close(sl->ctx);
		rv = nng_ctx_open(&sl->ctx, w->sock);
		sl->ctx_open = rv == 0;
	}
	if (rv != 0) {
		m->shadow.skipped++;
		pthread_mutex_unlock(&d->lock);
		nng_msg_free(request);
		nng_msg_free(primary);
		return;
	}
	sl->busy = true;
	sl->sent = false;
	sl->m = m;
	sl->w = w;
	sl->primary = primary;
	worker_ref(w);
	w->outstanding++;
	m->shadow.mirrored++;
	int64_t timeout = m->cfg.request_timeout_ms ? m->cfg.request_timeout_ms
						   : d->cfg.request_timeout_ms;
	pthread_mutex_unlock(&d->lock);
	nng_aio_set_msg(sl->aio, request);
	nng_aio_set_timeout(sl->aio, (nng_duration)timeout);
	nng_ctx_send(sl->ctx, sl->aio);
}

shadows *shadows_start(corrald *d, size_t n, char *err, size_t errlen)
{
	shadows *s = calloc(1, sizeof *s);
	if (s == NULL || (s->slots = calloc(n, sizeof *s->slots)) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->d = d;
	s->n = n;
	for (size_t i = 0; i < n; i++) {
		s->slots[i].s = s;
		if (nng_aio_alloc(&s->slots[i].aio, slot_done, &s->slots[i]) != 0) {
			s->n = i;
			shadows_stop(s);
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
	}
	return s;
}

void shadows_stop(shadows *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		nng_aio_stop(s->slots[i].aio);
	for (size_t i = 0; i < s->n; i++) {
		slot *sl = &s->slots[i];
		if (sl->busy && !sl->sent)
			nng_msg_free(nng_aio_get_msg(sl->aio));
		if (sl->busy) {
			nng_msg_free(sl->primary);
			pthread_mutex_lock(&s->d->lock);
			sl->w->outstanding--;
			pthread_mutex_unlock(&s->d->lock);
			worker_unref(s->d, sl->w);
		}
		if (sl->ctx_open)
			nng_ctx_close(sl->ctx);
		nng_aio_free(sl->aio);
	}
	free(s->slots);
	free(s);
}
