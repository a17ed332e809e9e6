/* hygiene.c - a worker's first layer: its own session, and no descriptor
 * it was not meant to have. (The daemon already execs it with a reduced
 * environment and closes the rest; this holds even when it did not.) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

int sandbox_hygiene(int keep_fd_max, char *note, size_t n)
{
	/* A new session: no controlling terminal to inject input into, and
	 * signals sent to the daemon's process group do not reach it. */
	if (setsid() < 0 && errno != EPERM) {
		snprintf(note, n, "setsid: %s", strerror(errno));
		return -1;
	}
	if (close_range((unsigned)keep_fd_max + 1, ~0u, 0) != 0) {
		snprintf(note, n, "close_range: %s", strerror(errno));
		return -1;
	}
	/* No LD_* can matter any more (the binary is already loaded), but a
	 * plugin must not see or pass on what the daemon's caller set. */
	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, "LD_", 3) == 0) {
			snprintf(note, n, "an LD_ variable reached the worker");
			return -1;
		}
	snprintf(note, n, "on: new session, descriptors above %d closed, no LD_*",
	    keep_fd_max);
	return 0;
}
