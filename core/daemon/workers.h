/*
 * workers.h - starting, watching and replacing corral-worker processes.
 *
 * Threads: worker_spawn, workers_reap, workers_tick and workers_stop_all
 * run on the supervisor thread (corrald's main thread). worker_ref and
 * worker_unref are called by request handlers on nng's threads.
 */
#ifndef CORRAL_WORKERS_H
#define CORRAL_WORKERS_H

#include "models.h"

/* Start a worker in mv's slot `in` (STARTING until its describe reply
 * comes back). On failure the slot is CRASHED and retried after its
 * backoff. */
void worker_spawn(corrald *d, model_version *mv, instance *in);

/* Collect every exited child and update its slot: FAILED (and the whole
 * version) for a permanent failure or past the restart intensity, else
 * CRASHED with a restart scheduled after a backoff. Requests in flight on
 * it fail with WORKER_CRASHED naming the cause, or are retried. */
void workers_reap(corrald *d);

/* Close the sockets of ended workers (retired by workers_reap) that no
 * request or probe uses any more; `stopping` (the client side is gone)
 * waits for probes only. Then free them. */
void workers_close_retired(corrald *d, bool stopping);

/* Start workers in new slots (a version just added, lifecycle.h) and
 * those whose restart time has come. */
void workers_tick(corrald *d);

/* How long a worker that is told to stop (SIGTERM) gets before SIGKILL:
 * at shutdown and when a drained version stops. */
#define WORKER_STOP_GRACE_MS 3000

/* Stop every worker (SIGTERM, then SIGKILL after grace_ms) and wait. */
void workers_stop_all(corrald *d, int64_t grace_ms);

/* A request on w passed its deadline of timeout_ms. If w has not answered
 * anything for that long either, it is hung: kill it; its exit is then
 * classified as a request timeout. Any thread; takes the lock. */
void worker_kill_hung(corrald *d, worker *w, int64_t timeout_ms);

/* Take a reference (lock held) / drop one (lock NOT held). */
void worker_ref(worker *w);
void worker_unref(corrald *d, worker *w);

#endif
