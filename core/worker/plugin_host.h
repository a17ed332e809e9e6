/*
 * plugin_host.h - loading a plugin shared object and checking its ABI.
 * Used by corral-worker only (plugins never run in the daemon).
 */
#ifndef CORRAL_PLUGIN_HOST_H
#define CORRAL_PLUGIN_HOST_H

#include <stddef.h>

#include <corral/plugin.h>

/*
 * Check a descriptor against this host's ABI: magic, major (equal), minor
 * (plugin's <= host's) and struct size (at least the size its minor
 * defines), then that the 1.0 entry points are set. Returns 0, or -1 with
 * a message naming both versions in err.
 */
int plugin_check_abi(const corral_plugin *p, char *err, size_t errlen);

/*
 * dlopen `path` (RTLD_NOW | RTLD_LOCAL), call its entry function and check
 * the descriptor. Returns the descriptor, or NULL with a message in err.
 * The library is never closed: it lives as long as the process.
 */
const corral_plugin *plugin_open(const char *path, char *err, size_t errlen);

#endif
