/* drift.c - PSI of served inputs against a version's baseline (drift.h). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift.h"

/* A share below this counts as this, so that an empty bin on either side
 * gives a large, finite PSI term instead of an infinite one. */
#define DRIFT_FLOOR 1e-4

void drift_free(drift_state *s)
{
	if (s == NULL)
		return;
	free(s->features);
	free(s);
}

/* One feature from {"name", "edges": [...], "shares": [...]}. */
static bool read_feature(json_t *f, drift_feature *out, char *err, size_t errlen, size_t i)
{
	json_t *edges = json_object_get(f, "edges"), *shares = json_object_get(f, "shares");
	const char *name = json_string_value(json_object_get(f, "name"));
	size_t ne = json_array_size(edges);
	if (!json_is_array(edges) || !json_is_array(shares) || ne + 1 > DRIFT_MAX_BINS ||
	    json_array_size(shares) != ne + 1) {
		snprintf(err, errlen, "feature %zu: 'edges' (at most %d) and 'shares' (one more) "
		    "must be arrays of numbers", i, DRIFT_MAX_BINS - 1);
		return false;
	}
	snprintf(out->name, sizeof out->name, "%s", name ? name : "");
	if (name == NULL)
		snprintf(out->name, sizeof out->name, "%zu", i);
	out->n_edges = ne;
	double sum = 0;
	for (size_t k = 0; k <= ne; k++) {
		if (k < ne) {
			out->edges[k] = json_number_value(json_array_get(edges, k));
			if (k > 0 && !(out->edges[k] > out->edges[k - 1])) {
				snprintf(err, errlen, "feature %zu: edges must increase", i);
				return false;
			}
		}
		out->expected[k] = json_number_value(json_array_get(shares, k));
		if (!(out->expected[k] >= 0)) {
			snprintf(err, errlen, "feature %zu: shares must be non-negative", i);
			return false;
		}
		sum += out->expected[k];
	}
	if (fabs(sum - 1) > 1e-3) {
		snprintf(err, errlen, "feature %zu: shares add up to %g, not 1", i, sum);
		return false;
	}
	out->psi = NAN;
	return true;
}

drift_state *drift_load(const char *version_dir, char *err, size_t errlen)
{
	char path[4200];
	err[0] = '\0';
	snprintf(path, sizeof path, "%s/baseline.json", version_dir);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		if (errno != ENOENT) /* there, but not readable: say so */
			snprintf(err, errlen, "baseline.json: %s", strerror(errno));
		return NULL; /* no baseline: no drift monitoring */
	}
	json_error_t jerr;
	json_t *root = json_loadf(f, 0, &jerr);
	fclose(f);
	drift_state *s = NULL;
	json_t *features = json_object_get(root, "features");
	const char *input = json_string_value(json_object_get(root, "input"));
	size_t n = json_array_size(features);
	if (root == NULL) {
		snprintf(err, errlen, "baseline.json: %s (line %d)", jerr.text, jerr.line);
	} else if (input == NULL || n == 0 || n > DRIFT_MAX_FEATURES) {
		snprintf(err, errlen, "baseline.json: needs 'input' (a name) and 'features' "
		    "(1 to %d)", DRIFT_MAX_FEATURES);
	} else if ((s = calloc(1, sizeof *s)) == NULL ||
		   (s->features = calloc(n, sizeof *s->features)) == NULL) {
		snprintf(err, errlen, "out of memory");
	} else {
		snprintf(s->input, sizeof s->input, "%s", input);
		s->n_features = n;
		char why[200];
		for (size_t i = 0; i < n; i++)
			if (!read_feature(json_array_get(features, i), &s->features[i], why,
				sizeof why, i)) {
				snprintf(err, errlen, "baseline.json: %s", why);
				break;
			}
	}
	json_decref(root);
	if (err[0] != '\0') {
		drift_free(s);
		return NULL;
	}
	return s;
}

/* The bin of v: the number of edges at or below it. */
static size_t bin_of(const drift_feature *f, double v)
{
	size_t lo = 0, hi = f->n_edges;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v >= f->edges[mid])
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void drift_observe(drift_state *s, const wire_tensor *t)
{
	if (s == NULL || (t->raw == NULL && t->array == NULL) || t->ndim == 0 ||
	    (t->dtype != CORRAL_DT_FP64 && t->dtype != CORRAL_DT_FP32) ||
	    (size_t)t->shape[t->ndim - 1] != s->n_features ||
	    !wire_str_eq(t->name, s->input))
		return;
	size_t n = (size_t)t->elements, nf = s->n_features;
	for (size_t i = 0; i < n; i++) {
		double v = wire_tensor_fp_at(t, i);
		if (isnan(v))
			continue;
		drift_feature *f = &s->features[i % nf];
		__atomic_add_fetch(&f->live[bin_of(f, v)], 1, __ATOMIC_RELAXED);
	}
}

size_t drift_update(drift_state *s, double threshold)
{
	size_t crossed = 0;
	for (size_t i = 0; s && i < s->n_features; i++) {
		drift_feature *f = &s->features[i];
		uint64_t counts[DRIFT_MAX_BINS], total = 0;
		size_t bins = f->n_edges + 1;
		for (size_t b = 0; b < bins; b++) {
			counts[b] = __atomic_load_n(&f->live[b], __ATOMIC_RELAXED);
			total += counts[b];
			/* halve what was counted; rows counted meanwhile stay whole */
			__atomic_sub_fetch(&f->live[b], counts[b] / 2, __ATOMIC_RELAXED);
		}
		if (i == 0)
			s->window_rows = (double)total;
		f->crossed = false;
		if (total < DRIFT_MIN_ROWS) {
			f->psi = NAN;
			f->over = false;
			continue;
		}
		double psi = 0;
		for (size_t b = 0; b < bins; b++) {
			double a = fmax((double)counts[b] / (double)total, DRIFT_FLOOR);
			double e = fmax(f->expected[b], DRIFT_FLOOR);
			psi += (a - e) * log(a / e);
		}
		f->psi = psi;
		bool over = psi > threshold;
		f->crossed = over && !f->over;
		crossed += f->crossed;
		f->over = over;
	}
	return crossed;
}
