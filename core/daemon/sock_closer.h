/*
 * sock_closer.h - closing a dead worker's socket without risking the
 * supervisor.
 *
 * Debian 12's nng 1.5.2 can hang for ever closing a REQ socket whose
 * connection died in the middle of a send: nng's single reaper thread
 * waits in req0_pipe_stop for a task that never runs (nng issue 1813,
 * fixed in nng 1.8), and nng_close waits for the reaper. Under a burst of
 * worker deaths this happens about once in a thousand. So the close runs
 * on a thread of its own and the supervisor waits for it a bounded time;
 * if it hangs, the closer is "wedged": the daemon says so, later closes
 * are queued without waiting, and the daemon keeps supervising and
 * serving (requests on a dying worker are failed by front_abort_worker,
 * not by the close).
 *
 * Threads: every function runs on the supervisor thread.
 */
#ifndef CORRAL_SOCK_CLOSER_H
#define CORRAL_SOCK_CLOSER_H

#include <stdbool.h>

#include <nng/nng.h>

typedef struct sock_closer sock_closer;

/* Start the closing thread. NULL when out of memory or threads. */
sock_closer *sock_closer_start(void);

/* Close s on the closing thread, waiting up to wait_ms for it (not at all
 * once wedged). Returns false when it did not finish in time: from then
 * on the closer is wedged. */
bool sock_closer_close(sock_closer *c, nng_socket s, int wait_ms);

/* Has a close hung? */
bool sock_closer_wedged(const sock_closer *c);

/* Wait up to wait_ms for the queued closes, then stop the thread and free
 * c. Returns false when a close hangs: the thread (and c) is then left to
 * the process's exit, and nng must not be finalized. */
bool sock_closer_stop(sock_closer *c, int wait_ms);

#endif
