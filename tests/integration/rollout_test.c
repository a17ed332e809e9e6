/*
 * rollout_test - routing of requests that name no version, under a real
 * corrald: control ops need the admin token; promote and rollback move the
 * default in one step; a version that failed to load takes no traffic; a
 * 90/10 canary over 10 000 requests lands within a few percent of its
 * weights; 50 swaps of the default under load lose no request; a
 * restarted daemon routes as before; and each version shows its
 * provenance (files with sha256, metadata.json).
 *
 *   rollout_test CORRALD EXAMPLE_REPO
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "test.h"

#define TOKEN "rollout-test-admin-token-0123456789"

static harness h;

/* Which version answered a request naming none (0 on failure). */
static int64_t served_by(corral_client *c, corral_status *st)
{
	static const double row[4] = {5.1, 3.5, 1.4, 0.2};
	int64_t shape[2] = {1, 4};
	corral_tensor t = {"input", CORRAL_DT_FP64, 2, shape, row, sizeof row};
	corral_result *r = NULL;
	corral_error err;
	*st = corral_infer(c, "ab", 0, &t, 1, NULL, 0, &r, &err);
	int64_t v = *st == CORRAL_OK ? corral_result_model_version(r) : 0;
	corral_result_free(r);
	return v;
}

/* Share of n requests served by version 1, in percent. */
static double share_of_v1(corral_client *c, int n)
{
	int v1 = 0, failed = 0;
	for (int i = 0; i < n; i++) {
		corral_status st;
		int64_t v = served_by(c, &st);
		v1 += v == 1;
		failed += st != CORRAL_OK;
	}
	CHECK_MSG(failed == 0, "%d of %d requests failed", failed, n);
	return 100.0 * v1 / n;
}

static atomic_bool load_stop;
static atomic_long load_ok, load_failed;

static void *load_thread(void *arg)
{
	corral_client *c = harness_client(&h, false);
	while (!atomic_load(&load_stop)) {
		corral_status st;
		served_by(c, &st);
		atomic_fetch_add(st == CORRAL_OK ? &load_ok : &load_failed, 1);
	}
	corral_client_close(c);
	return arg;
}

/* 50 swaps of the default between two READY versions while two clients
 * send requests naming no version: none of them fails. */
