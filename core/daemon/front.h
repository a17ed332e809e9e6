/*
 * front.h - the client-facing REP socket: a fixed pool of nng contexts
 * (`concurrency`), each carrying one request at a time through a small
 * state machine. A slow model holds only the contexts of its own requests,
 * so it does not block other models while contexts remain. Requests wait
 * per version for a READY worker, up to the model's max_queue.
 */
#ifndef CORRAL_FRONT_H
#define CORRAL_FRONT_H

#include "models.h"

typedef struct front front;

/* Listen on every cfg.listen URL and start cfg.concurrency contexts.
 * Returns NULL with the reason in err. */
front *front_start(corrald *d, char *err, size_t errlen);

/* Begin a graceful shutdown: new requests are answered UNAVAILABLE;
 * requests already received go on. Supervisor thread. */
void front_drain(front *f);

/* Fail the requests in flight on workers that have ended (reaped), each
 * then retried or answered WORKER_CRASHED with its worker's cause, rather
 * than relying on the close of the worker's socket, which may hang
 * (sock_closer.h). Called when a worker is reaped, and on every turn of
 * the supervisor, which catches an operation started just after the
 * reap. Supervisor thread; takes the lock (nng completes the aborted
 * operations on its own threads). */
void front_abort_ended(front *f);

/* Close the contexts that requests keep open on socket s for reuse, before
 * s itself is closed (no request is in flight on it any more).
 * Supervisor thread; takes the lock. */
void front_release_socket(front *f, nng_socket s);

/* Has front_drain been called (the daemon is shutting down)? Any thread. */
bool front_draining(front *f);

/* Requests received and not yet answered. Any thread. */
int front_busy(front *f);

/* Abort requests in flight and free everything. Called on the supervisor
 * thread while workers are still running. */
void front_stop(front *f);

#endif
