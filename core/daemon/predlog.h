/*
 * predlog.h - the prediction log (docs/monitoring.md): a sample of the
 * answered infers, their inputs and outputs, in an SQLite database
 * (predlog_schema.h) that `feedback` completes with the ground truth and
 * `corral export-log` reads for retraining.
 *
 * The request path only copies a request's inputs and outputs into one
 * allocation and queues it under a mutex (predlog_submit); a thread of
 * the log's own writes the queue in one transaction every flush_ms (or
 * sooner when it grows), in WAL mode, and applies the retention (rows and
 * age). So a slow disk delays the log, never a reply: when the queue holds
 * PREDLOG_QUEUE_BYTES, further requests are not logged (and counted).
 */
#ifndef CORRAL_PREDLOG_H
#define CORRAL_PREDLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <corral/status.h>

#include "config.h"

/* What the queue may hold before requests are no longer logged. */
#define PREDLOG_QUEUE_BYTES (64u << 20)

typedef struct predlog predlog;

/* Counters for /metrics (metrics.h); read with predlog_stats. */
typedef struct predlog_counts {
	uint64_t written;      /* rows committed */
	uint64_t skipped_full; /* not logged: the queue was full */
	uint64_t skipped_large; /* not logged: over max_bytes */
	uint64_t failed;       /* queued, but the write failed */
	uint64_t deleted;      /* removed by the retention */
	int64_t rows;          /* rows in the database now */
} predlog_counts;

/* Open (creating it, mode 0600, with its schema) the database at path
 * and start the writer thread; cfg is copied. NULL with err when the file
 * cannot be opened, is not a prediction log, or threads fail. At start. */
predlog *predlog_open(const predlog_config *cfg, const char *path, char *err,
    size_t errlen);

/* Write what is queued, stop the writer, close the database. After the
 * last predlog_submit; before the model names it holds are freed. NULL is
 * a no-op. */
void predlog_close(predlog *l);

/* Should this answered request be logged (sample_rate)? *seed is the
 * caller's own random state (one per request context, so no lock and no
 * shared state). Any thread. */
bool predlog_sampled(const predlog *l, uint32_t *seed);

/*
 * Queue a row: model (a name that outlives the log: models live until the
 * daemon ends) and version that answered, the request's rows, the
 * MessagePack inputs and outputs arrays (copied). Returns its prediction
 * id (> 0), or 0 when it is not logged (over max_bytes, queue full, out of
 * memory). Any thread; the request path's one lock is the queue's.
 */
int64_t predlog_submit(predlog *l, const char *model, int64_t version, int64_t rows,
    const void *inputs, size_t inputs_len, const void *outputs, size_t outputs_len);

/* One logged prediction, as feedback needs it; free with predlog_row_free. */
typedef struct predlog_row {
	char *model;
	int64_t version;
	int64_t rows;
	void *outputs; /* the MessagePack outputs array */
	size_t outputs_len;
	bool has_truth;
} predlog_row;

void predlog_row_free(predlog_row *r);

/*
 * Read prediction id, waiting (up to a few seconds) for the writer to
 * commit it when it is still queued. PREDICTION_NOT_FOUND when no such id
 * was handed out, or when its row is gone (the retention, or a failed
 * write), with a message saying which; INTERNAL on a database error. Any
 * thread but nng's callbacks (it may block); serialised with the other
 * readers.
 */
corral_status predlog_get(predlog *l, int64_t id, predlog_row *row, char *err,
    size_t errlen);

/* Store the ground truth (a MessagePack array) of prediction id, unless it
 * has one: CORRAL_OK, FAILED_PRECONDITION when it already had one,
 * PREDICTION_NOT_FOUND when the row went meanwhile, INTERNAL. As above. */
corral_status predlog_set_truth(predlog *l, int64_t id, const void *truth, size_t len,
    char *err, size_t errlen);

/* The counters now. Any thread. */
void predlog_stats(const predlog *l, predlog_counts *out);

#endif
