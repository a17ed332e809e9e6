/*
 * nonroot_test - corrald run by an unprivileged user: no identity change
 * and no cgroups are possible, and the daemon says so; the worker builds
 * its namespaces inside a user namespace of its own, and the other layers
 * hold as they do under root.
 *
 *   nonroot_test CORRALD MISBEHAVE_SO EXAMPLE_REPO
 *
 * Needs root to start the daemon as `nobody`; skipped (77) otherwise.
 */
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "test.h"

static const char *layer(const json_t *v, const char *name)
{
	const char *s = json_string_value(json_object_get(json_object_get(v, "sandbox"), name));
	return s ? s : "";
}

/* A line of /proc/PID/status, e.g. "Seccomp:\t2", is present. */
static bool proc_status_has(pid_t pid, const char *line)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, line) != NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: nonroot_test CORRALD MISBEHAVE_SO EXAMPLE_REPO\n");
		return 2;
	}
	struct passwd *pw = getpwnam("nobody");
	if (geteuid() != 0 || pw == NULL) {
		printf("SKIP: needs root and a 'nobody' user\n");
		return 77;
	}
	harness h;
	harness_init(&h);
	char target[600], yaml[600];
	harness_write(&h, "iris/config.yaml", "plugin: linear\n");
	snprintf(target, sizeof target, "%s/iris/1", argv[3]);
	harness_link(&h, "iris/1", target);
	snprintf(yaml, sizeof yaml, "plugin: %s\n", argv[2]);
	harness_write(&h, "misbehave/config.yaml", yaml);
	harness_write(&h, "misbehave/1/README", "no files needed\n");
	harness_run_as(&h, pw->pw_uid, pw->pw_gid);
	harness_start(&h, argv[1], "restart_delay_ms: 100\n");
	corral_client *c = harness_client(&h, false);

	/* It serves. */
	static const double row[4] = {5.1, 3.5, 1.4, 0.2};
	int64_t shape[2] = {1, 4};
	corral_tensor t = {"input", CORRAL_DT_FP64, 2, shape, row, sizeof row};
	corral_result *r = NULL;
	corral_error err;
	CHECK_INT(corral_infer(c, "iris", 0, &t, 1, NULL, 0, &r, &err), CORRAL_OK);
	corral_result_free(r);

	/* The daemon and the worker say which layers hold. */
	char *text = NULL;
	CHECK_INT(corral_get_status(c, "iris", &text, &err), CORRAL_OK);
	json_t *root = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	const json_t *d = json_object_get(root, "daemon");
	const json_t *v = json_array_get(json_object_get(root, "models"), 0);
	CHECK_MSG(strncmp(json_string_value(json_object_get(d, "cgroups")) ?: "", "off", 3) == 0,
	    "cgroups reported off");
	CHECK_MSG(strncmp(json_string_value(json_object_get(d, "identity")) ?: "", "off", 3) == 0,
	    "identity reported off");
	CHECK_MSG(strncmp(layer(v, "namespaces"), "on: user, mount", 15) == 0,
	    "namespaces inside a user namespace: %s", layer(v, "namespaces"));
	CHECK_MSG(strncmp(layer(v, "identity"), "off: corrald is not root", 24) == 0,
	    "identity off: %s", layer(v, "identity"));
	CHECK_MSG(strncmp(layer(v, "landlock"), "on", 2) == 0, "landlock: %s", layer(v, "landlock"));
	CHECK_MSG(strncmp(layer(v, "seccomp"), "on", 2) == 0, "seccomp: %s", layer(v, "seccomp"));
	pid_t pid = (pid_t)json_integer_value(
	    json_object_get(json_array_get(json_object_get(v, "workers"), 0), "pid"));
	char uid_line[64];
	snprintf(uid_line, sizeof uid_line, "Uid:\t%u\t", (unsigned)pw->pw_uid);
	CHECK_MSG(pid > 0 && proc_status_has(pid, uid_line) &&
		      proc_status_has(pid, "Seccomp:\t2") &&
		      proc_status_has(pid, "NoNewPrivs:\t1") &&
		      proc_status_has(pid, "CapEff:\t0000000000000000"),
	    "worker %d: nobody, filtered, no new privileges, no capabilities", (int)pid);
	json_decref(root);

	/* A violation is still trapped and named. */
	double cmd = -5; /* socket(AF_INET) */
	int64_t one = 1;
	corral_tensor x = {"x", CORRAL_DT_FP64, 1, &one, &cmd, sizeof cmd};
	CHECK_INT(corral_infer(c, "misbehave", 0, &x, 1, NULL, 0, &r, &err),
	    CORRAL_E_WORKER_CRASHED);
	CHECK_MSG(strstr(err.message, "sandbox violation: socket") != NULL, "cause: %s",
	    err.message);

	corral_client_close(c);
	CHECK_INT(harness_stop(&h), 0);
	if (test_failed_)
		harness_dump_log(&h);
	harness_cleanup(&h);
	TEST_MAIN_END();
}