static void swaps_under_load(corral_client *c)
{
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		REQUIRE(pthread_create(&t[i], NULL, load_thread, NULL) == 0);
	corral_error err;
	int swaps = 0;
	for (int i = 0; i < 50; i++) {
		swaps += corral_promote(c, "ab", i % 2 ? 2 : 1, NULL, &err) == CORRAL_OK;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	atomic_store(&load_stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("50 swaps under load: %d done, %ld requests, %ld failed\n", swaps,
	    atomic_load(&load_ok) + atomic_load(&load_failed), atomic_load(&load_failed));
	CHECK_INT(swaps, 50);
	CHECK_MSG(atomic_load(&load_failed) == 0 && atomic_load(&load_ok) > 100,
	    "no request failed during the swaps");
}

/* The sha256 sha256sum gives for path, into hex[65]. */
static void sha256sum(const char *path, char hex[65])
{
	char cmd[700];
	snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
	FILE *p = popen(cmd, "r");
	hex[0] = '\0';
	if (p != NULL) {
		if (fscanf(p, "%64s", hex) != 1)
			hex[0] = '\0';
		pclose(p);
	}
}

/* Version 2's provenance: its files with sha256 (as sha256sum says), its
 * metadata.json, when it became READY. */
static void check_provenance(corral_client *c, const char *example)
{
	char *text = NULL;
	corral_error err;
	REQUIRE(corral_get_status(c, "ab", &text, &err) == CORRAL_OK);
	json_t *root = json_loads(text, 0, NULL);
	free(text);
	json_t *v2 = NULL, *v;
	size_t i;
	json_array_foreach(json_object_get(root, "models"), i, v)
		if (json_integer_value(json_object_get(v, "version")) == 2)
			v2 = v;
	json_t *prov = json_object_get(v2, "provenance");
	json_t *file = json_array_get(json_object_get(prov, "files"), 1);
	char path[600], want[65];
	snprintf(path, sizeof path, "%s/iris/2/model.json", example);
	sha256sum(path, want);
	CHECK_MSG(file && strcmp(json_string_value(json_object_get(file, "name")) ?: "",
			      "model.json") == 0 &&
		strcmp(json_string_value(json_object_get(file, "sha256")) ?: "", want) == 0,
	    "model.json's sha256 is sha256sum's %s", want);
	CHECK_MSG(json_string_value(json_object_get(json_object_get(prov, "metadata"),
		      "training_run")) != NULL,
	    "metadata.json's content is shown");
	CHECK_MSG(strlen(json_string_value(json_object_get(v2, "ready_at")) ?: "") == 20,
	    "ready_at is a UTC time");
	json_decref(root);
}

/* Version 1 shadows version 2, the default: every answer comes from 2,
 * and every mirrored one is compared; they differ (other weights). */
static void check_shadow(corral_client *c)
{
	corral_error err;
	CHECK_INT(corral_shadow(c, "ab", 1, 100, NULL, &err), CORRAL_OK);
	/* Requests until 150 mirrored answers were compared (a mirror that
	 * finds the shadow's 8 slots busy is skipped, which a loaded machine
	 * makes more likely), at most 2000. */
	int sent = 0, from2 = 0;
	long long mirrored = 0, compared = 0, diverged = 0;
	double diff = 0;
	while (sent < 2000 && compared < 150) {
		for (int i = 0; i < 100; i++, sent++) {
			corral_status st;
			from2 += served_by(c, &st) == 2;
		}
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL); /* the last comparisons land */
		char *text = NULL;
		REQUIRE(corral_get_status(c, "ab", &text, &err) == CORRAL_OK);
		json_t *root = json_loads(text, 0, NULL);
		free(text);
		json_t *sh = NULL, *v;
		size_t i;
		json_array_foreach(json_object_get(root, "models"), i, v)
			if (json_object_get(v, "shadow"))
				sh = json_object_get(v, "shadow");
		mirrored = json_integer_value(json_object_get(sh, "mirrored"));
		compared = json_integer_value(json_object_get(sh, "compared"));
		diverged = json_integer_value(json_object_get(sh, "diverged"));
		diff = json_real_value(json_object_get(sh, "max_abs_diff"));
		json_decref(root);
	}
	CHECK_MSG(from2 == sent, "the shadow never answers (%d of %d from version 2)", from2,
	    sent);
	printf("shadow at 100%%: %d requests, %lld mirrored, %lld compared, %lld diverged, "
	       "max diff %g\n", sent, mirrored, compared, diverged, diff);
	CHECK_MSG(compared >= 150 && diverged == compared && diff > 0,
	    "the shadow's answers were compared and found different");
	CHECK_INT(corral_shadow(c, "ab", 0, 0, NULL, &err), CORRAL_OK);
}

static void start(const char *corrald)
{
	char extra[512];
	snprintf(extra, sizeof extra, "admin_token_file: %s/admin.token\nstate_dir: %s/state\n",
	    h.dir, h.dir);
	harness_start(&h, corrald, extra);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: rollout_test CORRALD EXAMPLE_REPO\n");
		return 2;
	}
	harness_init(&h);
	char target[600], path[300];
	harness_write(&h, "ab/config.yaml", "plugin: linear\nversion_policy: {all: true}\n");
	for (int v = 1; v <= 2; v++) {
		char rel[32];
		snprintf(rel, sizeof rel, "ab/%d", v);
		snprintf(target, sizeof target, "%s/iris/%d", argv[2], v);
		harness_link(&h, rel, target);
	}
	harness_write(&h, "ab/3/model.json", "{ this is not a model");
	snprintf(path, sizeof path, "%s/admin.token", h.dir);
	FILE *f = fopen(path, "w");
	REQUIRE(f != NULL && fputs(TOKEN "\n", f) >= 0 && fclose(f) == 0);
	chmod(path, 0600);
	start(argv[1]);
	corral_client *c = harness_client(&h, false);
	corral_error err;
	corral_status st;

	/* Version 3 cannot load: the default is the highest that can. */
	CHECK(harness_wait_state(c, "ab", 3, "FAILED", 5000));
	CHECK_INT(served_by(c, &st), 2);

	/* No token, a wrong one: refused, nothing changes. */
	CHECK_INT(corral_promote(c, "ab", 1, NULL, &err), CORRAL_E_UNAUTHENTICATED);
	corral_client_set_token(c, "not-the-token-at-all");
	CHECK_INT(corral_rollback(c, "ab", NULL, &err), CORRAL_E_UNAUTHENTICATED);
	CHECK_INT(served_by(c, &st), 2);
	corral_client_set_token(c, TOKEN);

	/* promote and rollback, each one step */
	char *routing = NULL;
	CHECK_INT(corral_promote(c, "ab", 1, &routing, &err), CORRAL_OK);
	CHECK_MSG(routing && strstr(routing, "\"default_version\": 1") &&
		strstr(routing, "\"previous_default\": 2"), "routing after promote: %s",
	    routing ? routing : err.message);
	free(routing);
	CHECK_INT(served_by(c, &st), 1);
	CHECK_INT(corral_rollback(c, "ab", NULL, &err), CORRAL_OK);
	CHECK_INT(served_by(c, &st), 2);
	CHECK_INT(corral_promote(c, "ab", 3, NULL, &err), CORRAL_E_UNAVAILABLE);
	CHECK_MSG(strstr(err.message, "FAILED") != NULL, "why not 3: %s", err.message);
	CHECK_INT(corral_promote(c, "nope", 1, NULL, &err), CORRAL_E_MODEL_NOT_FOUND);
	CHECK_INT(corral_promote(c, "ab", 9, NULL, &err), CORRAL_E_VERSION_NOT_FOUND);
	CHECK_INT(served_by(c, &st), 2);

	swaps_under_load(c);
	check_provenance(c, argv[2]);
	CHECK_INT(corral_promote(c, "ab", 2, NULL, &err), CORRAL_OK);
	check_shadow(c);

	/* A canary: 90/10 over 10 000 requests. */
	int64_t versions[2] = {1, 2}, weights[2] = {90, 10};
	CHECK_INT(corral_set_traffic(c, "ab", versions, weights, 2, NULL, &err), CORRAL_OK);
	double pct = share_of_v1(c, 10000);
	printf("canary 90/10: version 1 served %.2f%% of 10000 requests\n", pct);
	CHECK_MSG(pct > 87.0 && pct < 93.0, "version 1's share %.2f%% is near 90%%", pct);
	int64_t three = 3, w = 5;
	CHECK_INT(corral_set_traffic(c, "ab", &three, &w, 1, NULL, &err), CORRAL_E_UNAVAILABLE);

	/* A restarted daemon routes as before. */
	corral_client_close(c);
	CHECK_INT(harness_stop(&h), 0);
	start(argv[1]);
	c = harness_client(&h, false);
	corral_client_set_token(c, TOKEN);
	pct = share_of_v1(c, 2000);
	printf("after a restart: version 1 served %.2f%% of 2000 requests\n", pct);
	CHECK_MSG(pct > 85.0 && pct < 95.0, "the canary survived the restart (%.2f%%)", pct);

	/* Ending the canary: every request to the default again. */
	CHECK_INT(corral_set_traffic(c, "ab", NULL, NULL, 0, NULL, &err), CORRAL_OK);
	CHECK_MSG(share_of_v1(c, 200) == 0.0, "no canary: all to the default, version 2");

	corral_client_close(c);
	if (test_failed_)
		harness_dump_log(&h);
	harness_cleanup(&h);
	TEST_MAIN_END();
}
