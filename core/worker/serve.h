/*
 * serve.h - corral-worker's request loop: the daemon-to-worker protocol
 * (docs/architecture.md, "Daemon and worker").
 */
#ifndef CORRAL_WORKER_SERVE_H
#define CORRAL_WORKER_SERVE_H

#include <nng/nng.h>

#include <corral/plugin.h>

#include "sandbox.h"

typedef struct worker_model {
	const corral_plugin *plugin;
	void *handle; /* from plugin->load */
	corral_signature sig;
	const sandbox_report *sandbox; /* which layers hold, for describe */
} worker_model;

/* Answer requests on `sock` (a REP socket dialled to the daemon) one at a
 * time until the socket is closed. A reply over max_reply bytes (the
 * daemon's receive limit) is replaced by a PAYLOAD_TOO_LARGE error, so the
 * request fails alone instead of breaking the connection. Returns 0 on a
 * clean end, -1 on a failure that should end the worker. */
int worker_serve(nng_socket sock, const worker_model *m, size_t max_reply);

/* The worker's corral_host_api (output_alloc and log). */
extern const corral_host_api worker_host_api;

#endif
