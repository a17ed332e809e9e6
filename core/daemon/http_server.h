/*
 * http_server.h - corrald's HTTP listener (nng's HTTP server, at the
 * daemon config's http_listen, loopback by default): GET /metrics in the
 * Prometheus text format (metrics.h), and the health endpoints
 * /v2/health/live and /v2/health/ready (the Open Inference Protocol's
 * paths) with /healthz and /readyz: 200 when live / ready, 503 when not
 * ready (a served version without a READY worker). docs/monitoring.md.
 */
#ifndef CORRAL_HTTP_SERVER_H
#define CORRAL_HTTP_SERVER_H

#include "models.h"

typedef struct http_server http_server;

/* Start serving on d->cfg.http_listen ("" : no listener, returns a
 * server that does nothing). NULL with err when the address is bad or
 * taken. Supervisor thread, before requests can arrive. */
http_server *http_server_start(corrald *d, char *err, size_t errlen);

/* Stop serving and free (NULL is fine). Supervisor thread. */
void http_server_stop(http_server *s);

#endif
