/*
 * provenance.h - where a model version came from: every file of its
 * folder (links followed) with its size and sha256, and the folder's
 * metadata.json, if it has one (training run, git commit, metrics: any
 * JSON object). Computed once, when the daemon reads the repository, and
 * shown by `metadata` and `status` with the plugin's name and version and
 * the time the version became READY.
 *
 * Threading: provenance_compute runs on the supervisor thread before any
 * request; the result is immutable afterwards.
 */
#ifndef CORRAL_PROVENANCE_H
#define CORRAL_PROVENANCE_H

#include <stddef.h>

/* The provenance of the version folder `dir` as one MessagePack map
 * {files: [{name, size, sha256}], metadata: {...}} in a new buffer the
 * caller frees; NULL with err on failure (an unreadable file, bad JSON). */
char *provenance_compute(const char *dir, size_t *len, char *err, size_t errlen);

#endif
