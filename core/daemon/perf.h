/*
 * perf.h - a version's performance judged against ground truth
 * (feedback.h): accuracy, precision, recall and F1 for a classifier, mean
 * absolute and root mean squared error for a regressor, over the latest
 * `window` rows given feedback and over every such row since corrald
 * started. Exported by metrics.h.
 *
 * Threading: each perf_state has a mutex of its own, so feedback (nng's
 * threads) and /metrics (the HTTP thread) may use it at once.
 */
#ifndef CORRAL_PERF_H
#define CORRAL_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <corral/tensor.h>

/* Class indexes a classifier's feedback may use: 0 .. PERF_MAX_CLASSES-1. */
#define PERF_MAX_CLASSES 256

/* Can a prediction be read from an output of this datatype (FP32, FP64,
 * INT32, INT64)? */
bool perf_numeric(corral_dtype dtype);

/* The prediction of row `row` of an output of `width` values per row
 * (raw little-endian data, which need not be aligned): its value when
 * width is 1, else the index of its largest value (a classifier's
 * scores). The validation gate (gate.h) and feedback read predictions
 * the same way. */
double perf_row_prediction(corral_dtype dtype, const void *data, size_t width, size_t row);

typedef struct perf_state perf_state;

/* An empty state, or NULL when out of memory. */
perf_state *perf_new(void);
void perf_free(perf_state *p);

/* Count n rows: pred[i] was predicted, truth[i] is right. A classifier's
 * values are class indexes below PERF_MAX_CLASSES (the caller checks;
 * others are left out of the per-class counts). The first rows counted
 * fix whether the state is a classifier's: rows judged the other way get
 * -2, nothing counted. window (>= 1) is the rows the recent figures
 * cover. 0, or -1 when out of memory (nothing counted). */
int perf_add(perf_state *p, bool classification, const double *pred, const double *truth,
    size_t n, int64_t window);

typedef struct perf_report {
	bool classification;
	uint64_t rows;      /* covered; 0: nothing to report */
	double accuracy;    /* classification: share predicted right */
	double precision;   /* of class 1 for two classes, else the mean */
	double recall;      /*   over the classes met (macro average) */
	double f1;
	double mae, rmse;   /* regression */
} perf_report;

/* The figures over the recent window (recent) or every row (else). */
void perf_report_of(perf_state *p, bool recent, perf_report *out);

#endif
