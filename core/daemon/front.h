/*
 * front.h - the client-facing REP socket: a fixed pool of nng contexts
 * (`concurrency`), each carrying one request at a time through a small
 * state machine. A slow model holds only the contexts of its own requests,
 * so it does not block other models while contexts remain; per-version
 * queue limits are a later step.
 */
#ifndef CORRAL_FRONT_H
#define CORRAL_FRONT_H

#include "models.h"

typedef struct front front;

/* Listen on every cfg.listen URL and start cfg.concurrency contexts.
 * Returns NULL with the reason in err. */
front *front_start(corrald *d, char *err, size_t errlen);

/* Stop accepting, abort requests in flight and free everything. Called on
 * the supervisor thread while workers are still running. */
void front_stop(front *f);

#endif
