/*
 * log.h - corrald's log: one line per event on stderr, with a UTC
 * timestamp and a level. Thread-safe (one fprintf per line).
 */
#ifndef CORRAL_LOG_H
#define CORRAL_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Set the most verbose level written, by name ("error" ... "debug"). */
void log_set_level(const char *name);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
