/*
 * abi_test.c - plugin_check_abi and plugin_open (core/worker/plugin_host.c).
 *
 * usage: abi_test GOOD BAD_MAGIC MAJOR2 MINOR1 SMALL NO_INFER NULL_DESC
 *                 NO_ENTRY
 * (the paths of the abi_plugin.c builds, in that order; CMakeLists.txt)
 *
 * A descriptor wrong in any one way must be refused before the host calls
 * anything in it, and where versions are involved the message must name
 * both the plugin's and the host's, so an operator sees which side to
 * rebuild.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plugin_host.h"
#include "test.h"

enum { P_GOOD, P_BAD_MAGIC, P_MAJOR2, P_MINOR1, P_SMALL, P_NO_INFER,
	P_NULL_DESC, P_NO_ENTRY, P_COUNT };

#define HOST_ABI "1.0"

static corral_plugin_error t_load(const corral_host_api *host,
    const corral_load_args *args, void **model, char *err, size_t errlen)
{
	return CORRAL_PLUGIN_OK;
}

static corral_plugin_error t_describe(void *model, corral_signature *sig,
    char *err, size_t errlen)
{
	return CORRAL_PLUGIN_OK;
}

static corral_plugin_error t_infer(void *model, corral_infer_ctx *ctx,
    const corral_tensor *inputs, size_t n_inputs, char *err, size_t errlen)
{
	return CORRAL_PLUGIN_OK;
}

static void t_unload(void *model)
{
}

static corral_plugin good_descriptor(void)
{
	return (corral_plugin){
		.magic = CORRAL_PLUGIN_MAGIC,
		.abi_major = CORRAL_PLUGIN_ABI_MAJOR,
		.abi_minor = CORRAL_PLUGIN_ABI_MINOR,
		.struct_size = sizeof(corral_plugin),
		.name = "t",
		.version = "9.9.9",
		.load = t_load,
		.describe = t_describe,
		.infer = t_infer,
		.unload = t_unload,
		.extra_syscalls = NULL,
	};
}

/* plugin_check_abi must refuse p; its message must hold every string in
 * the NULL-terminated list. */
#define CHECK_REFUSED(p, ...) check_refused(__LINE__, p, __VA_ARGS__, NULL)
static void check_refused(int line, const corral_plugin *p, ...)
{
	char err[512] = "";
	int rc = plugin_check_abi(p, err, sizeof err);
	CHECK_MSG(rc == -1, "line %d: descriptor accepted", line);
	CHECK_MSG(err[0] != '\0', "line %d: empty error", line);
	va_list ap;
	va_start(ap, p);
	for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
		CHECK_MSG(strstr(err, s) != NULL, "line %d: \"%s\" lacks \"%s\"",
		    line, err, s);
	va_end(ap);
}

/* ------------------------------------------------------- check_abi --- */

static void test_check_abi(void)
{
	char err[512] = "";
	corral_plugin p = good_descriptor();
	CHECK_INT(plugin_check_abi(&p, err, sizeof err), 0);

	/* Optional parts: no unload, no extra syscalls; a bigger descriptor
	 * (from a later layout) is fine too. */
	p.unload = NULL;
	p.extra_syscalls = NULL;
	CHECK_INT(plugin_check_abi(&p, err, sizeof err), 0);
	p = good_descriptor();
	p.struct_size = sizeof(corral_plugin) + 64;
	CHECK_INT(plugin_check_abi(&p, err, sizeof err), 0);
	p.struct_size = (uint32_t)CORRAL_PLUGIN_SIZE_1_0;
	CHECK_INT(plugin_check_abi(&p, err, sizeof err), 0);

	CHECK_REFUSED(NULL, "descriptor");

	p = good_descriptor();
	p.magic = 0x12345678u;
	CHECK_REFUSED(&p, "magic", "0x12345678", HOST_ABI);
	p.magic = 0x434f524cu; /* "CORL" with the bytes the wrong way round */
	CHECK_REFUSED(&p, "magic", HOST_ABI);

	p = good_descriptor();
	p.abi_major = CORRAL_PLUGIN_ABI_MAJOR + 1;
	CHECK_REFUSED(&p, "2.0", HOST_ABI);

	p = good_descriptor();
	p.abi_major = CORRAL_PLUGIN_ABI_MAJOR - 1;
	CHECK_REFUSED(&p, "0.0", HOST_ABI);

	p = good_descriptor();
	p.abi_minor = CORRAL_PLUGIN_ABI_MINOR + 1;
	CHECK_REFUSED(&p, "1.1", HOST_ABI);

	/* A minor far past any table the host has must not index one. */
	p = good_descriptor();
	p.abi_minor = 65535;
	CHECK_REFUSED(&p, "1.65535", HOST_ABI);

	p = good_descriptor();
	p.abi_major = 2;
	p.abi_minor = 3;
	CHECK_REFUSED(&p, "2.3", HOST_ABI);

	char need[32], have[32];
	snprintf(need, sizeof need, "%zu", (size_t)CORRAL_PLUGIN_SIZE_1_0);
	snprintf(have, sizeof have, "%zu", (size_t)CORRAL_PLUGIN_SIZE_1_0 - 1);
	p = good_descriptor();
	p.struct_size = (uint32_t)CORRAL_PLUGIN_SIZE_1_0 - 1;
	CHECK_REFUSED(&p, need, have, HOST_ABI);
	p.struct_size = 0;
	CHECK_REFUSED(&p, need, HOST_ABI);

	p = good_descriptor();
	p.load = NULL;
	CHECK_REFUSED(&p, "load", HOST_ABI);
	p = good_descriptor();
	p.infer = NULL;
	CHECK_REFUSED(&p, "infer", HOST_ABI);
	p = good_descriptor();
	p.describe = NULL;
	CHECK_REFUSED(&p, "describe", HOST_ABI);
	p = good_descriptor();
	p.name = NULL;
	CHECK_REFUSED(&p, "name", HOST_ABI);
	p = good_descriptor();
	p.version = NULL;
	CHECK_REFUSED(&p, "version", HOST_ABI);

	/* The first problem wins: a bad magic is reported as such even when
	 * everything else is wrong too. */
	p = (corral_plugin){.magic = 1, .abi_major = 7};
	CHECK_REFUSED(&p, "magic");

	/* A tiny error buffer is truncated, not overrun. */
	char small[8];
	memset(small, 'x', sizeof small);
	p = good_descriptor();
	p.abi_major = 2;
	CHECK_INT(plugin_check_abi(&p, small, sizeof small), -1);
	CHECK_INT(strlen(small), sizeof small - 1);
}

