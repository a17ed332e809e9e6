/*
 * my_plugin.c - a minimal, complete corral model plugin. Copy this folder
 * to start a new plugin; docs/plugins/writing-a-plugin.md walks through it.
 *
 * The model: y = x * scale, where `scale` is one number read at load time
 * from the file scale.txt in the model's version folder
 * (<repository>/<model>/<version>/scale.txt).
 *
 *   input   "x"  FP32  [-1, -1]   any number of rows and columns
 *   output  "y"  FP32  the shape of x
 *
 * Parameters (the model's config.yaml, under `parameters:`):
 *   scale_file: NAME    read the scale from NAME (a file in the version
 *                       folder) instead of scale.txt
 *
 * What it shows: reading a file in load() (the only entry point that may
 * open files: infer() runs under seccomp), taking parameters, describing a
 * signature, allocating outputs through the host, reading input data that
 * may be unaligned, and reporting errors in the caller's buffer.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <corral/plugin.h>

#define MY_PLUGIN_NAME "my_plugin"
#define MY_PLUGIN_VERSION "0.1.0"
#define MY_DEFAULT_FILE "scale.txt"

typedef struct my_model {
	const corral_host_api *host; /* valid for the life of the process */
	double scale;
} my_model;

/* The signature. Static, so it trivially outlives every describe() call
 * (the ABI asks that it stay valid until unload()). -1: any size. */
static const int64_t my_any_2d[] = {-1, -1};
static const corral_tensor_spec my_inputs[] = {
	{.name = "x", .dtype = CORRAL_DT_FP32, .ndim = 2, .shape = my_any_2d,
	    .also_accepts = 0},
};
static const corral_tensor_spec my_outputs[] = {
	{.name = "y", .dtype = CORRAL_DT_FP32, .ndim = 2, .shape = my_any_2d},
};

/* Write a message into the caller's error buffer (truncated to fit). */
__attribute__((format(printf, 3, 4))) static void my_errf(char *err,
    size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------ */

/* Read the scale from `path`: one finite number, white space around it
 * allowed. Runs inside load(), before the worker is confined. */
static corral_plugin_error my_read_scale(const char *path, double *scale,
    char *err, size_t errlen)
{
	char buf[64];
	char *end;
	size_t n;
	int failed;
	double v;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		my_errf(err, errlen, "%s: %s", path, strerror(errno));
		return CORRAL_PLUGIN_IO;
	}
	n = fread(buf, 1, sizeof buf, f);
	failed = ferror(f);
	fclose(f);
	if (failed) {
		my_errf(err, errlen, "%s: read error", path);
		return CORRAL_PLUGIN_IO;
	}
	if (n == sizeof buf) {
		my_errf(err, errlen, "%s: longer than %zu bytes", path,
		    sizeof buf - 1);
		return CORRAL_PLUGIN_BAD_MODEL;
	}
	buf[n] = '\0';
	errno = 0;
	v = strtod(buf, &end);
	while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
		end++;
	if (end == buf || *end != '\0' || errno == ERANGE || !isfinite(v)) {
		my_errf(err, errlen, "%s: expected one finite number", path);
		return CORRAL_PLUGIN_BAD_MODEL;
	}
	*scale = v;
	return CORRAL_PLUGIN_OK;
}

static corral_plugin_error my_load(const corral_host_api *host,
    const corral_load_args *args, void **model, char *err, size_t errlen)
{
	const char *file = MY_DEFAULT_FILE;
	corral_plugin_error rc;
	my_model *m;
	char *path;
	size_t n;

	if (host == NULL || host->output_alloc == NULL || args == NULL ||
	    args->version_dir == NULL) {
		my_errf(err, errlen, "no host API or no version folder");
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}

	/* Parameters are strings owned by the host and valid only during
	 * load(): copy whatever must outlive it. An unknown key is an error,
	 * so a misspelt parameter is not silently ignored. */
	for (size_t i = 0; i < args->n_params; i++) {
		const corral_param *p = &args->params[i];

		if (strcmp(p->key, "scale_file") != 0) {
			my_errf(err, errlen, "unknown parameter '%s' (this "
			    "plugin takes scale_file)", p->key);
			return CORRAL_PLUGIN_INVALID_ARGUMENT;
		}
		if (p->value[0] == '\0' || strchr(p->value, '/') != NULL) {
			my_errf(err, errlen, "scale_file must name a file in "
			    "the version folder, not '%s'", p->value);
			return CORRAL_PLUGIN_INVALID_ARGUMENT;
		}
		file = p->value;
	}

	m = calloc(1, sizeof *m);
	n = strlen(args->version_dir) + 1 + strlen(file) + 1;
	path = malloc(n);
	if (m == NULL || path == NULL) {
		free(m);
		free(path);
		my_errf(err, errlen, "out of memory");
		return CORRAL_PLUGIN_NO_MEMORY;
	}
	snprintf(path, n, "%s/%s", args->version_dir, file);
	rc = my_read_scale(path, &m->scale, err, errlen);
	free(path);
	if (rc != CORRAL_PLUGIN_OK) {
		free(m);
		return rc;
	}
	m->host = host;

	if (host->log != NULL) {
		char msg[160];

		snprintf(msg, sizeof msg, MY_PLUGIN_NAME ": %s version %lld: "
		    "scale %g from %s", args->model_name ? args->model_name : "?",
		    (long long)args->model_version, m->scale, file);
		host->log(CORRAL_LOG_INFO, msg);
	}
	*model = m;
	return CORRAL_PLUGIN_OK;
}

