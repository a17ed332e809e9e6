/*
 * test_host.h - the host side of corral's plugin ABI, for tests that
 * dlopen a plugin and play corrald in process (linear, xgboost, onnx).
 *
 * test_host is a corral_host_api whose output_alloc and output_alloc_bytes
 * record every output in a struct corral_infer_ctx (test_output), in
 * buffers test_host_output_offset bytes past a malloc'd address (1 by
 * default: deliberately misaligned, as a network message can leave them),
 * and whose log counts messages per level and keeps the last of each.
 */
#ifndef CORRAL_TEST_HOST_H
#define CORRAL_TEST_HOST_H

#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

#include <corral/plugin.h>

#include "test.h"

#define TEST_MAX_OUTPUTS 16

typedef struct test_output {
	char name[128];
	corral_dtype dtype; /* CORRAL_DT_BYTES from output_alloc_bytes */
	uint32_t ndim;
	int64_t shape[CORRAL_MAX_DIMS];
	unsigned char *mem;  /* malloc'd */
	unsigned char *data; /* mem + test_host_output_offset */
	size_t nbytes;
} test_output;

struct corral_infer_ctx {
	test_output out[TEST_MAX_OUTPUTS];
	size_t n;
	int fail_alloc; /* make output_alloc(_bytes) answer NULL */
	int bad_calls;  /* calls that broke output_alloc's contract */
};

/* output_alloc, log and output_alloc_bytes as the ABI describes them. */
extern const corral_host_api test_host;

/* Where output buffers start past their malloc'd block: 1 by default. */
extern size_t test_host_output_offset;

/* Free the outputs a ctx holds and zero it (fail_alloc included). */
void test_ctx_reset(corral_infer_ctx *ctx);
/* The output called name, or NULL. */
const test_output *test_ctx_find(const corral_infer_ctx *ctx, const char *name);

/* Messages logged, per level, and the last one of each level. */
extern int test_log_count[CORRAL_LOG_DEBUG + 1];
extern char test_log_last[CORRAL_LOG_DEBUG + 1][1024];
/* Set: every message is also printed to stderr. */
extern int test_log_verbose;
/* Zero the counts and the last messages. */
void test_log_clear(void);

/*
 * dlopen the plugin at `path` (RTLD_NOW | RTLD_LOCAL) and call its entry
 * point; exits the test if either fails. Checks (counted in the calling
 * test file) the descriptor's magic, ABI major, struct size and `name`.
 * *so and *entry (each may be NULL) get the handle and the entry point.
 */
static inline const corral_plugin *test_plugin_open(const char *path,
    const char *name, void **so, corral_plugin_entry_fn *entry)
{
	corral_plugin_entry_fn fn;
	const corral_plugin *plugin;
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL)
		fprintf(stderr, "dlopen: %s\n", dlerror());
	REQUIRE(lib != NULL);
	/* dlsym returns void *; POSIX guarantees the conversion works. */
	*(void **)&fn = dlsym(lib, CORRAL_PLUGIN_ENTRY_NAME);
	REQUIRE(fn != NULL);
	plugin = fn();
	REQUIRE(plugin != NULL);
	CHECK_INT(plugin->magic, CORRAL_PLUGIN_MAGIC);
	CHECK_INT(plugin->abi_major, CORRAL_PLUGIN_ABI_MAJOR);
	CHECK_INT(plugin->struct_size, sizeof(corral_plugin));
	CHECK_STR(plugin->name, name);
	if (so != NULL)
		*so = lib;
	if (entry != NULL)
		*entry = fn;
	return plugin;
}

#endif
