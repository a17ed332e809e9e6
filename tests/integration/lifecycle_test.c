/*
 * lifecycle_test - versions entering and leaving service under a real
 * corrald: 50 blue/green swaps (a new version folder, reload, the new
 * version READY before traffic moves, the old one drained and gone) while
 * two clients send requests, none of which may fail; a new version that
 * cannot load never takes traffic and the old one keeps serving; load,
 * unload and reload with their errors; a new model folder; unloading a
 * whole model; loads and unloads kept across a restart; and the
 * repository poll picking up a version folder by itself.
 *
 *   lifecycle_test CORRALD EXAMPLE_REPO
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test.h"

#define TOKEN "lifecycle-test-admin-token-0123456789"
#define SWAPS 50

static harness h;
static const char *example;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Which version of `model` answered a request naming none (0 on failure). */
static int64_t served_by(corral_client *c, const char *model, corral_status *st)
{
	static const double row[4] = {5.1, 3.5, 1.4, 0.2};
	int64_t shape[2] = {1, 4};
	corral_tensor t = {"input", CORRAL_DT_FP64, 2, shape, row, sizeof row};
	corral_result *r = NULL;
	corral_error err;
	*st = corral_infer(c, model, 0, &t, 1, NULL, 0, &r, &err);
	int64_t v = *st == CORRAL_OK ? corral_result_model_version(r) : 0;
	corral_result_free(r);
	return v;
}

/* Wait up to timeout_ms until requests to `model` are answered by v. */
static bool wait_served_by(corral_client *c, const char *model, int64_t v, int timeout_ms)
{
	long long end = harness_now_ms() + timeout_ms;
	corral_status st;
	while (served_by(c, model, &st) != v) {
		if (harness_now_ms() > end)
			return false;
		sleep_ms(5);
	}
	return true;
}

/* Wait up to timeout_ms until model/version is no longer listed. */
static bool wait_gone(corral_client *c, const char *model, int64_t v, int timeout_ms)
{
	char state[32];
	long long end = harness_now_ms() + timeout_ms;
	while (harness_state(c, model, v, state, sizeof state)[0] != '\0') {
		if (harness_now_ms() > end)
			return false;
		sleep_ms(10);
	}
	return true;
}

/* Link <repo>/<model>/<v> to the example iris version `iris_v`. */
static void add_version(const char *model, int64_t v, int iris_v)
{
	char rel[64], target[600];
	snprintf(rel, sizeof rel, "%s/%lld", model, (long long)v);
	snprintf(target, sizeof target, "%s/iris/%d", example, iris_v);
	harness_link(&h, rel, target);
}

static void remove_version(const char *model, int64_t v)
{
	char path[300];
	snprintf(path, sizeof path, "%s/%s/%lld", h.repo, model, (long long)v);
	if (unlink(path) != 0) {
		char cmd[400];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
		REQUIRE(system(cmd) == 0);
	}
}

/* Does a change list (JSON) hold {model, version, change}? */
static bool has_change(const char *json, const char *model, int64_t v, const char *what)
{
	json_t *root = json_loads(json ? json : "{}", 0, NULL), *c;
	size_t i;
	bool found = false;
	json_array_foreach(json_object_get(root, "changes"), i, c)
		found = found ||
		    (strcmp(json_string_value(json_object_get(c, "model")) ?: "", model) == 0 &&
			json_integer_value(json_object_get(c, "version")) == v &&
			strcmp(json_string_value(json_object_get(c, "change")) ?: "", what) == 0);
	json_decref(root);
	return found;
}

static atomic_bool load_stop;
static atomic_long load_ok, load_failed;

static void *load_thread(void *arg)
{
	corral_client *c = harness_client(&h, false);
	while (!atomic_load(&load_stop)) {
		corral_status st;
		served_by(c, "bg", &st);
		atomic_fetch_add(st == CORRAL_OK ? &load_ok : &load_failed, 1);
		if (st != CORRAL_OK && atomic_load(&load_failed) <= 3)
			fprintf(stderr, "load: request failed with %s\n", corral_status_name(st));
	}
	corral_client_close(c);
	return arg;
}

/* SWAPS blue/green swaps of "bg" (policy: latest 1) under load: each new
 * folder is loaded by a reload, answers once READY, and the version
 * before it drains and leaves. */
