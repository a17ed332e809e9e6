/*
 * abi_plugin.c - a minimal plugin for abi_test, built several times (see
 * CMakeLists.txt). Each build's descriptor takes its magic, ABI version and
 * size from macros, so one source gives one good plugin and several that
 * are wrong in exactly one way.
 */
#include <corral/plugin.h>

#ifndef ABI_MAGIC
#define ABI_MAGIC CORRAL_PLUGIN_MAGIC
#endif
#ifndef ABI_MAJOR
#define ABI_MAJOR CORRAL_PLUGIN_ABI_MAJOR
#endif
#ifndef ABI_MINOR
#define ABI_MINOR CORRAL_PLUGIN_ABI_MINOR
#endif
#ifdef ABI_SMALL
#define ABI_SIZE (CORRAL_PLUGIN_SIZE_1_0 - 1)
#else
#define ABI_SIZE sizeof(corral_plugin)
#endif

static corral_plugin_error abi_load(const corral_host_api *host,
    const corral_load_args *args, void **model, char *err, size_t errlen)
{
	*model = NULL;
	return CORRAL_PLUGIN_OK;
}

static corral_plugin_error abi_describe(void *model, corral_signature *sig,
    char *err, size_t errlen)
{
	*sig = (corral_signature){0};
	return CORRAL_PLUGIN_OK;
}

#ifndef ABI_NO_INFER
static corral_plugin_error abi_infer(void *model, corral_infer_ctx *ctx,
    const corral_tensor *inputs, size_t n_inputs, char *err, size_t errlen)
{
	return CORRAL_PLUGIN_OK;
}
#define ABI_INFER abi_infer
#else
#define ABI_INFER NULL
#endif

static const corral_plugin abi_descriptor = {
	.magic = ABI_MAGIC,
	.abi_major = ABI_MAJOR,
	.abi_minor = ABI_MINOR,
	.struct_size = (uint32_t)(ABI_SIZE),
	.name = "abi_test",
	.version = "0.0.1",
	.load = abi_load,
	.describe = abi_describe,
	.infer = ABI_INFER,
	.unload = NULL,
	.extra_syscalls = NULL,
};

#ifdef ABI_NO_ENTRY
/* Exports a function, just not the one the host looks for. */
CORRAL_PLUGIN_EXPORT const corral_plugin *abi_not_the_entry(void);
CORRAL_PLUGIN_EXPORT const corral_plugin *abi_not_the_entry(void)
{
	return &abi_descriptor;
}
#else
CORRAL_PLUGIN_EXPORT const corral_plugin *CORRAL_PLUGIN_ENTRY(void)
{
#ifdef ABI_NULL_DESCRIPTOR
	(void)abi_descriptor;
	return NULL;
#else
	return &abi_descriptor;
#endif
}
#endif
