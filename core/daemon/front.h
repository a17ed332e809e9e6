/*
 * front.h - the client-facing REP socket: a fixed pool of nng contexts,
 * each carrying one request at a time through a small state machine, so a
 * slow model holds only its own contexts and never blocks other models.
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