static void swaps_under_load(corral_client *c)
{
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		REQUIRE(pthread_create(&t[i], NULL, load_thread, NULL) == 0);
	corral_error err;
	int swapped = 0;
	long long t0 = harness_now_ms();
	for (int64_t v = 2; v <= SWAPS + 1; v++) {
		add_version("bg", v, v % 2 ? 1 : 2);
		char *changes = NULL;
		corral_status st = corral_reload(c, "bg", &changes, &err);
		bool listed = st == CORRAL_OK && has_change(changes, "bg", v, "loading") &&
		    has_change(changes, "bg", v - 1, "unloading");
		if (!listed)
			fprintf(stderr, "swap to %lld: %s %s\n", (long long)v,
			    corral_status_name(st), changes ? changes : err.message);
		free(changes);
		bool moved = wait_served_by(c, "bg", v, 10000) && wait_gone(c, "bg", v - 1, 10000);
		if (!moved)
			fprintf(stderr, "swap to %lld did not finish\n", (long long)v);
		swapped += listed && moved;
	}
	long long took = harness_now_ms() - t0;
	atomic_store(&load_stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("%d blue/green swaps under load in %lld ms (%.0f ms each): %ld requests, "
	       "%ld failed\n", swapped, took, (double)took / SWAPS,
	    atomic_load(&load_ok) + atomic_load(&load_failed), atomic_load(&load_failed));
	CHECK_INT(swapped, SWAPS);
	CHECK_MSG(atomic_load(&load_failed) == 0 && atomic_load(&load_ok) > 100,
	    "no request failed during the swaps");
}

/* A new version that cannot load: FAILED, no traffic; the old one keeps
 * serving (still READY, marked unloading) and readiness says no. Once the
 * broken folder goes, a reload keeps the old one for good. */
static void failed_replacement(corral_client *c, int64_t old)
{
	char rel[64], state[32];
	corral_error err;
	corral_status st;
	snprintf(rel, sizeof rel, "bg/%lld/model.json", (long long)old + 10);
	harness_write(&h, rel, "{ not a model");
	CHECK_INT(corral_reload(c, "bg", NULL, &err), CORRAL_OK);
	CHECK(harness_wait_state(c, "bg", old + 10, "FAILED", 10000));
	sleep_ms(300); /* several supervisor turns: the old one must not drain */
	CHECK_STR(harness_state(c, "bg", old, state, sizeof state), "READY");
	int from_old = 0;
	for (int i = 0; i < 50; i++)
		from_old += served_by(c, "bg", &st) == old;
	CHECK_MSG(from_old == 50, "the old version serves on (%d of 50)", from_old);
	bool live = false, ready = true;
	CHECK_INT(corral_model_health(c, "bg", &live, &ready, &err), CORRAL_OK);
	CHECK_MSG(live && !ready, "a FAILED new version makes the model not ready");

	remove_version("bg", old + 10);
	char *changes = NULL;
	CHECK_INT(corral_reload(c, "bg", &changes, &err), CORRAL_OK);
	CHECK_MSG(has_change(changes, "bg", old, "kept") &&
		has_change(changes, "bg", old + 10, "unloading"),
	    "the broken version leaves, the old one stays: %s", changes);
	free(changes);
	CHECK(wait_gone(c, "bg", old + 10, 5000));
	CHECK_INT(corral_model_health(c, "bg", &live, &ready, &err), CORRAL_OK);
	CHECK_MSG(ready, "ready again");
}

/* The ops' refusals: each with its own code, nothing changed. */
static void refusals(corral_client *c, int64_t cur)
{
	corral_error err;
	corral_client *anon = harness_client(&h, false);
	CHECK_INT(corral_reload(anon, NULL, NULL, &err), CORRAL_E_UNAUTHENTICATED);
	CHECK_INT(corral_unload(anon, "bg", cur, NULL, &err), CORRAL_E_UNAUTHENTICATED);
	corral_client_close(anon);
	CHECK_INT(corral_reload(c, "nope", NULL, &err), CORRAL_E_MODEL_NOT_FOUND);
	CHECK_INT(corral_unload(c, "nope", 1, NULL, &err), CORRAL_E_MODEL_NOT_FOUND);
	CHECK_INT(corral_unload(c, "bg", 999, NULL, &err), CORRAL_E_VERSION_NOT_FOUND);
	CHECK_INT(corral_load(c, "bg", 999, NULL, &err), CORRAL_E_VERSION_NOT_FOUND);
	/* the routing names it: move the routing first */
	CHECK_INT(corral_promote(c, "bg", cur, NULL, &err), CORRAL_OK);
	CHECK_INT(corral_unload(c, "bg", cur, NULL, &err), CORRAL_E_FAILED_PRECONDITION);
	CHECK_MSG(strstr(err.message, "routing") != NULL, "why: %s", err.message);
	char state[32];
	CHECK_STR(harness_state(c, "bg", cur, state, sizeof state), "READY");
}

static void start(const char *corrald, const char *more)
{
	char extra[512];
	snprintf(extra, sizeof extra, "admin_token_file: %s/admin.token\nstate_dir: %s/state\n%s",
	    h.dir, h.dir, more ? more : "");
	harness_start(&h, corrald, extra);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: lifecycle_test CORRALD EXAMPLE_REPO\n");
		return 2;
	}
	example = argv[2];
	harness_init(&h);
	harness_write(&h, "bg/config.yaml", "plugin: linear\nversion_policy: {latest: 1}\n");
	add_version("bg", 1, 2);
	char path[300];
	snprintf(path, sizeof path, "%s/admin.token", h.dir);
	FILE *f = fopen(path, "w");
	REQUIRE(f != NULL && fputs(TOKEN "\n", f) >= 0 && fclose(f) == 0);
	chmod(path, 0600);
	start(argv[1], NULL);
	corral_client *c = harness_client(&h, false);
	corral_client_set_token(c, TOKEN);
	corral_error err;
	corral_status st;
	CHECK_INT(served_by(c, "bg", &st), 1);

	swaps_under_load(c);
	int64_t cur = SWAPS + 1;
	failed_replacement(c, cur);
	refusals(c, cur);

	/* load: an older folder (not picked by the policy) served next to
	 * the default; unload: it drains and goes. */
	char *changes = NULL;
	CHECK_INT(corral_load(c, "bg", cur - 1, &changes, &err), CORRAL_OK);
	CHECK_MSG(has_change(changes, "bg", cur - 1, "loading"), "load: %s", changes);
	free(changes);
	CHECK(harness_wait_state(c, "bg", cur - 1, "READY", 10000));
	CHECK_INT(served_by(c, "bg", &st), cur);

	/* a new model folder, found by a reload of everything */
	harness_write(&h, "fresh/config.yaml", "plugin: linear\n");
	add_version("fresh", 1, 1);
	CHECK_INT(corral_reload(c, NULL, &changes, &err), CORRAL_OK);
	CHECK_MSG(has_change(changes, "fresh", 1, "loading"), "reload: %s", changes);
	free(changes);
	CHECK(wait_served_by(c, "fresh", 1, 10000));

	/* The loaded version, the routing and the unloads survive a restart. */
	corral_client_close(c);
	CHECK_INT(harness_stop(&h), 0);
	start(argv[1], "repository_poll_ms: 200\n");
	c = harness_client(&h, false);
	corral_client_set_token(c, TOKEN);
	char state[32];
	CHECK_STR(harness_state(c, "bg", cur - 1, state, sizeof state), "READY");
	CHECK_STR(harness_state(c, "bg", cur, state, sizeof state), "READY");
	CHECK_INT(served_by(c, "bg", &st), cur);

	/* unload the loaded one: it drains and stays away after a restart */
	CHECK_INT(corral_unload(c, "bg", cur - 1, &changes, &err), CORRAL_OK);
	CHECK_MSG(has_change(changes, "bg", cur - 1, "draining"), "unload: %s", changes);
	free(changes);
	CHECK(wait_gone(c, "bg", cur - 1, 5000));

	/* the poll finds a new folder by itself: blue/green as with reload */
	CHECK_INT(corral_promote(c, "bg", cur, NULL, &err), CORRAL_OK);
	CHECK_INT(corral_promote(c, "fresh", 1, NULL, &err), CORRAL_OK);
	add_version("bg", cur + 1, 1);
	CHECK(harness_wait_state(c, "bg", cur + 1, "READY", 10000));
	CHECK_STR(harness_state(c, "bg", cur, state, sizeof state), "READY");
	CHECK_INT(served_by(c, "bg", &st), cur); /* the promoted default holds */
	/* once the routing stops naming the old one, it drains and goes */
	CHECK_INT(corral_promote(c, "bg", cur + 1, NULL, &err), CORRAL_OK);
	CHECK_INT(served_by(c, "bg", &st), cur + 1);
	CHECK(wait_gone(c, "bg", cur, 5000));

	/* unloading the latest brings back the one the policy picks next */
	harness_write(&h, "third/config.yaml", "plugin: linear\nversion_policy: {latest: 1}\n");
	add_version("third", 1, 1);
	add_version("third", 2, 2);
	CHECK_INT(corral_load(c, "third", 0, NULL, &err), CORRAL_OK);
	CHECK(wait_served_by(c, "third", 2, 10000));
	CHECK_INT(corral_unload(c, "third", 2, &changes, &err), CORRAL_OK);
	CHECK_MSG(has_change(changes, "third", 2, "draining") &&
		has_change(changes, "third", 1, "loading"), "unload of the latest: %s", changes);
	free(changes);
	CHECK(wait_served_by(c, "third", 1, 10000));
	CHECK(wait_gone(c, "third", 2, 5000));

	/* a whole model unloaded: no version, MODEL_NOT_FOUND; loaded back */
	CHECK_INT(corral_unload(c, "fresh", 0, &changes, &err), CORRAL_OK);
	CHECK_MSG(has_change(changes, "fresh", 1, "draining"), "unload fresh: %s", changes);
	free(changes);
	CHECK(wait_gone(c, "fresh", 1, 5000));
	served_by(c, "fresh", &st);
	CHECK_INT(st, CORRAL_E_MODEL_NOT_FOUND);
	CHECK_INT(corral_load(c, "fresh", 0, NULL, &err), CORRAL_OK);
	CHECK(wait_served_by(c, "fresh", 1, 10000));

	corral_client_close(c);
	if (test_failed_)
		harness_dump_log(&h);
	harness_cleanup(&h);
	TEST_MAIN_END();
}
