/*
 * lifecycle.h - versions entering and leaving service.
 *
 * A model serves the version folders its version policy picks, plus the
 * versions an operator loaded, minus those an operator unloaded (both
 * saved with the routing, routing.h), and nothing once the model itself
 * is unloaded. `reload`, and the repository poll when
 * repository_poll_ms is set, read the repository again and bring every
 * model to that set; a model folder that appears is served, one that goes
 * away stops being served.
 *
 * Swaps are blue/green: a new version starts and takes traffic only once
 * READY (routing.h); a version leaving the set keeps serving until a
 * version that stays is READY, then DRAINS: it takes no new requests,
 * finishes the ones it has (for up to the model's request timeout), stops
 * its workers and leaves the table. A version that fails to load never
 * replaces the one before it. An explicit `unload` drains at once.
 *
 * Threads: the table changes only on the supervisor thread. load, unload
 * and reload arrive on nng's threads; each hands its work to the
 * supervisor through a one-slot mailbox and waits for it to be done.
 */
#ifndef CORRAL_LIFECYCLE_H
#define CORRAL_LIFECYCLE_H

#include <msgpack.h>

#include "models.h"

/* Set up the mailbox (supervisor: the calling thread) and read the
 * repository into the table at start, with the saved loads and unloads;
 * no worker starts here (workers_tick starts them). Returns 0, or -1 with
 * err when the repository cannot be read or memory runs out. */
int lifecycle_start(corrald *d, char *err, size_t errlen);

/* Supervisor thread, once per turn of its loop: do a control op waiting
 * in the mailbox, poll the repository when due, and move drains along. */
void lifecycle_tick(corrald *d);

/* The daemon is stopping: answer a waiting op and any later one with
 * UNAVAILABLE. Supervisor thread, before the client side is stopped. */
void lifecycle_close(corrald *d);

/* Free the mailbox (after every other thread has stopped). */
void lifecycle_free(corrald *d);

/* The signal that wakes the supervisor for a waiting op: blocked in every
 * thread, taken by the supervisor's sigtimedwait. */
#define LIFECYCLE_WAKE_SIGNAL SIGUSR1

/* The ops load, unload and reload (docs/protocol.md), after the admin
 * check. nng's threads; blocks until the supervisor has done the work. */
corral_status op_lifecycle(corrald *d, const wire_request *req, msgpack_packer *pk,
    char *err, size_t errlen);

#endif
