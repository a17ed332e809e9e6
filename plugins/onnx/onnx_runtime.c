/*
 * onnx_runtime.c - ONNX Runtime for the whole process: its API table, the
 * one OrtEnv every model shares, the logger that routes ORT's messages to
 * the host's log, and the mapping of ORT's errors and types to corral's.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_plugin.h"

/* ------------------------------------------------------------------------
 * The shared environment
 * ------------------------------------------------------------------------ */

/* ORT keeps one environment per process whatever we do (a second CreateEnv
 * returns the first), so the plugin owns one, counted by the models that
 * use it. The host serialises entry points; the lock keeps this correct
 * even for a host that would not. */
static pthread_mutex_t runtime_lock = PTHREAD_MUTEX_INITIALIZER;
static OrtEnv *runtime_env;
static size_t runtime_users;
static const corral_host_api *runtime_host; /* whose log ORT writes to */

/* ORT calls this from any of its threads, also while confined: host->log
 * may be called from any thread at any time. */
static void ORT_API_CALL runtime_log(void *param, OrtLoggingLevel severity,
    const char *category, const char *logid, const char *code_location,
    const char *message)
{
	const corral_host_api *host = runtime_host;
	char line[1024];
	size_t len;
	int level;

	(void)param, (void)logid, (void)code_location;
	if (host == NULL || host->log == NULL)
		return;
	switch (severity) {
	case ORT_LOGGING_LEVEL_VERBOSE: level = CORRAL_LOG_DEBUG; break;
	case ORT_LOGGING_LEVEL_INFO: level = CORRAL_LOG_INFO; break;
	case ORT_LOGGING_LEVEL_WARNING: level = CORRAL_LOG_WARN; break;
	default: level = CORRAL_LOG_ERROR; break;
	}
	len = (size_t)snprintf(line, sizeof line, "onnxruntime [%s]: %s",
	    category ? category : "", message ? message : "");
	if (len >= sizeof line)
		len = sizeof line - 1;
	while (len > 0 && line[len - 1] == '\n') /* the host ends lines */
		line[--len] = '\0';
	host->log(level, line);
}

const OrtApi *onnx_runtime_acquire(const corral_host_api *host, OrtEnv **env,
    char *err, size_t errlen)
{
	const OrtApiBase *base = OrtGetApiBase();
	const OrtApi *ort = base ? base->GetApi(ORT_API_VERSION) : NULL;
	OrtStatus *st;

	if (ort == NULL) {
		corral_errf(err, errlen, "onnx: ONNX Runtime %s does not serve C "
		    "API version %d, which this plugin was built for",
		    base ? base->GetVersionString() : "(unknown)", ORT_API_VERSION);
		return NULL;
	}
	pthread_mutex_lock(&runtime_lock);
	if (runtime_env == NULL) {
		runtime_host = host;
		/*
		 * ONNX Runtime 1.30 on Linux starts a telemetry uploader with
		 * its first environment: a device id and an event database
		 * in the user's cache folder, threads that upload over HTTPS.
		 * Nothing of that belongs in a model server, and confined it
		 * would get the worker killed (sockets, fsync). Only this
		 * variable, read when the environment is created, keeps the
		 * uploader from starting at all; DisableTelemetryEvents()
		 * alone stops events but leaves the uploader running.
		 */
		setenv("ORT_DISABLE_TELEMETRY", "1", 1);
		/* Warnings and errors only; no global thread pools: each
		 * session has its own, sized by its model's parameters. */
		st = ort->CreateEnvWithCustomLogger(runtime_log, NULL,
		    ORT_LOGGING_LEVEL_WARNING, "corral-onnx", &runtime_env);
		if (st != NULL) {
			runtime_env = NULL;
			pthread_mutex_unlock(&runtime_lock);
			onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
			    "onnx: cannot create the ONNX Runtime environment");
			return NULL;
		}
		ort->ReleaseStatus(ort->DisableTelemetryEvents(runtime_env));
	}
	runtime_users++;
	*env = runtime_env;
	pthread_mutex_unlock(&runtime_lock);
	return ort;
}