/* ---------------------------------------------------------- dlopen --- */

static void check_open_refused(int line, const char *path, const char *s1,
    const char *s2)
{
	char err[1024] = "";
	const corral_plugin *p = plugin_open(path, err, sizeof err);
	CHECK_MSG(p == NULL, "line %d: %s was accepted", line, path);
	CHECK_MSG(err[0] != '\0', "line %d: empty error", line);
	CHECK_MSG(s1 == NULL || strstr(err, s1), "line %d: \"%s\" lacks \"%s\"",
	    line, err, s1);
	CHECK_MSG(s2 == NULL || strstr(err, s2), "line %d: \"%s\" lacks \"%s\"",
	    line, err, s2);
}

static void test_open(char **paths)
{
	char err[1024] = "";
	const corral_plugin *p = plugin_open(paths[P_GOOD], err, sizeof err);
	CHECK_MSG(p != NULL, "good plugin refused: %s", err);
	if (p != NULL) {
		CHECK_STR(p->name, "abi_test");
		CHECK_STR(p->version, "0.0.1");
		CHECK_INT(p->magic, CORRAL_PLUGIN_MAGIC);
		void *model = (void *)1;
		CHECK_INT(p->load(NULL, NULL, &model, err, sizeof err), CORRAL_PLUGIN_OK);
		CHECK(model == NULL);
		/* Opening again gives the same descriptor (never dlclose'd). */
		CHECK(plugin_open(paths[P_GOOD], err, sizeof err) == p);
	}

	const char *missing = "/nonexistent/corral/abi_missing.so";
	check_open_refused(__LINE__, missing, missing, NULL);
	check_open_refused(__LINE__, paths[P_NO_ENTRY], paths[P_NO_ENTRY],
	    CORRAL_PLUGIN_ENTRY_NAME);
	check_open_refused(__LINE__, paths[P_BAD_MAGIC], "magic", HOST_ABI);
	check_open_refused(__LINE__, paths[P_MAJOR2], "2.0", HOST_ABI);
	check_open_refused(__LINE__, paths[P_MINOR1], "1.1", HOST_ABI);
	check_open_refused(__LINE__, paths[P_SMALL], "bytes", HOST_ABI);
	check_open_refused(__LINE__, paths[P_NO_INFER], "infer", HOST_ABI);
	check_open_refused(__LINE__, paths[P_NULL_DESC], "descriptor", NULL);
	/* Not a shared object at all: this test's own source. */
	check_open_refused(__LINE__, __FILE__, NULL, NULL);
}

int main(int argc, char **argv)
{
	if (argc != 1 + P_COUNT) {
		fprintf(stderr, "usage: %s GOOD BAD_MAGIC MAJOR2 MINOR1 SMALL "
				"NO_INFER NULL_DESC NO_ENTRY\n", argv[0]);
		return 2;
	}
	test_check_abi();
	test_open(argv + 1);
	TEST_MAIN_END();
}
