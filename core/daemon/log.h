/*
 * log.h - corrald's log: one line per event, on stderr or in the file the
 * daemon config names (log_file), as text (a UTC timestamp, a level and
 * the message) or as one JSON object per line (log_format: json) with
 * "time", "level", "msg" and, where the event has them, "model",
 * "version", "pid" (a worker's) and "request_id". Thread-safe: each line
 * is written with one call.
 */
#ifndef CORRAL_LOG_H
#define CORRAL_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* What an event is about; a field that is NULL or 0 is left out. */
typedef struct log_ctx {
	const char *model;
	int64_t version;
	pid_t pid;              /* a worker's */
	const char *request_id; /* the client's `id`, as text */
} log_ctx;

/* Set the most verbose level written, by name ("error" ... "debug"). */
void log_set_level(const char *name);

/* Write JSON lines (json) or text lines, to `path` (appended; NULL:
 * stderr). Returns 0, or -1 when the file cannot be opened (the log
 * stays where it was). At start, before other threads log. */
int log_configure(bool json, const char *path);

/* Open the log file again (after it was rotated: SIGHUP). Supervisor
 * thread. */
void log_reopen(void);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* log_msg about a model, version, worker or request. */
void log_event(enum log_level level, const log_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
