/*
 * drift.h - input drift of a served version against the baseline of its
 * training inputs (docs/monitoring.md).
 *
 * A version folder may carry baseline.json, written by `corral baseline`:
 * per feature of one input, bin edges and the share of training rows in
 * each bin. corrald counts the served rows of that input in the same bins
 * (atomics on the request path), and every drift_interval_ms the
 * supervisor computes each feature's population stability index (PSI)
 * over the counts, then halves them: a sliding window that forgets the
 * past geometrically, in bounded memory. A PSI above drift_threshold is
 * logged (once each time it crosses) and every PSI is exported.
 */
#ifndef CORRAL_DRIFT_H
#define CORRAL_DRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define DRIFT_MAX_FEATURES 256
#define DRIFT_MAX_BINS 64
/* Rows a window needs before its PSI means anything. */
#define DRIFT_MIN_ROWS 100

typedef struct drift_feature {
	char name[64];
	size_t n_edges;                      /* bins: n_edges + 1 */
	double edges[DRIFT_MAX_BINS - 1];
	double expected[DRIFT_MAX_BINS];     /* the baseline's shares */
	uint64_t live[DRIFT_MAX_BINS];       /* served rows per bin (atomic) */
	double psi;                          /* last computed; NAN: not yet */
	bool over;                           /* psi above the threshold */
	bool crossed;                        /* it went above at the last update */
} drift_feature;

typedef struct drift_state {
	char input[64];  /* the input it watches */
	size_t n_features;
	drift_feature *features;
	double window_rows; /* rows behind the last PSI (decayed) */
} drift_state;

/* The baseline in <version_dir>/baseline.json: NULL with err[0] == '\0'
 * when there is none, NULL with err when it is broken. Any thread. */
drift_state *drift_load(const char *version_dir, char *err, size_t errlen);
void drift_free(drift_state *s);

/* Count the rows of t, if t is the watched input (FP32 or FP64, last
 * dimension = features). Any thread; lock-free. */
void drift_observe(drift_state *s, const wire_tensor *t);

/* Compute every feature's PSI from the counts and halve them. Returns how
 * many features crossed `threshold` upward at this update (their
 * `crossed` is set). Supervisor thread. */
size_t drift_update(drift_state *s, double threshold);

#endif
