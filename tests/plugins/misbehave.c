/*
 * misbehave - a test plugin that does what its input asks, including the
 * things a plugin must not do, so tests can watch the sandbox and the
 * supervisor handle them.
 *
 * Input "x" FP64 [-1]; output "y" FP64 [n] = 2 * x, unless x[0] is a
 * command:
 *   -1  abort()                        -> worker dies by SIGABRT
 *   -2  write to an unmapped address   -> SIGSEGV
 *   -3  sleep x[1] milliseconds, then answer normally
 *   -4  open("/etc/hostname")          -> y[0] = errno (EACCES when confined)
 *   -5  socket(AF_INET)                -> killed: not in the allowlist
 *   -6  return an error                -> MODEL_ERROR "asked to fail"
 *   -7  fork()                         -> EPERM: no new processes; answers
 *   -8  answer with x[1] values        -> a reply as large as asked
 * Load parameters: fail_load=1 (load returns BAD_MODEL), crash_load=1
 * (load aborts: a crash, restarted until the crash-loop limit),
 * threads=N (start N idle threads at load, to show the filter covers every
 * thread).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <corral/plugin.h>

typedef struct misbehave {
	const corral_host_api *host;
	pthread_t threads[8];
	int n_threads;
} misbehave;

static const int64_t x_shape[] = {-1};
static const corral_tensor_spec inputs[] = {{"x", CORRAL_DT_FP64, 1, x_shape, 0, NULL}};
static const corral_tensor_spec outputs[] = {{"y", CORRAL_DT_FP64, 1, x_shape, 0, NULL}};

/* Idle threads wait on a condition that never comes: futex, which the
 * serving policy allows even when a thread first runs after confinement
 * (pause() would not be allowed). */
static pthread_mutex_t idle_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cv = PTHREAD_COND_INITIALIZER;

static void *idle_thread(void *arg)
{
	pthread_mutex_lock(&idle_mu);
	for (;;)
		pthread_cond_wait(&idle_cv, &idle_mu);
	return arg;
}

static corral_plugin_error mb_load(const corral_host_api *host,
    const corral_load_args *args, void **model, char *err, size_t errlen)
{
	misbehave *m = calloc(1, sizeof *m);
	if (m == NULL)
		return CORRAL_PLUGIN_NO_MEMORY;
	m->host = host;
	for (size_t i = 0; i < args->n_params; i++) {
		const corral_param *p = &args->params[i];
		if (strcmp(p->key, "crash_load") == 0 && strcmp(p->value, "1") == 0)
			abort();
		if (strcmp(p->key, "fail_load") == 0 && strcmp(p->value, "1") == 0) {
			snprintf(err, errlen, "misbehave: asked to fail at load");
			free(m);
			return CORRAL_PLUGIN_BAD_MODEL;
		}
		if (strcmp(p->key, "threads") == 0) {
			int n = atoi(p->value);
			for (; m->n_threads < n && m->n_threads < 8; m->n_threads++)
				pthread_create(&m->threads[m->n_threads], NULL, idle_thread, NULL);
		}
	}
	*model = m;
	return CORRAL_PLUGIN_OK;
}

static corral_plugin_error mb_describe(void *model, corral_signature *sig,
    char *err, size_t errlen)
{
	*sig = (corral_signature){inputs, 1, outputs, 1};
	return CORRAL_PLUGIN_OK;
}

static double x_at(const corral_tensor *t, int64_t i)
{
	double v;
	memcpy(&v, (const char *)t->data + i * 8, 8);
	return v;
}

static corral_plugin_error mb_infer(void *model, corral_infer_ctx *ctx,
    const corral_tensor *in, size_t n_in, char *err, size_t errlen)
{
	misbehave *m = model;
	int64_t n = in[0].shape[0];
	double cmd = n > 0 ? x_at(&in[0], 0) : 0;
	double extra = 0;
	if (cmd == -1) {
		abort();
	} else if (cmd == -2) {
		/* Not NULL: UBSan would report a NULL store itself. */
		volatile int *volatile bad = (volatile int *)(uintptr_t)16;
		*bad = 1;
	} else if (cmd == -3 && n > 1) {
		double ms = x_at(&in[0], 1);
		struct timespec ts = {(time_t)(ms / 1000), (long)((int64_t)ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	} else if (cmd == -4) {
		int fd = open("/etc/hostname", O_RDONLY);
		extra = fd >= 0 ? 0 : errno;
		if (fd >= 0)
			close(fd);
	} else if (cmd == -5) {
		socket(AF_INET, SOCK_STREAM, 0);
	} else if (cmd == -6) {
		snprintf(err, errlen, "asked to fail");
		return CORRAL_PLUGIN_INTERNAL;
	} else if (cmd == -7) {
		if (fork() == 0)
			_exit(0);
	}
	if (cmd == -8 && n > 1)
		n = (int64_t)x_at(&in[0], 1);
	double *y = m->host->output_alloc(ctx, "y", CORRAL_DT_FP64, 1, &n);
	if (y == NULL)
		return CORRAL_PLUGIN_NO_MEMORY;
	for (int64_t i = 0; i < n; i++) {
		double v = cmd == -8 ? 0 : 2 * x_at(&in[0], i);
		memcpy(&y[i], &v, 8);
	}
	if (cmd == -4)
		memcpy(&y[0], &extra, 8);
	return CORRAL_PLUGIN_OK;
}

static void mb_unload(void *model)
{
	free(model);
}

static const corral_plugin misbehave_plugin = {
	.magic = CORRAL_PLUGIN_MAGIC,
	.abi_major = CORRAL_PLUGIN_ABI_MAJOR,
	.abi_minor = CORRAL_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(corral_plugin),
	.name = "misbehave",
	.version = "1.0.0",
	.load = mb_load,
	.describe = mb_describe,
	.infer = mb_infer,
	.unload = mb_unload,
};

CORRAL_PLUGIN_EXPORT const corral_plugin *CORRAL_PLUGIN_ENTRY(void)
{
	return &misbehave_plugin;
}
