/* http_server.c - /metrics and the health endpoints over nng's HTTP
 * server (http_server.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "front.h"
#include "http_server.h"
#include "info_ops.h"
#include "metrics.h"

struct http_server {
	nng_http_server *srv; /* NULL: no listener configured */
};

typedef enum { EP_METRICS, EP_LIVE, EP_READY } endpoint;

/* The handler's data: which endpoint, for which daemon. */
typedef struct handler_arg {
	corrald *d;
	endpoint ep;
} handler_arg;

/* Answer the request in aio with status and body (copied). */
static void reply(nng_aio *aio, uint16_t status, const char *type, const char *body,
    size_t len)
{
	nng_http_res *res = NULL;
	int rv = nng_http_res_alloc(&res);
	if (rv == 0)
		rv = nng_http_res_set_status(res, status);
	if (rv == 0)
		rv = nng_http_res_set_header(res, "Content-Type", type);
	if (rv == 0)
		rv = nng_http_res_copy_data(res, body, len);
	if (rv != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void handle(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	const handler_arg *a = nng_http_handler_get_data(h);
	static const char text[] = "text/plain; charset=utf-8";
	if (a->ep == EP_LIVE) {
		reply(aio, NNG_HTTP_STATUS_OK, text, "live\n", 5);
		return;
	}
	if (a->ep == EP_READY) {
		bool found;
		bool ready = daemon_ready(a->d, (wire_str){"", 0}, &found);
		if (ready)
			reply(aio, NNG_HTTP_STATUS_OK, text, "ready\n", 6);
		else
			reply(aio, NNG_HTTP_STATUS_SERVICE_UNAVAILABLE, text, "not ready\n", 10);
		return;
	}
	size_t len = 0;
	char *body = metrics_render(a->d, a->d->front ? front_busy(a->d->front) : 0, &len);
	if (body == NULL) {
		reply(aio, NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR, text, "out of memory\n", 14);
		return;
	}
	/* the version of the text format Prometheus asks for */
	reply(aio, NNG_HTTP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
	free(body);
}

static int add_endpoint(corrald *d, nng_http_server *srv, const char *path, endpoint ep)
{
	handler_arg *a = malloc(sizeof *a);
	nng_http_handler *h = NULL;
	if (a == NULL)
		return NNG_ENOMEM;
	*a = (handler_arg){d, ep};
	int rv = nng_http_handler_alloc(&h, path, handle);
	if (rv != 0) {
		free(a);
		return rv;
	}
	if ((rv = nng_http_handler_set_data(h, a, free)) != 0) {
		free(a);
		nng_http_handler_free(h);
		return rv;
	}
	if ((rv = nng_http_server_add_handler(srv, h)) != 0)
		nng_http_handler_free(h); /* frees a too */
	return rv;
}

http_server *http_server_start(corrald *d, char *err, size_t errlen)
{
	http_server *s = calloc(1, sizeof *s);
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	const char *addr = d->cfg.http_listen;
	if (addr == NULL || addr[0] == '\0')
		return s;
	static const struct {
		const char *path;
		endpoint ep;
	} endpoints[] = {
	    {"/metrics", EP_METRICS}, {"/v2/health/live", EP_LIVE},
	    {"/healthz", EP_LIVE}, {"/v2/health/ready", EP_READY}, {"/readyz", EP_READY},
	};
	nng_url *url = NULL;
	int rv = nng_url_parse(&url, addr);
	if (rv == 0)
		rv = nng_http_server_hold(&s->srv, url);
	for (size_t i = 0; rv == 0 && i < sizeof endpoints / sizeof *endpoints; i++)
		rv = add_endpoint(d, s->srv, endpoints[i].path, endpoints[i].ep);
	if (rv == 0)
		rv = nng_http_server_start(s->srv);
	nng_url_free(url);
	if (rv != 0) {
		snprintf(err, errlen, "http_listen %s: %s", addr, nng_strerror(rv));
		http_server_stop(s);
		return NULL;
	}
	return s;
}

void http_server_stop(http_server *s)
{
	if (s == NULL)
		return;
	if (s->srv != NULL) {
		nng_http_server_stop(s->srv);
		nng_http_server_release(s->srv);
	}
	free(s);
}
