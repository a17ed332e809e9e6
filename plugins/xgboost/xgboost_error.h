/*
 * xgboost_error.h - error text for the xgboost plugin: the caller's buffer,
 * and XGBoost's own last error made readable.
 *
 * Internal to the plugin (hidden visibility; only corral_plugin_entry is
 * exported).
 */
#ifndef CORRAL_XGBOOST_ERROR_H
#define CORRAL_XGBOOST_ERROR_H

#include <stddef.h>

#include <corral/plugin_util.h>


/*
 * "<what>: <XGBoost's last error>" into err. XGBoost's message starts with
 * a time stamp and its source position and ends in a stack trace; only the
 * one line in between is kept, e.g. "Check failed: tree_end <= ...".
 */
void xgboost_err_last(char *err, size_t errlen, const char *what);

/* XGBoost's log message `msg` as one line for the host's log: no time
 * stamp, level or source position, line breaks made spaces. */
void xgboost_log_line(char *out, size_t n, const char *msg);

#endif