void onnx_runtime_release(void)
{
	const OrtApi *ort = OrtGetApiBase()->GetApi(ORT_API_VERSION);

	pthread_mutex_lock(&runtime_lock);
	if (runtime_users > 0 && --runtime_users == 0) {
		ort->ReleaseEnv(runtime_env);
		runtime_env = NULL;
		runtime_host = NULL;
	}
	pthread_mutex_unlock(&runtime_lock);
}

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/*
 * ORT's messages often carry "<source file>:<line> <C++ signature>" in the
 * middle (e.g. "Load model from m.onnx failed:/onnxruntime_src/.../x.h:46
 * void onnxruntime::f(const T&) Opset 99 is under development..."), and
 * ORT_ENFORCE failures add "<condition> was false. " before what went
 * wrong. A client sees only a few hundred bytes: keep the lead-in and what
 * went wrong, drop the location, the signature and the condition.
 */
static const char *runtime_source_location(const char *msg)
{
	/* A word that starts with '/' (after a space, a ':' or at the start)
	 * and ends in ":<digits> ". */
	for (const char *p = msg; *p; p++) {
		if (*p != '/' || (p != msg && p[-1] != ' ' && p[-1] != ':'))
			continue;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		const char *d = e;
		while (d > p && d[-1] >= '0' && d[-1] <= '9')
			d--;
		if (d < e && d > p && d[-1] == ':' && *e == ' ')
			return p;
	}
	return NULL;
}

static void runtime_condense(char *out, size_t n, const char *msg)
{
	/* "Load model from <path> failed:" repeats the path our prefix gives. */
	static const char load[] = "Load model from ";
	const char *failed = strstr(msg, " failed:");
	if (strncmp(msg, load, sizeof load - 1) == 0 && failed != NULL)
		msg = failed + strlen(" failed:");
	const char *loc = runtime_source_location(msg);
	if (loc == NULL) {
		snprintf(out, n, "%s", msg);
		return;
	}
	const char *rest = strchr(loc, ' ') + 1;
	/* A C++ signature follows when a '(' comes before the next ". ":
	 * skip to its matching ')'. */
	const char *open = strchr(rest, '('), *stop = strstr(rest, ". ");
	if (open != NULL && (stop == NULL || open < stop) && strstr(rest, "::") != NULL &&
	    strstr(rest, "::") < open) {
		int depth = 0;
		const char *q = open;
		for (; *q; q++) {
			depth += *q == '(';
			depth -= *q == ')';
			if (depth == 0)
				break;
		}
		if (*q == ')')
			rest = q[1] == ' ' ? q + 2 : q + 1;
	}
	static const char check[] = " was false. ";
	const char *c = strstr(rest, check);
	if (c != NULL)
		rest = c + sizeof check - 1;
	snprintf(out, n, "%.*s%s", (int)(loc - msg), msg, rest);
}

corral_plugin_error onnx_status(const OrtApi *ort, OrtStatus *st,
    corral_plugin_error fallback, char *err, size_t errlen,
    const char *what, ...)
{
	corral_plugin_error rc;
	char prefix[512], msg[1024];
	va_list ap;

	if (st == NULL)
		return CORRAL_PLUGIN_OK;
	switch (ort->GetErrorCode(st)) {
	case ORT_NO_SUCHFILE: rc = CORRAL_PLUGIN_IO; break;
	case ORT_INVALID_PROTOBUF:
	case ORT_INVALID_GRAPH:
	case ORT_NO_MODEL: rc = CORRAL_PLUGIN_BAD_MODEL; break;
	case ORT_INVALID_ARGUMENT: rc = CORRAL_PLUGIN_INVALID_ARGUMENT; break;
	case ORT_NOT_IMPLEMENTED: rc = CORRAL_PLUGIN_UNSUPPORTED; break;
	default: rc = fallback; break;
	}
	va_start(ap, what);
	vsnprintf(prefix, sizeof prefix, what, ap);
	va_end(ap);
	runtime_condense(msg, sizeof msg, ort->GetErrorMessage(st));
	corral_errf(err, errlen, "%s: %s", prefix, msg);
	ort->ReleaseStatus(st);
	/* ORT's messages may end in a newline; the host adds its own. */
	if (err != NULL && errlen > 0) {
		size_t len = strlen(err);

		while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
			err[--len] = '\0';
	}
	return rc;
}

