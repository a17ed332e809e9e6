/* perf.c - performance from ground truth (perf.h). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "perf.h"

bool perf_numeric(corral_dtype dtype)
{
	return dtype == CORRAL_DT_FP32 || dtype == CORRAL_DT_FP64 || dtype == CORRAL_DT_INT32 ||
	    dtype == CORRAL_DT_INT64;
}

/* Element i of a numeric output; copied, since reply data need not be
 * aligned. */
static double value_at(corral_dtype dtype, const char *p, size_t i)
{
	double d;
	float f;
	int64_t l;
	int32_t n;
	switch (dtype) {
	case CORRAL_DT_FP64: memcpy(&d, p + 8 * i, 8); return d;
	case CORRAL_DT_FP32: memcpy(&f, p + 4 * i, 4); return f;
	case CORRAL_DT_INT64: memcpy(&l, p + 8 * i, 8); return (double)l;
	default: memcpy(&n, p + 4 * i, 4); return n;
	}
}

double perf_row_prediction(corral_dtype dtype, const void *data, size_t width, size_t row)
{
	if (width == 1)
		return value_at(dtype, data, row);
	double best = -INFINITY, pred = 0;
	for (size_t k = 0; k < width; k++) {
		double v = value_at(dtype, data, row * width + k);
		if (v > best) {
			best = v;
			pred = (double)k;
		}
	}
	return pred;
}

/* Sums from which every figure follows. */
typedef struct sums {
	uint64_t rows, right;
	double abs_err, sq_err;
	uint64_t tp[PERF_MAX_CLASSES], fp[PERF_MAX_CLASSES], fn[PERF_MAX_CLASSES];
} sums;

struct perf_state {
	pthread_mutex_t lock;
	bool classification;
	sums total;
	/* the latest rows, a ring: the recent figures are summed from it
	 * when asked (a scrape), so adding a row stays O(1) */
	double (*ring)[2]; /* {pred, truth} */
	size_t cap, next, used;
};

perf_state *perf_new(void)
{
	perf_state *p = calloc(1, sizeof *p);
	if (p != NULL)
		pthread_mutex_init(&p->lock, NULL);
	return p;
}

void perf_free(perf_state *p)
{
	if (p == NULL)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p->ring);
	free(p);
}

static void sums_add(sums *s, bool classification, double pred, double truth)
{
	s->rows++;
	double diff = pred - truth;
	s->abs_err += fabs(diff);
	s->sq_err += diff * diff;
	if (!classification)
		return;
	size_t p = (size_t)pred, t = (size_t)truth;
	if (p >= PERF_MAX_CLASSES || t >= PERF_MAX_CLASSES)
		return; /* perf_add's caller checks; never index out of range */
	if (p == t) {
		s->right++;
		s->tp[t]++;
	} else {
		s->fp[p]++;
		s->fn[t]++;
	}
}

/* Make the ring hold `window` rows, keeping the latest. Lock held. */
static int ring_resize(perf_state *p, size_t window)
{
	if (p->cap == window)
		return 0;
	double (*ring)[2] = malloc(window * sizeof *ring);
	if (ring == NULL)
		return -1;
	size_t keep = p->used < window ? p->used : window;
	for (size_t i = 0; i < keep; i++) {
		size_t from = (p->next + p->cap - keep + i) % p->cap;
		ring[i][0] = p->ring[from][0];
		ring[i][1] = p->ring[from][1];
	}
	free(p->ring);
	p->ring = ring;
	p->cap = window;
	p->used = keep;
	p->next = keep % window;
	return 0;
}

int perf_add(perf_state *p, bool classification, const double *pred, const double *truth,
    size_t n, int64_t window)
{
	pthread_mutex_lock(&p->lock);
	if (p->total.rows > 0 && p->classification != classification) {
		pthread_mutex_unlock(&p->lock);
		return -2;
	}
	if (ring_resize(p, (size_t)window) != 0) {
		pthread_mutex_unlock(&p->lock);
		return -1;
	}
	p->classification = classification;
	for (size_t i = 0; i < n; i++) {
		sums_add(&p->total, p->classification, pred[i], truth[i]);
		p->ring[p->next][0] = pred[i];
		p->ring[p->next][1] = truth[i];
		p->next = (p->next + 1) % p->cap;
		if (p->used < p->cap)
			p->used++;
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* Precision, recall and F1 from the confusion counts: of class 1 when
 * only classes 0 and 1 were met, else their mean over the classes met.
 * A ratio with nothing to divide by counts as 0, as scikit-learn's
 * zero_division=0 does. */
static void classes_report(const sums *s, perf_report *r)
{
	size_t met = 0, highest = 0;
	double prec = 0, rec = 0, f1 = 0;
	for (size_t c = 0; c < PERF_MAX_CLASSES; c++)
		if (s->tp[c] + s->fp[c] + s->fn[c] > 0)
			highest = c;
	bool binary = highest <= 1;
	for (size_t c = binary ? 1 : 0; c <= highest; c++) {
		uint64_t tp = s->tp[c], fp = s->fp[c], fn = s->fn[c];
		if (!binary && tp + fp + fn == 0)
			continue;
		double pc = tp + fp ? (double)tp / (double)(tp + fp) : 0;
		double rc = tp + fn ? (double)tp / (double)(tp + fn) : 0;
		prec += pc;
		rec += rc;
		f1 += pc + rc > 0 ? 2 * pc * rc / (pc + rc) : 0;
		met++;
	}
	r->precision = met ? prec / (double)met : 0;
	r->recall = met ? rec / (double)met : 0;
	r->f1 = met ? f1 / (double)met : 0;
}

void perf_report_of(perf_state *p, bool recent, perf_report *out)
{
	sums scratch; /* 6 KiB */
	pthread_mutex_lock(&p->lock);
	const sums *s = &p->total;
	if (recent) {
		memset(&scratch, 0, sizeof scratch);
		for (size_t i = 0; i < p->used; i++)
			sums_add(&scratch, p->classification, p->ring[i][0], p->ring[i][1]);
		s = &scratch;
	}
	memset(out, 0, sizeof *out);
	out->classification = p->classification;
	out->rows = s->rows;
	if (s->rows > 0) {
		out->accuracy = (double)s->right / (double)s->rows;
		out->mae = s->abs_err / (double)s->rows;
		out->rmse = sqrt(s->sq_err / (double)s->rows);
		if (p->classification)
			classes_report(s, out);
	}
	pthread_mutex_unlock(&p->lock);
}
