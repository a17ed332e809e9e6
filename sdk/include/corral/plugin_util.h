/*
 * corral/plugin_util.h - optional helpers for plugins, header-only so a
 * plugin still links against nothing of corral.
 *
 * Thread-safety: every function here is pure (it touches only its
 * arguments) and may be called from any thread.
 */
#ifndef CORRAL_PLUGIN_UTIL_H
#define CORRAL_PLUGIN_UTIL_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write a message into the caller's buffer `err` of `errlen` bytes
 * (truncating; nothing when err is NULL or errlen 0). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline void corral_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Check the inputs of a tabular model: exactly one input called `name`,
 * FP32 or FP64, shaped [N, n_features] (or [n_features], one row), with
 * exactly the bytes that shape needs. On success *n_rows is N. The host
 * already checks inputs against describe(); this keeps a plugin safe when
 * it is called in process (tests, other hosts) and gives one wording of
 * the errors. Returns CORRAL_PLUGIN_OK or CORRAL_PLUGIN_INVALID_ARGUMENT
 * with a message in err.
 */
static inline corral_plugin_error corral_check_rows(const corral_tensor *inputs,
    size_t n_inputs, const char *name, size_t n_features, int64_t *n_rows,
    char *err, size_t errlen)
{
	const corral_tensor *in = inputs;
	if (n_inputs != 1 || inputs == NULL) {
		corral_errf(err, errlen, "expected exactly 1 input (\"%s\"), got %zu",
		    name, n_inputs);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	if (in->name == NULL || strcmp(in->name, name) != 0) {
		corral_errf(err, errlen, "unknown input \"%s\": this model's only "
		    "input is \"%s\"", in->name ? in->name : "", name);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	if (in->dtype != CORRAL_DT_FP32 && in->dtype != CORRAL_DT_FP64) {
		const char *dt_name = corral_dtype_name(in->dtype);
		corral_errf(err, errlen, "input must be FP32 or FP64, got %s",
		    dt_name ? dt_name : "an invalid datatype");
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	const int64_t nf = (int64_t)n_features;
	if (in->ndim == 1 && in->shape != NULL && in->shape[0] == nf) {
		*n_rows = 1;
	} else if (in->ndim == 2 && in->shape != NULL && in->shape[0] >= 0 &&
	    in->shape[1] == nf) {
		*n_rows = in->shape[0];
	} else {
		char got[64] = "[";
		size_t len = 1;
		for (uint32_t i = 0; in->shape != NULL && i < in->ndim &&
		     i < CORRAL_MAX_DIMS && len < sizeof got; i++)
			len += (size_t)snprintf(got + len, sizeof got - len,
			    "%s%" PRId64, i ? ", " : "", in->shape[i]);
		if (len < sizeof got)
			snprintf(got + len, sizeof got - len, "]");
		corral_errf(err, errlen, "input must have shape [N, %zu] or [%zu], "
		    "got %s", n_features, n_features, got);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	int64_t elements = corral_shape_elements(in->shape, in->ndim);
	if (elements < 0 || (uint64_t)elements > SIZE_MAX / sizeof(double)) {
		corral_errf(err, errlen, "input shape is too large");
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	size_t need = (size_t)elements * corral_dtype_size(in->dtype);
	if (in->nbytes != need || (need > 0 && in->data == NULL)) {
		corral_errf(err, errlen, "input holds %zu bytes of data, its shape "
		    "and %s need %zu", in->data ? in->nbytes : 0,
		    corral_dtype_name(in->dtype), need);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	return CORRAL_PLUGIN_OK;
}

#ifdef __cplusplus
}
#endif
#endif /* CORRAL_PLUGIN_UTIL_H */
