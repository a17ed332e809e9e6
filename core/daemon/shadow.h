/*
 * shadow.h - shadow traffic: a share of the requests a model's default
 * version answers is also sent to a candidate version, whose answers are
 * never returned, only compared with the default's: how many were
 * mirrored, compared, diverged (different names, types or shapes, or a
 * value more than SHADOW_TOLERANCE apart), failed or skipped (no free
 * slot, no READY candidate worker), and the largest difference seen. The
 * counts are in the model's shadow_stats, shown by `status`.
 *
 * A fixed pool of slots bounds the work: when all are busy a mirror is
 * skipped, never queued, so the shadow cannot slow the default down.
 *
 * Threading: shadow_mirror from any thread, without the lock; the rest on
 * the supervisor thread.
 */
#ifndef CORRAL_SHADOW_H
#define CORRAL_SHADOW_H

#include "models.h"

#define SHADOW_TOLERANCE 1e-6

typedef struct shadows shadows;

shadows *shadows_start(corrald *d, size_t slots, char *err, size_t errlen);
void shadows_stop(shadows *s);

/* Send `request` (a worker request, taken) to m's shadow version and
 * compare its reply with `primary` (the default's reply, taken). */
void shadow_mirror(shadows *s, model *m, nng_msg *request, nng_msg *primary);

#endif
