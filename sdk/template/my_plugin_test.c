/*
 * my_plugin_test.c - my_plugin in process, with this test as its host.
 *
 *   my_plugin_test PATH/my_plugin.so
 *
 * Does what corral-worker does, minus confinement: dlopens the plugin,
 * checks its descriptor, loads a model from a temporary version folder,
 * describes it and runs infer() on input data at an odd address (as a
 * network message can leave it). Then the errors. Run the plugin under
 * corrald as well: only there does infer() run under seccomp.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <corral/plugin.h>

static int failures;

#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
			    __LINE__, #cond); \
			failures++; \
		} \
	} while (0)

/* ------------------------------------------------------------------------
 * A host: output_alloc keeps one output, log prints
 * ------------------------------------------------------------------------ */

/* The host defines the context; plugins only see a pointer to it. */
struct corral_infer_ctx {
	char name[32];
	corral_dtype dtype;
	uint32_t ndim;
	int64_t shape[CORRAL_MAX_DIMS];
	void *buf;
	size_t nbytes;
};

static void *test_output_alloc(corral_infer_ctx *ctx, const char *name,
    corral_dtype dtype, uint32_t ndim, const int64_t *shape)
{
	int64_t n = corral_shape_elements(shape, ndim);
	size_t esize = corral_dtype_size(dtype);

	if (ctx->buf != NULL || strlen(name) >= sizeof ctx->name ||
	    ndim > CORRAL_MAX_DIMS || n < 0 || esize == 0)
		return NULL;
	ctx->nbytes = (size_t)n * esize;
	/* Never NULL on success, even for zero elements. */
	if ((ctx->buf = malloc(ctx->nbytes ? ctx->nbytes : 1)) == NULL)
		return NULL;
	strcpy(ctx->name, name);
	ctx->dtype = dtype;
	ctx->ndim = ndim;
	memcpy(ctx->shape, shape, ndim * sizeof *shape);
	return ctx->buf;
}

static void test_log(int level, const char *msg)
{
	fprintf(stderr, "[plugin log %d] %s\n", level, msg);
}

static const corral_host_api test_host = {
	.struct_size = sizeof(corral_host_api),
	.output_alloc = test_output_alloc,
	.log = test_log,
};

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static char dir[] = "/tmp/my_plugin_test.XXXXXX";

static void write_file(const char *name, const char *content)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fputs(content, f) == EOF || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void remove_file(const char *name)
{
	char path[128];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
}

/* load() with at most one parameter; *model is set on success. */
static corral_plugin_error load(const corral_plugin *p, const char *key,
    const char *value, void **model, char *err, size_t errlen)
{
	corral_param param = {key, value};
	corral_load_args args = {
		.struct_size = sizeof args,
		.model_name = "demo",
		.model_version = 1,
		.version_dir = dir,
		.params = &param,
		.n_params = key != NULL ? 1 : 0,
	};

	err[0] = '\0';
	return p->load(&test_host, &args, model, err, errlen);
}

/* ------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------ */

static void test_descriptor(const corral_plugin *p)
{
	CHECK(p != NULL);
	if (p == NULL)
		exit(1);
	CHECK(p->magic == CORRAL_PLUGIN_MAGIC);
	CHECK(p->abi_major == CORRAL_PLUGIN_ABI_MAJOR);
	CHECK(p->abi_minor <= CORRAL_PLUGIN_ABI_MINOR);
	CHECK(p->struct_size >= CORRAL_PLUGIN_SIZE_1_0);
	CHECK(p->name != NULL && p->version != NULL);
	CHECK(p->load != NULL && p->describe != NULL && p->infer != NULL);
}

