/* plugin_host.c - dlopen a plugin and check its descriptor (plugin.h). */
#include <dlfcn.h>
#include <stdio.h>

#include "plugin_host.h"

/* Descriptor size that each ABI 1.x minor defines, indexed by minor. */
static const size_t plugin_size_by_minor[] = {CORRAL_PLUGIN_SIZE_1_0};

int plugin_check_abi(const corral_plugin *p, char *err, size_t errlen)
{
	if (p == NULL) {
		snprintf(err, errlen, "plugin entry returned no descriptor");
		return -1;
	}
	if (p->magic != CORRAL_PLUGIN_MAGIC) {
		snprintf(err, errlen,
		    "not a corral plugin: magic 0x%08x, expected 0x%08x "
		    "(host ABI %d.%d)",
		    p->magic, CORRAL_PLUGIN_MAGIC, CORRAL_PLUGIN_ABI_MAJOR,
		    CORRAL_PLUGIN_ABI_MINOR);
		return -1;
	}
	if (p->abi_major != CORRAL_PLUGIN_ABI_MAJOR ||
	    p->abi_minor > CORRAL_PLUGIN_ABI_MINOR) {
		snprintf(err, errlen,
		    "plugin ABI %u.%u is not supported by host ABI %d.%d "
		    "(major must be equal, minor at most the host's)",
		    p->abi_major, p->abi_minor, CORRAL_PLUGIN_ABI_MAJOR,
		    CORRAL_PLUGIN_ABI_MINOR);
		return -1;
	}
	size_t want = plugin_size_by_minor[p->abi_minor];
	if (p->struct_size < want) {
		snprintf(err, errlen,
		    "plugin descriptor is %u bytes, ABI %u.%u needs at least %zu "
		    "(host ABI %d.%d)",
		    p->struct_size, p->abi_major, p->abi_minor, want,
		    CORRAL_PLUGIN_ABI_MAJOR, CORRAL_PLUGIN_ABI_MINOR);
		return -1;
	}
	if (p->load == NULL || p->describe == NULL || p->infer == NULL ||
	    p->name == NULL || p->version == NULL) {
		snprintf(err, errlen,
		    "plugin descriptor (ABI %u.%u) lacks a name, version, load, "
		    "describe or infer",
		    p->abi_major, p->abi_minor);
		return -1;
	}
	return 0;
}

const corral_plugin *plugin_open(const char *path, char *err, size_t errlen)
{
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		snprintf(err, errlen, "cannot load plugin: %s", dlerror());
		return NULL;
	}
	corral_plugin_entry_fn entry;
	/* POSIX's sanctioned way to turn dlsym's void * into a function. */
	*(void **)&entry = dlsym(lib, CORRAL_PLUGIN_ENTRY_NAME);
	if (entry == NULL) {
		snprintf(err, errlen, "%s does not export %s", path,
		    CORRAL_PLUGIN_ENTRY_NAME);
		return NULL;
	}
	const corral_plugin *p = entry();
	if (plugin_check_abi(p, err, errlen) != 0)
		return NULL;
	return p;
}
