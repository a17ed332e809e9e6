/*
 * config_test.c - corrald.yaml and model config.yaml (core/daemon/config.c,
 * core/daemon/yaml_doc.c): defaults, every key, relative paths, and errors
 * that point at "file:line:".
 *
 * Every YAML file is written into a fresh mkdtemp folder, removed at the
 * end.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

static char tmpdir[512];

/* Write `text` to <tmpdir>/<rel> and return its path in out. */
static const char *write_file(char *out, size_t outlen, const char *rel,
    const char *text)
{
	snprintf(out, outlen, "%s/%s", tmpdir, rel);
	FILE *f = fopen(out, "wb");
	REQUIRE(f != NULL);
	REQUIRE(fwrite(text, 1, strlen(text), f) == strlen(text));
	REQUIRE(fclose(f) == 0);
	return out;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

/* The message names the file and the line: "<path>:<line>: ...". */
static void check_err_at(int line, const char *err, const char *path,
    int err_line, const char *needle)
{
	char prefix[PATH_MAX + 32];
	snprintf(prefix, sizeof prefix, "%s:%d: ", path, err_line);
	CHECK_MSG(strncmp(err, prefix, strlen(prefix)) == 0,
	    "line %d: \"%s\" does not start with \"%s\"", line, err, prefix);
	CHECK_MSG(needle == NULL || strstr(err, needle) != NULL,
	    "line %d: \"%s\" lacks \"%s\"", line, err, needle);
}

#define DAEMON_ERR(yaml, err_line, needle) \
	daemon_err(__LINE__, yaml, err_line, needle)
static void daemon_err(int line, const char *yaml, int err_line,
    const char *needle)
{
	char path[PATH_MAX], err[512] = "";
	daemon_config c;
	write_file(path, sizeof path, "bad_daemon.yaml", yaml);
	int rc = daemon_config_load(&c, path, err, sizeof err);
	CHECK_MSG(rc == -1, "line %d: accepted", line);
	check_err_at(line, err, path, err_line, needle);
	daemon_config_free(&c);
}

#define MODEL_ERR(yaml, err_line, needle) \
	model_err(__LINE__, yaml, err_line, needle)
static void model_err(int line, const char *yaml, int err_line,
    const char *needle)
{
	char path[PATH_MAX], err[512] = "";
	model_config c;
	write_file(path, sizeof path, "bad_model.yaml", yaml);
	int rc = model_config_load(&c, path, err, sizeof err);
	CHECK_MSG(rc == -1, "line %d: accepted", line);
	check_err_at(line, err, path, err_line, needle);
	model_config_free(&c);
}

/* ---------------------------------------------------------- daemon --- */

static void check_defaults(const daemon_config *c, const char *dir)
{
	char repo[PATH_MAX + 16];
	snprintf(repo, sizeof repo, "%s/models", dir);
	CHECK_INT(c->n_listen, 1);
	CHECK_STR(c->listen[0], "ipc:///run/corral/corral.sock");
	CHECK_STR(c->model_repository, repo);
	CHECK_STR(c->runtime_dir, "/run/corral");
	CHECK(c->plugin_dir == NULL);
	CHECK_STR(c->log_level, "info");
	CHECK_INT(c->max_request_bytes, 64 << 20);
	CHECK_INT(c->max_response_bytes, 64 << 20);
	CHECK_INT(c->request_timeout_ms, 30000);
	CHECK_INT(c->worker_start_timeout_ms, 60000);
	CHECK_INT(c->restart_delay_ms, 500);
	CHECK_INT(c->concurrency, 64);
}

static void test_daemon_defaults(void)
{
	static const char *const texts[] = {
		"",
		"# nothing but a comment\n",
		"{}\n",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		char path[PATH_MAX], err[512] = "";
		daemon_config c;
		write_file(path, sizeof path, "defaults.yaml", texts[i]);
		int rc = daemon_config_load(&c, path, err, sizeof err);
		CHECK_MSG(rc == 0, "text %zu: %s", i, err);
		if (rc == 0)
			check_defaults(&c, tmpdir);
		daemon_config_free(&c);
	}
}

static void test_daemon_full(void)
{
	char etc[PATH_MAX + 8], path[PATH_MAX], err[512] = "", want[PATH_MAX + 32];
	snprintf(etc, sizeof etc, "%s/etc", tmpdir);
	REQUIRE(mkdir(etc, 0700) == 0);
	write_file(path, sizeof path, "etc/corrald.yaml",
	    "# every key\n"
	    "listen:\n"
	    "  - ipc:///tmp/corral-test.sock\n"
	    "  - tcp://127.0.0.1:8001\n"
	    "model_repository: repo\n"
	    "runtime_dir: /var/run/c\n"
	    "plugin_dir: lib/plugins\n"
	    "log_level: debug\n"
	    "max_request_bytes: 2048\n"
	    "max_response_bytes: 4096\n"
	    "request_timeout_ms: 1234\n"
	    "worker_start_timeout_ms: 5000\n"
	    "restart_delay_ms: 0\n"
	    "concurrency: 4096\n");
	daemon_config c;
	int rc = daemon_config_load(&c, path, err, sizeof err);
	CHECK_MSG(rc == 0, "%s", err);
	if (rc == 0) {
		CHECK_INT(c.n_listen, 2);
		CHECK_STR(c.listen[0], "ipc:///tmp/corral-test.sock");
		CHECK_STR(c.listen[1], "tcp://127.0.0.1:8001");
		snprintf(want, sizeof want, "%s/repo", etc);
		CHECK_STR(c.model_repository, want);
		CHECK_STR(c.runtime_dir, "/var/run/c");
		snprintf(want, sizeof want, "%s/lib/plugins", etc);
		CHECK_STR(c.plugin_dir, want);
		CHECK_STR(c.log_level, "debug");
		CHECK_INT(c.max_request_bytes, 2048);
		CHECK_INT(c.max_response_bytes, 4096);
		CHECK_INT(c.request_timeout_ms, 1234);
		CHECK_INT(c.worker_start_timeout_ms, 5000);
		CHECK_INT(c.restart_delay_ms, 0);
		CHECK_INT(c.concurrency, 4096);
	}
	daemon_config_free(&c);

	/* Flow style, the other log levels, absolute repository. */
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	for (size_t i = 0; i < 4; i++) {
		char text[256];
		snprintf(text, sizeof text,
		    "listen: [tcp://0.0.0.0:1, ipc:///x]\nlog_level: %s\n"
		    "model_repository: /srv/models\n",
		    levels[i]);
		write_file(path, sizeof path, "etc/flow.yaml", text);
		rc = daemon_config_load(&c, path, err, sizeof err);
		CHECK_MSG(rc == 0, "%s: %s", levels[i], err);
		if (rc == 0) {
			CHECK_STR(c.log_level, levels[i]);
			CHECK_INT(c.n_listen, 2);
			CHECK_STR(c.listen[1], "ipc:///x");
			CHECK_STR(c.model_repository, "/srv/models");
		}
		daemon_config_free(&c);
	}

	/* Eight listen URLs is the most. */
	write_file(path, sizeof path, "etc/eight.yaml",
	    "listen: [ipc:///1, ipc:///2, ipc:///3, ipc:///4, ipc:///5,"
	    " ipc:///6, ipc:///7, tcp://h:8]\n");
	rc = daemon_config_load(&c, path, err, sizeof err);
	CHECK_MSG(rc == 0, "%s", err);
	CHECK_INT(c.n_listen, CONFIG_MAX_LISTEN);
	if (c.n_listen == CONFIG_MAX_LISTEN)
		CHECK_STR(c.listen[7], "tcp://h:8");
	daemon_config_free(&c);

	/* A config named by a relative path: its paths become absolute,
	 * through the file's real folder (workers see only absolute paths). */
	char cwd[PATH_MAX], real[PATH_MAX], abs_path[PATH_MAX + 32];
	REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
	REQUIRE(chdir(tmpdir) == 0);
	REQUIRE(realpath(".", real) != NULL);
	rc = daemon_config_load(&c, "etc/corrald.yaml", err, sizeof err);
	CHECK_MSG(rc == 0, "%s", err);
	if (rc == 0) {
		snprintf(abs_path, sizeof abs_path, "%s/etc/repo", real);
		CHECK_STR(c.model_repository, abs_path);
		snprintf(abs_path, sizeof abs_path, "%s/etc/lib/plugins", real);
		CHECK_STR(c.plugin_dir, abs_path);
	}
	daemon_config_free(&c);
	REQUIRE(chdir(cwd) == 0);
}

static void test_daemon_errors(void)
{
	DAEMON_ERR("log_level: info\nlisten_on: [ipc:///x]\n", 2, "unknown key 'listen_on'");
	DAEMON_ERR("# c\n\nconcurency: 4\n", 3, "concurency");

	/* Wrong types. */
	DAEMON_ERR("log_level: info\nconcurrency: [1, 2]\n", 2, "concurrency");
	DAEMON_ERR("concurrency: {a: 1}\n", 1, "concurrency");
	DAEMON_ERR("log_level: [info]\n", 1, "log_level");
	DAEMON_ERR("model_repository:\n  a: b\n", 2, "model_repository");
	DAEMON_ERR("concurrency: lots\n", 1, "concurrency");
	DAEMON_ERR("concurrency: 12abc\n", 1, "concurrency");
	DAEMON_ERR("concurrency: \"\"\n", 1, "concurrency");
	DAEMON_ERR("concurrency: 1.5\n", 1, "concurrency");

	/* Out of range, at each bound. */
	DAEMON_ERR("\nconcurrency: 0\n", 2, "concurrency");
	DAEMON_ERR("concurrency: 4097\n", 1, "4096");
	DAEMON_ERR("concurrency: 99999999999999999999999\n", 1, "concurrency");
	DAEMON_ERR("concurrency: -1\n", 1, "concurrency");
	DAEMON_ERR("max_request_bytes: 1023\n", 1, "max_request_bytes");
	DAEMON_ERR("max_request_bytes: 2147483648\n", 1, "max_request_bytes");
	DAEMON_ERR("max_response_bytes: 10\n", 1, "max_response_bytes");
	DAEMON_ERR("request_timeout_ms: 0\n", 1, "request_timeout_ms");
	DAEMON_ERR("request_timeout_ms: 86400001\n", 1, "request_timeout_ms");
	DAEMON_ERR("worker_start_timeout_ms: 99\n", 1, "worker_start_timeout_ms");
	DAEMON_ERR("restart_delay_ms: -1\n", 1, "restart_delay_ms");
	DAEMON_ERR("restart_delay_ms: 3600001\n", 1, "restart_delay_ms");

	/* listen. */
	DAEMON_ERR("listen:\n  - ipc:///ok\n  - http://x:80\n", 3, "http://x:80");
	DAEMON_ERR("listen: [udp://x]\n", 1, "ipc://");
	DAEMON_ERR("listen: [\"\"]\n", 1, "listen");
	DAEMON_ERR("\nlisten: ipc:///x\n", 2, "list");
	DAEMON_ERR("listen:\n  - [ipc:///x]\n", 2, "listen");
	DAEMON_ERR("listen: [ipc:///1, ipc:///2, ipc:///3, ipc:///4, ipc:///5,"
		   " ipc:///6, ipc:///7, ipc:///8, ipc:///9]\n", 1, "at most 8");

	/* log_level. */
	DAEMON_ERR("concurrency: 2\n\nlog_level: verbose\n", 3, "log_level");
	DAEMON_ERR("log_level: INFO\n", 1, "log_level");

	/* Not a mapping at the top. */
	DAEMON_ERR("- a\n- b\n", 1, "mapping");

	/* YAML syntax errors, from libyaml, with the line it points at. */
	DAEMON_ERR("log_level: info\nconcurrency: 2: 3\n", 2, NULL);
	DAEMON_ERR("log_level: info\nlisten:\n\t- ipc:///x\n", 3, NULL);
	DAEMON_ERR("listen: [ipc:///x\n", 2, NULL);
	DAEMON_ERR("log_level: \"info\n", 2, NULL);

	/* Missing file: no line, but the path and the reason. */
	char path[PATH_MAX + 32], err[512] = "";
	snprintf(path, sizeof path, "%s/no/such/corrald.yaml", tmpdir);
	daemon_config c;
	CHECK_INT(daemon_config_load(&c, path, err, sizeof err), -1);
	CHECK_MSG(strncmp(err, path, strlen(path)) == 0, "\"%s\"", err);
	CHECK_MSG(strstr(err, strerror(ENOENT)) != NULL, "\"%s\"", err);
	daemon_config_free(&c);

	/* The first error wins: a later one does not overwrite it. */
	DAEMON_ERR("bogus: 1\nconcurrency: 0\n", 1, "bogus");
}

/* ----------------------------------------------------------- model --- */

static int model_load_text(model_config *c, const char *yaml, char *err,
    size_t errlen)
{
	char path[PATH_MAX];
	write_file(path, sizeof path, "model.yaml", yaml);
	return model_config_load(c, path, err, errlen);
}

static void test_model_ok(void)
{
	char err[512] = "";
	model_config c;

	CHECK_INT(model_load_text(&c, "plugin: linear\n", err, sizeof err), 0);
	CHECK_STR(c.plugin, "linear");
	CHECK_INT(c.policy, VERSION_POLICY_LATEST);
	CHECK_INT(c.latest, 1);
	CHECK_INT(c.n_specific, 0);
	CHECK_INT(c.request_timeout_ms, 0);
	CHECK_INT(c.n_params, 0);
	model_config_free(&c);

	CHECK_INT(model_load_text(&c, "plugin: /opt/p/x.so\nversion_policy: {latest: 2}\n"
	    "request_timeout_ms: 500\n", err, sizeof err), 0);
	CHECK_STR(c.plugin, "/opt/p/x.so");
	CHECK_INT(c.policy, VERSION_POLICY_LATEST);
	CHECK_INT(c.latest, 2);
	CHECK_INT(c.request_timeout_ms, 500);
	model_config_free(&c);

	CHECK_INT(model_load_text(&c, "plugin: linear\nversion_policy:\n  all: true\n",
	    err, sizeof err), 0);
	CHECK_INT(c.policy, VERSION_POLICY_ALL);
	model_config_free(&c);

	CHECK_INT(model_load_text(&c, "plugin: linear\nversion_policy: {all: yes}\n",
	    err, sizeof err), 0);
	CHECK_INT(c.policy, VERSION_POLICY_ALL);
	model_config_free(&c);

	int rc = model_load_text(&c, "plugin: linear\nversion_policy:\n  specific:\n"
	    "    - 3\n    - 1\n    - 12\n", err, sizeof err);
	CHECK_MSG(rc == 0, "%s", err);
	CHECK_INT(c.policy, VERSION_POLICY_SPECIFIC);
	CHECK_INT(c.n_specific, 3);
	CHECK_INT(c.specific[0], 3);
	CHECK_INT(c.specific[1], 1);
	CHECK_INT(c.specific[2], 12);
	model_config_free(&c);

	rc = model_load_text(&c,
	    "plugin: linear\n"
	    "parameters:\n"
	    "  alpha: \"0.5\"\n"
	    "  mode: fast\n"
	    "  n: 3\n"
	    "  empty: \"\"\n"
	    "  spaced: a b c\n",
	    err, sizeof err);
	CHECK_MSG(rc == 0, "%s", err);
	CHECK_INT(c.n_params, 5);
	if (c.n_params == 5) {
		CHECK_STR(c.params[0].key, "alpha");
		CHECK_STR(c.params[0].value, "0.5");
		CHECK_STR(c.params[1].key, "mode");
		CHECK_STR(c.params[1].value, "fast");
		CHECK_STR(c.params[2].key, "n");
		CHECK_STR(c.params[2].value, "3");
		CHECK_STR(c.params[3].key, "empty");
		CHECK_STR(c.params[3].value, "");
		CHECK_STR(c.params[4].key, "spaced");
		CHECK_STR(c.params[4].value, "a b c");
	}
	model_config_free(&c);

	/* 64 parameters is the most. */
	char text[4096] = "plugin: p\nparameters:\n";
	for (int i = 0; i < CONFIG_MAX_PARAMS; i++) {
		size_t n = strlen(text);
		snprintf(text + n, sizeof text - n, "  k%d: v%d\n", i, i);
	}
	rc = model_load_text(&c, text, err, sizeof err);
	CHECK_MSG(rc == 0, "%s", err);
	CHECK_INT(c.n_params, CONFIG_MAX_PARAMS);
	if (c.n_params == CONFIG_MAX_PARAMS) {
		CHECK_STR(c.params[63].key, "k63");
		CHECK_STR(c.params[63].value, "v63");
	}
	model_config_free(&c);
}

static void test_model_errors(void)
{
	MODEL_ERR("", 1, "plugin");
	MODEL_ERR("version_policy: {all: true}\n", 1, "plugin");
	MODEL_ERR("plugin: \"\"\n", 1, "plugin");
	MODEL_ERR("plugin: [a, b]\n", 1, "plugin");
	MODEL_ERR("plugin: linear\nplugins: linear\n", 2, "unknown key 'plugins'");
	MODEL_ERR("plugin: linear\nrequest_timeout_ms: 0\n", 2, "request_timeout_ms");
	MODEL_ERR("- plugin: linear\n", 1, "mapping");
	MODEL_ERR("plugin: linear\nversion_policy: {latest: 1\n", 3, NULL);

	/* version_policy. */
	MODEL_ERR("plugin: p\nversion_policy: {all: false}\n", 2, "serves nothing");
	MODEL_ERR("plugin: p\nversion_policy: {all: no}\n", 2, "serves nothing");
	MODEL_ERR("plugin: p\nversion_policy: {all: maybe}\n", 2, "true or false");
	MODEL_ERR("plugin: p\nversion_policy: {latest: 2, all: true}\n", 2, "version_policy");
	MODEL_ERR("plugin: p\nversion_policy:\n  latest: 1\n  specific: [1]\n", 3,
	    "version_policy");
	MODEL_ERR("plugin: p\nversion_policy: {}\n", 2, "version_policy");
	MODEL_ERR("plugin: p\nversion_policy: latest\n", 2, "version_policy");
	MODEL_ERR("plugin: p\nversion_policy: [latest]\n", 2, "version_policy");
	MODEL_ERR("plugin: p\nversion_policy: {newest: 1}\n", 2, "unknown key 'newest'");
	MODEL_ERR("plugin: p\nversion_policy: {latest: 0}\n", 2, "latest");
	MODEL_ERR("plugin: p\nversion_policy: {latest: two}\n", 2, "latest");
	MODEL_ERR("plugin: p\nversion_policy: {specific: 3}\n", 2, "list");
	MODEL_ERR("plugin: p\nversion_policy: {specific: [1, x]}\n", 2, "'x'");
	MODEL_ERR("plugin: p\nversion_policy: {specific: [1.5]}\n", 2, "'1.5'");
	MODEL_ERR("plugin: p\nversion_policy: {specific: [0]}\n", 2, "positive integer");
	MODEL_ERR("plugin: p\nversion_policy: {specific: [-3]}\n", 2, "positive integer");
	MODEL_ERR("plugin: p\nversion_policy: {specific: [\"\"]}\n", 2, "positive integer");
	MODEL_ERR("plugin: p\nversion_policy: {specific: [[1]]}\n", 2, "specific");
	MODEL_ERR("plugin: p\nversion_policy:\n  specific:\n    - 1\n    - 2x\n", 5, "'2x'");
	/* A version past int64 is not a positive integer corral can hold; it
	 * must not turn silently into INT64_MAX. */
	MODEL_ERR("plugin: p\nversion_policy: {specific: [99999999999999999999]}\n", 2,
	    "99999999999999999999");

	/* parameters. */
	MODEL_ERR("plugin: p\nparameters: [a, b]\n", 2, "parameters");
	MODEL_ERR("plugin: p\nparameters: x\n", 2, "parameters");
	MODEL_ERR("plugin: p\nparameters:\n  a: 1\n  b: [1]\n", 4, "'b'");
	MODEL_ERR("plugin: p\nparameters:\n  a: {b: c}\n", 3, "'a'");
	MODEL_ERR("plugin: p\nparameters:\n  ? [k]\n  : v\n", 3, "parameters");

	char text[4096] = "plugin: p\nparameters:\n";
	for (int i = 0; i <= CONFIG_MAX_PARAMS; i++) {
		size_t n = strlen(text);
		snprintf(text + n, sizeof text - n, "  k%d: v%d\n", i, i);
	}
	MODEL_ERR(text, 3 + CONFIG_MAX_PARAMS, "at most 64");

	/* Missing file. */
	char path[PATH_MAX + 32], err[512] = "";
	snprintf(path, sizeof path, "%s/nope/config.yaml", tmpdir);
	model_config c;
	CHECK_INT(model_config_load(&c, path, err, sizeof err), -1);
	CHECK_MSG(strncmp(err, path, strlen(path)) == 0, "\"%s\"", err);
	CHECK_MSG(strstr(err, strerror(ENOENT)) != NULL, "\"%s\"", err);
	model_config_free(&c);
}

/* -------------------------------------------------------- serving --- */

#define SERVES(c, v) model_config_serves(c, v, present, n_present)

static void test_serves(void)
{
	const int64_t present[] = {1, 3, 7};
	const size_t n_present = 3;
	char err[512] = "";
	model_config c;

	CHECK_INT(model_load_text(&c, "plugin: p\nversion_policy: {latest: 2}\n",
	    err, sizeof err), 0);
	CHECK(!SERVES(&c, 1));
	CHECK(SERVES(&c, 3));
	CHECK(SERVES(&c, 7));
	model_config_free(&c);

	CHECK_INT(model_load_text(&c, "plugin: p\n", err, sizeof err), 0);
	CHECK(!SERVES(&c, 1));
	CHECK(!SERVES(&c, 3));
	CHECK(SERVES(&c, 7));
	model_config_free(&c);

	CHECK_INT(model_load_text(&c, "plugin: p\nversion_policy: {latest: 3}\n",
	    err, sizeof err), 0);
	CHECK(SERVES(&c, 1) && SERVES(&c, 3) && SERVES(&c, 7));
	model_config_free(&c);

	CHECK_INT(model_load_text(&c, "plugin: p\nversion_policy: {latest: 10}\n",
	    err, sizeof err), 0);
	CHECK(SERVES(&c, 1) && SERVES(&c, 3) && SERVES(&c, 7));
	model_config_free(&c);

	CHECK_INT(model_load_text(&c, "plugin: p\nversion_policy: {all: true}\n",
	    err, sizeof err), 0);
	CHECK(SERVES(&c, 1) && SERVES(&c, 3) && SERVES(&c, 7));
	model_config_free(&c);

	CHECK_INT(model_load_text(&c, "plugin: p\nversion_policy: {specific: [1, 7]}\n",
	    err, sizeof err), 0);
	CHECK(SERVES(&c, 1));
	CHECK(!SERVES(&c, 3));
	CHECK(SERVES(&c, 7));
	model_config_free(&c);

	CHECK_INT(model_load_text(&c, "plugin: p\nversion_policy: {specific: [3]}\n",
	    err, sizeof err), 0);
	CHECK(!SERVES(&c, 1));
	CHECK(SERVES(&c, 3));
	CHECK(!SERVES(&c, 7));
	model_config_free(&c);

	/* A single version present: latest serves it. */
	const int64_t one[] = {4};
	CHECK_INT(model_load_text(&c, "plugin: p\n", err, sizeof err), 0);
	CHECK(model_config_serves(&c, 4, one, 1));
	model_config_free(&c);
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "%s/corral_config_test.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	REQUIRE(mkdtemp(tmpdir) != NULL);

	test_daemon_defaults();
	test_daemon_full();
	test_daemon_errors();
	test_model_ok();
	test_model_errors();
	test_serves();

	CHECK_INT(nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	TEST_MAIN_END();
}