static void test_serving(const corral_plugin *p)
{
	char err[256];
	void *model = NULL;
	corral_signature sig;

	write_file("scale.txt", "2.5\n");
	CHECK(load(p, NULL, NULL, &model, err, sizeof err) == CORRAL_PLUGIN_OK);
	if (model == NULL) {
		fprintf(stderr, "load: %s\n", err);
		exit(1);
	}

	CHECK(p->describe(model, &sig, err, sizeof err) == CORRAL_PLUGIN_OK);
	CHECK(sig.n_inputs == 1 && strcmp(sig.inputs[0].name, "x") == 0);
	CHECK(sig.inputs[0].dtype == CORRAL_DT_FP32 && sig.inputs[0].ndim == 2);
	CHECK(sig.n_outputs == 1 && strcmp(sig.outputs[0].name, "y") == 0);

	/* Two rows of three floats, one byte past an aligned address. */
	static const float x[6] = {1, -2, 0.5f, 4, 0, 3};
	static const float want[6] = {2.5f, -5, 1.25f, 10, 0, 7.5f};
	unsigned char raw[sizeof x + 1];
	int64_t shape[2] = {2, 3};
	corral_tensor in = {"x", CORRAL_DT_FP32, 2, shape, raw + 1, sizeof x};
	corral_infer_ctx ctx = {0};

	memcpy(raw + 1, x, sizeof x);
	CHECK(p->infer(model, &ctx, &in, 1, err, sizeof err) == CORRAL_PLUGIN_OK);
	CHECK(strcmp(ctx.name, "y") == 0 && ctx.dtype == CORRAL_DT_FP32);
	CHECK(ctx.ndim == 2 && ctx.shape[0] == 2 && ctx.shape[1] == 3);
	CHECK(ctx.nbytes == sizeof want && ctx.buf != NULL &&
	    memcmp(ctx.buf, want, sizeof want) == 0);
	free(ctx.buf);

	/* Zero rows in, zero rows out. */
	memset(&ctx, 0, sizeof ctx);
	shape[0] = 0;
	in.nbytes = 0;
	CHECK(p->infer(model, &ctx, &in, 1, err, sizeof err) == CORRAL_PLUGIN_OK);
	CHECK(ctx.ndim == 2 && ctx.shape[0] == 0 && ctx.nbytes == 0);
	free(ctx.buf);

	/* A datatype the signature does not declare. */
	memset(&ctx, 0, sizeof ctx);
	in.dtype = CORRAL_DT_FP64;
	CHECK(p->infer(model, &ctx, &in, 1, err, sizeof err) ==
	    CORRAL_PLUGIN_INVALID_ARGUMENT);
	CHECK(err[0] != '\0' && ctx.buf == NULL);

	if (p->unload != NULL)
		p->unload(model);
}

static void test_load_errors(const corral_plugin *p)
{
	char err[256];
	void *model = NULL;

	/* A file that is not there: IO, and the message names it. */
	CHECK(load(p, "scale_file", "missing.txt", &model, err, sizeof err) ==
	    CORRAL_PLUGIN_IO);
	CHECK(strstr(err, "missing.txt") != NULL);

	/* A file that holds no number: BAD_MODEL. */
	write_file("bad.txt", "two and a half\n");
	CHECK(load(p, "scale_file", "bad.txt", &model, err, sizeof err) ==
	    CORRAL_PLUGIN_BAD_MODEL);
	remove_file("bad.txt");

	/* Parameters: a path outside the folder, an unknown key. */
	CHECK(load(p, "scale_file", "../scale.txt", &model, err, sizeof err) ==
	    CORRAL_PLUGIN_INVALID_ARGUMENT);
	CHECK(load(p, "scael_file", "scale.txt", &model, err, sizeof err) ==
	    CORRAL_PLUGIN_INVALID_ARGUMENT);
	CHECK(strstr(err, "scael_file") != NULL);
}

int main(int argc, char **argv)
{
	void *so;
	corral_plugin_entry_fn entry;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH/my_plugin.so\n", argv[0]);
		return 2;
	}
	so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (so == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	/* dlsym returns void *; POSIX guarantees the conversion works. */
	*(void **)&entry = dlsym(so, CORRAL_PLUGIN_ENTRY_NAME);
	if (entry == NULL) {
		fprintf(stderr, "%s does not export %s\n", argv[1],
		    CORRAL_PLUGIN_ENTRY_NAME);
		return 1;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}

	const corral_plugin *p = entry();
	test_descriptor(p);
	test_serving(p);
	test_load_errors(p);

	remove_file("scale.txt");
	rmdir(dir);
	/* Like corral-worker, never dlclose the plugin. */
	if (failures == 0)
		printf("my_plugin_test: all checks passed\n");
	return failures == 0 ? 0 : 1;
}
