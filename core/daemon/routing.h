/*
 * routing.h - which version serves a request that names none: the
 * model's default version (its highest, until `promote` picks another;
 * `rollback` goes back to the one before in one step), or, once
 * `set-traffic` gives weights, a weighted random choice among versions
 * (a canary). The routing of every model is kept in
 * <state_dir>/routing.json, written atomically after each change and
 * read back at start, so a restarted daemon routes as before.
 *
 * Threading: every function runs with corrald.lock held, except
 * routing_restore, which runs at start before any other thread.
 */
#ifndef CORRAL_ROUTING_H
#define CORRAL_ROUTING_H

#include <msgpack.h>

#include "models.h"

/* The version a request naming none goes to. */
model_version *routing_pick(model *m);

/* The default version (what a request naming none gets outside a canary);
 * 0 when m has no version. */
int64_t routing_default_version(const model *m);

/* Does m's routing name version v (as its promoted default, in its
 * traffic weights, or as its shadow)? Such a version is not unloaded. */
bool routing_uses(const model *m, int64_t v);

/* Make `v` the default (the current one becomes the rollback target) and
 * end any canary. Returns CORRAL_OK, or VERSION_NOT_FOUND (not served),
 * UNAVAILABLE (not READY) or INVALID_ARGUMENT with err, nothing changed. */
corral_status routing_promote(model *m, int64_t v, char *err, size_t errlen);

/* Go back to the previous default, ending any canary. */
corral_status routing_rollback(model *m, char *err, size_t errlen);

/* Split the traffic of requests naming no version: n served versions with
 * their weights, the ones with weight above 0 READY (n == 0 ends the
 * canary). */
corral_status routing_set_traffic(model *m, const int64_t *versions,
    const int64_t *weights, size_t n, char *err, size_t errlen);

/* Mirror `percent` of the default version's traffic to version v
 * (shadow.h); v 0 or percent 0 stops mirroring. */
corral_status routing_set_shadow(model *m, int64_t v, int64_t percent, char *err,
    size_t errlen);

/* {"shadow_version": N, "shadow_percent": N, "default_version": N,
 * "previous_default": N, "traffic": {"V": W...}} as five key/value pairs
 * of an enclosing map. */
int routing_pack(msgpack_packer *pk, const model *m);
#define ROUTING_PACK_PAIRS 5

/* Write every model's routing, and the versions an operator loaded and
 * unloaded (lifecycle.h), to <state_dir>/routing.json (temporary file,
 * fsync, rename, fsync of the folder). Returns 0, or -1 with err. */
int routing_save(const corrald *d, char *err, size_t errlen);

/* Apply <state_dir>/routing.json, if present, to the models served now;
 * versions no longer served are dropped from it, with a log line. */
void routing_restore(corrald *d);

/* Read only the loaded and unloaded versions of every model in the table
 * from <state_dir>/routing.json (before the versions are chosen). */
void routing_restore_pins(corrald *d);

#endif
