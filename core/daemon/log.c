/* log.c - text or JSON log lines on stderr or in a file (log.h). */
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum log_level log_max = LOG_INFO;
static const char *const log_names[] = {"error", "warn", "info", "debug"};
static bool log_json;
static int log_fd = STDERR_FILENO;
static char *log_path;

void log_set_level(const char *name)
{
	for (int i = 0; i <= LOG_DEBUG; i++)
		if (strcmp(name, log_names[i]) == 0)
			log_max = (enum log_level)i;
}

static int open_log(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

int log_configure(bool json, const char *path)
{
	log_json = json;
	if (path == NULL || path[0] == '\0')
		return 0;
	int fd = open_log(path);
	if (fd < 0)
		return -1;
	free(log_path);
	log_path = strdup(path);
	log_fd = fd;
	return 0;
}

void log_reopen(void)
{
	if (log_path == NULL)
		return;
	int fd = open_log(log_path);
	if (fd < 0) {
		log_msg(LOG_ERROR, "log_file %s: cannot open it again: %m; still writing to "
		    "the old one", log_path);
		return;
	}
	/* dup2 swaps the descriptor at once: a line being written by
	 * another thread goes to the old file or the new one, whole */
	dup2(fd, log_fd);
	close(fd);
	log_msg(LOG_INFO, "log file opened again (%s)", log_path);
}

/* "2026-11-26T19:15:02.905Z" into buf (64 bytes: room for any int). */
static void now_utc(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    ts.tv_nsec / 1000000);
}

/* Write `line` and a newline with one write, so lines never interleave. */
static void emit(char *line, size_t len)
{
	line[len] = '\n';
	ssize_t w = write(log_fd, line, len + 1);
	(void)w; /* nowhere left to report a failed log write */
}

static void vlog(enum log_level level, const log_ctx *ctx, const char *fmt, va_list ap)
{
	if (level > log_max)
		return;
	char when[64], msg[1024];
	now_utc(when, sizeof when);
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (!log_json) {
		char line[1200];
		int n = snprintf(line, sizeof line - 1, "%s corrald %s: %s", when,
		    log_names[level], msg);
		emit(line, n < 0 ? 0 : (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2);
		return;
	}
	/* jansson escapes the message and every field as JSON needs */
	json_t *o = json_pack("{s:s, s:s, s:s}", "time", when, "level", log_names[level],
	    "msg", msg);
	if (o != NULL && ctx != NULL) {
		if (ctx->model)
			json_object_set_new(o, "model", json_string(ctx->model));
		if (ctx->version)
			json_object_set_new(o, "version", json_integer(ctx->version));
		if (ctx->pid)
			json_object_set_new(o, "pid", json_integer(ctx->pid));
		if (ctx->request_id)
			json_object_set_new(o, "request_id", json_string(ctx->request_id));
	}
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(o);
	if (text == NULL)
		return;
	size_t len = strlen(text);
	char *line = realloc(text, len + 1);
	if (line == NULL) {
		free(text);
		return;
	}
	emit(line, len);
	free(line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
	va_end(ap);
}

void log_event(enum log_level level, const log_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, ctx, fmt, ap);
	va_end(ap);
}
