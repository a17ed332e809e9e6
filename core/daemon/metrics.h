/*
 * metrics.h - the daemon's Prometheus metrics (docs/monitoring.md): the
 * counters requests update on the hot path (atomics, no lock, no
 * allocation), and the text exposition format served at /metrics
 * (http_server.h).
 */
#ifndef CORRAL_METRICS_H
#define CORRAL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <corral/status.h>

/* Status codes on the wire run from 0 (OK) to this. */
#define METRICS_MAX_CODE CORRAL_E_PREDICTION_NOT_FOUND

/* Upper bounds of the request-duration histogram's buckets, in seconds,
 * from 100 us (a small model's whole round trip) to 10 s. */
#define METRICS_BUCKETS 16
extern const double metrics_bucket_bounds[METRICS_BUCKETS];

/* A latency histogram: counts per bucket (the last: above every bound)
 * and the sum of the observations. */
typedef struct histogram {
	uint64_t buckets[METRICS_BUCKETS + 1];
	uint64_t sum_us;
} histogram;

/* One version's counters; every field is updated with atomics. */
typedef struct version_metrics {
	uint64_t requests[METRICS_MAX_CODE + 1]; /* by status code */
	histogram duration; /* arrival to answer */
	histogram queue;    /* arrival to the send to a worker */
	histogram infer;    /* send to the worker to its reply */
} version_metrics;

/* A request that reached version metrics m ended with st after
 * elapsed_us microseconds (received to answered); queue_us and infer_us
 * are its two parts when it was answered by a worker (else -1). Any
 * thread. */
void metrics_observe(version_metrics *m, corral_status st, int64_t elapsed_us,
    int64_t queue_us, int64_t infer_us);

/* The same for a request that reached no version (malformed, unknown
 * model or version, refused op...): counted by code only. */
void metrics_observe_unrouted(corral_status st);

struct corrald;

/* The whole exposition, in a new buffer the caller frees (*len bytes), or
 * NULL when out of memory. in_flight: requests received and not yet
 * answered. Takes corrald.lock. */
char *metrics_render(struct corrald *d, int in_flight, size_t *len);

#endif