static corral_plugin_error my_describe(void *handle, corral_signature *sig,
    char *err, size_t errlen)
{
	(void)handle;
	(void)err;
	(void)errlen;
	sig->inputs = my_inputs;
	sig->n_inputs = sizeof my_inputs / sizeof *my_inputs;
	sig->outputs = my_outputs;
	sig->n_outputs = sizeof my_outputs / sizeof *my_outputs;
	return CORRAL_PLUGIN_OK;
}

static void my_unload(void *handle)
{
	free(handle);
}

/* ------------------------------------------------------------------------
 * Inference: runs confined. No files, sockets or new processes here.
 * ------------------------------------------------------------------------ */

static corral_plugin_error my_infer(void *handle, corral_infer_ctx *ctx,
    const corral_tensor *inputs, size_t n_inputs, char *err, size_t errlen)
{
	const my_model *m = handle;
	const corral_tensor *x = &inputs[0];
	const unsigned char *src;
	int64_t n;
	float *y;

	/* corral has already checked the request against describe(): one
	 * input "x", FP32, rank 2. These checks matter when something else
	 * calls the plugin, such as an in-process test. */
	if (n_inputs != 1 || x->dtype != CORRAL_DT_FP32 || x->ndim != 2) {
		my_errf(err, errlen, "expected one FP32 input 'x' of rank 2");
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	n = corral_shape_elements(x->shape, x->ndim);
	if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float) ||
	    x->nbytes != (size_t)n * sizeof(float)) {
		my_errf(err, errlen, "input 'x' holds %zu bytes, its shape "
		    "needs %lld floats", x->nbytes, (long long)n);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}

	/* The host owns the buffer; it holds exactly n floats and is aligned
	 * for any scalar type. */
	y = m->host->output_alloc(ctx, "y", CORRAL_DT_FP32, x->ndim, x->shape);
	if (y == NULL) {
		my_errf(err, errlen, "cannot allocate output 'y' [%lld, %lld]",
		    (long long)x->shape[0], (long long)x->shape[1]);
		return CORRAL_PLUGIN_NO_MEMORY;
	}

	/* Input data points into a network message and may sit at any
	 * address: read each value with memcpy, never through a float *. */
	src = x->data;
	for (int64_t i = 0; i < n; i++) {
		float v;

		memcpy(&v, src + (size_t)i * sizeof v, sizeof v);
		y[i] = (float)(v * m->scale);
	}
	return CORRAL_PLUGIN_OK;
}

/* ------------------------------------------------------------------------
 * The descriptor and the one exported function
 * ------------------------------------------------------------------------ */

static const corral_plugin my_plugin = {
	.magic = CORRAL_PLUGIN_MAGIC,
	.abi_major = CORRAL_PLUGIN_ABI_MAJOR,
	.abi_minor = CORRAL_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(corral_plugin),
	.name = MY_PLUGIN_NAME,
	.version = MY_PLUGIN_VERSION,
	.load = my_load,
	.describe = my_describe,
	.infer = my_infer,
	.unload = my_unload,
	/* infer() needs nothing beyond corral's base policy. A plugin that
	 * does would list names here, as libseccomp spells them:
	 *   static const char *const my_syscalls[] = {"lseek", NULL};
	 *   .extra_syscalls = my_syscalls,                                  */
	.extra_syscalls = NULL,
};

CORRAL_PLUGIN_EXPORT const corral_plugin *CORRAL_PLUGIN_ENTRY(void)
{
	return &my_plugin;
}
