/*
 * harness.h - run a real corrald on a temporary model repository for a
 * test, talk to it through libcorral, and clean everything up after.
 */
#ifndef CORRAL_TEST_HARNESS_H
#define CORRAL_TEST_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include <corral/client.h>

typedef struct harness {
	char dir[64];       /* mkdtemp folder holding everything below */
	char repo[128];     /* <dir>/models */
	char ipc_url[160];
	char tcp_url[64];
	int http_port;      /* /metrics and health (127.0.0.1) */
	char log[128];      /* the daemon's stderr */
	pid_t pid;
	bool no_settle;     /* harness_start returns once the daemon answers,
			       even with versions still STARTING */
	uid_t run_as_uid;   /* 0: run corrald as the test's own user */
	gid_t run_as_gid;
} harness;

/* Make the temporary folder and an empty repository. Exits on failure. */
void harness_init(harness *h);

/* Write `content` to <repo>/<relpath>, creating folders. */
void harness_write(harness *h, const char *relpath, const char *content);

/* Make <repo>/<relpath> a symlink to `target`, creating folders. */
void harness_link(harness *h, const char *relpath, const char *target);

/* Write the daemon config (ipc and tcp listeners, plus `extra` YAML lines,
 * may be NULL) and start corrald. Waits until no version is STARTING.
 * Exits the test on failure, printing the daemon's log. */
void harness_start(harness *h, const char *corrald, const char *extra);

/* Run the next harness_start's corrald as uid/gid (the test must be root):
 * the temporary folder is handed to that user, the repository stays
 * readable. */
void harness_run_as(harness *h, uid_t uid, gid_t gid);

/* SIGTERM the daemon and wait (SIGKILL after 10 s). Returns its wait
 * status, or -1 if it had to be killed. */
int harness_stop(harness *h);

/* Stop the daemon if running and remove the temporary folder. */
void harness_cleanup(harness *h);

/* A client over ipc (tcp=false) or tcp. Exits on failure. */
corral_client *harness_client(harness *h, bool tcp);

/* The state of model/version as `models` reports it, into buf; "" if the
 * version is not listed. */
const char *harness_state(corral_client *c, const char *model, int64_t version,
    char *buf, size_t n);

/* Wait up to timeout_ms for model/version to reach `state`. */
bool harness_wait_state(corral_client *c, const char *model, int64_t version,
    const char *state, int timeout_ms);

/* GET path from an HTTP server on 127.0.0.1:port (the daemon's is
 * h->http_port): the status code, and the body in a new string the caller
 * frees (body may be NULL). -1 when the connection fails. */
int harness_http_get(int port, const char *path, char **body);

/* A TCP port on 127.0.0.1 that is free now. */
int harness_free_port(void);

/* The daemon's child processes (its workers); returns how many. */
int harness_workers(harness *h, pid_t *pids, int max);

/* Print the daemon's log to stderr (for failures). */
void harness_dump_log(harness *h);

/* Milliseconds on the monotonic clock. */
long long harness_now_ms(void);

#endif