void onnx_format_shape(char *buf, size_t n, const int64_t *shape,
    size_t ndim)
{
	size_t off = 0;
	int k;

	if (n == 0)
		return;
	buf[0] = '\0';
	k = snprintf(buf, n, "[");
	for (size_t i = 0; k >= 0 && i < ndim; i++) {
		off += (size_t)k;
		if (off >= n)
			return;
		k = snprintf(buf + off, n - off, "%s%lld", i ? ", " : "",
		    (long long)shape[i]);
	}
	if (k >= 0 && (off += (size_t)k) < n)
		snprintf(buf + off, n - off, "]");
}

/* ------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------ */

static const struct {
	ONNXTensorElementDataType ort;
	corral_dtype dtype;
	const char *name;
} runtime_types[] = {
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL, CORRAL_DT_BOOL, "BOOL" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8, CORRAL_DT_UINT8, "UINT8" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16, CORRAL_DT_UINT16, "UINT16" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32, CORRAL_DT_UINT32, "UINT32" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64, CORRAL_DT_UINT64, "UINT64" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8, CORRAL_DT_INT8, "INT8" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16, CORRAL_DT_INT16, "INT16" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32, CORRAL_DT_INT32, "INT32" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64, CORRAL_DT_INT64, "INT64" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16, CORRAL_DT_FP16, "FLOAT16" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16, CORRAL_DT_BF16, "BFLOAT16" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, CORRAL_DT_FP32, "FLOAT" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE, CORRAL_DT_FP64, "DOUBLE" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING, CORRAL_DT_BYTES, "STRING" },
	/* Types corral has no datatype for. */
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX64, CORRAL_DT_INVALID, "COMPLEX64" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX128, CORRAL_DT_INVALID, "COMPLEX128" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E4M3FN, CORRAL_DT_INVALID, "FLOAT8E4M3FN" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E4M3FNUZ, CORRAL_DT_INVALID, "FLOAT8E4M3FNUZ" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E5M2, CORRAL_DT_INVALID, "FLOAT8E5M2" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E5M2FNUZ, CORRAL_DT_INVALID, "FLOAT8E5M2FNUZ" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT4, CORRAL_DT_INVALID, "UINT4" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_INT4, CORRAL_DT_INVALID, "INT4" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT4E2M1, CORRAL_DT_INVALID, "FLOAT4E2M1" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT2, CORRAL_DT_INVALID, "UINT2" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_INT2, CORRAL_DT_INVALID, "INT2" },
	{ ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E8M0, CORRAL_DT_INVALID, "FLOAT8E8M0" },
};

#define RUNTIME_N_TYPES (sizeof runtime_types / sizeof runtime_types[0])

corral_dtype onnx_dtype_from_ort(ONNXTensorElementDataType t)
{
	for (size_t i = 0; i < RUNTIME_N_TYPES; i++)
		if (runtime_types[i].ort == t)
			return runtime_types[i].dtype;
	return CORRAL_DT_INVALID;
}

const char *onnx_ort_type_name(ONNXTensorElementDataType t)
{
	for (size_t i = 0; i < RUNTIME_N_TYPES; i++)
		if (runtime_types[i].ort == t)
			return runtime_types[i].name;
	return "UNDEFINED";
}
