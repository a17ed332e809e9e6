/* sock_closer.c - closing dead workers' sockets off the supervisor thread
 * (sock_closer.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "sock_closer.h"

/* Closes waiting for the thread; beyond this many (only while wedged)
 * a socket is left open rather than queued. */
#define CLOSER_QUEUE 1024

struct sock_closer {
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* work queued, a close done, or stop */
	pthread_t thread;
	nng_socket queue[CLOSER_QUEUE];
	size_t head, n;         /* ring of sockets to close */
	unsigned long long queued, closed; /* counts, for waiting on one */
	bool stop;
	bool wedged;            /* written by the supervisor only */
};

static void *closer_main(void *arg)
{
	sock_closer *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->n == 0 && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->n == 0)
			break;
		nng_socket s = c->queue[c->head];
		c->head = (c->head + 1) % CLOSER_QUEUE;
		c->n--;
		pthread_mutex_unlock(&c->mu);
		nng_close(s);
		pthread_mutex_lock(&c->mu);
		c->closed++;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

sock_closer *sock_closer_start(void)
{
	sock_closer *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&c->thread, NULL, closer_main, c) != 0) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return NULL;
	}
	return c;
}

/* Wait until `closed` reaches target, up to wait_ms. Lock held. */
static bool wait_closed(sock_closer *c, unsigned long long target, int wait_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (c->closed < target)
		if (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT)
			return c->closed >= target;
	return true;
}

bool sock_closer_close(sock_closer *c, nng_socket s, int wait_ms)
{
	pthread_mutex_lock(&c->mu);
	if (c->n == CLOSER_QUEUE) {
		pthread_mutex_unlock(&c->mu);
		return false; /* wedged for long: leave it open */
	}
	c->queue[(c->head + c->n) % CLOSER_QUEUE] = s;
	c->n++;
	unsigned long long mine = ++c->queued;
	pthread_cond_broadcast(&c->cv);
	bool done = c->wedged || wait_closed(c, mine, wait_ms);
	pthread_mutex_unlock(&c->mu);
	if (!done && !c->wedged) {
		c->wedged = true;
		log_msg(LOG_ERROR, "closing a dead worker's socket hangs in nng (nng 1.5.2, "
		    "nng issue 1813): corrald goes on serving and supervising, but can no "
		    "longer free the connections of workers that end; restart corrald "
		    "when convenient");
	}
	return done && !c->wedged;
}

bool sock_closer_wedged(const sock_closer *c)
{
	return c->wedged;
}

bool sock_closer_stop(sock_closer *c, int wait_ms)
{
	if (c == NULL)
		return true;
	pthread_mutex_lock(&c->mu);
	bool drained = !c->wedged && wait_closed(c, c->queued, wait_ms);
	c->stop = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (!drained) {
		pthread_detach(c->thread); /* stuck in nng_close: let it be */
		return false;
	}
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return true;
}
