/*
 * cli_test - the `corral` command against a real corrald: every command,
 * JSON and CSV input, --help, and the exit codes and messages on failure.
 *
 *   cli_test CORRALD CORRAL_CLI EXAMPLE_REPO
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "test.h"

static harness h;
static const char *cli;

/* Run `corral --url URL <args>` with `input` on stdin; capture stdout and
 * stderr (together) into out. Returns the exit code. */
static int run_cli(const char *args, const char *input, char *out, size_t n)
{
	char in_path[128], cmd[2048];
	snprintf(in_path, sizeof in_path, "%s/stdin.txt", h.dir);
	FILE *f = fopen(in_path, "w");
	REQUIRE(f != NULL);
	fputs(input ? input : "", f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "'%s' --url '%s' %s < '%s' 2>&1", cli, h.ipc_url, args,
	    in_path);
	FILE *p = popen(cmd, "r");
	REQUIRE(p != NULL);
	size_t len = fread(out, 1, n - 1, p);
	out[len] = '\0';
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define HAS(out, s) CHECK_MSG(strstr((out), (s)) != NULL, "'%s' in output:\n%s", (s), (out))

/* Lines in a file (0 if it cannot be read). */
static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, ch;
	while (f && (ch = fgetc(f)) != EOF)
		n += ch == '\n';
	if (f)
		fclose(f);
	return n;
}

/* corral batch: 500 rows and two bad ones in CSV (with a header), scored in
 * batches of 64; the bad rows are reported by line and left out; a row's
 * scores are those `corral infer` gives; the same rows as JSON lines. */
static void test_batch(void)
{
	char in[256], jin[256], outp[256], jout[256], args[1200], out[16384];
	snprintf(in, sizeof in, "%s/rows.csv", h.dir);
	snprintf(jin, sizeof jin, "%s/rows.jsonl", h.dir);
	snprintf(outp, sizeof outp, "%s/scores.csv", h.dir);
	snprintf(jout, sizeof jout, "%s/scores.jsonl", h.dir);
	FILE *c = fopen(in, "w"), *j = fopen(jin, "w");
	REQUIRE(c != NULL && j != NULL);
	fputs("sepal_length,sepal_width,petal_length,petal_width\n", c);
	for (int i = 0; i < 500; i++) {
		double v[4] = {4 + (i % 40) * 0.1, 2 + (i % 20) * 0.1, 1 + (i % 60) * 0.1,
		    0.1 + (i % 25) * 0.1};
		fprintf(c, "%.1f,%.1f,%.1f,%.1f\n", v[0], v[1], v[2], v[3]);
		fprintf(j, "[%.1f, %.1f, %.1f, %.1f]\n", v[0], v[1], v[2], v[3]);
		if (i == 100)
			fputs("1,2,3\n", c); /* line 103 */
		if (i == 200)
			fputs("1,x,3,4\n", c); /* line 204 */
	}
	fclose(c);
	fclose(j);

	snprintf(args, sizeof args, "batch iris '%s' -o '%s' --batch-size 64", in, outp);
	CHECK_INT(run_cli(args, NULL, out, sizeof out), 1);
	HAS(out, "500 rows scored");
	HAS(out, "2 left out");
	HAS(out, "line 103: 3 values, the model takes 4");
	HAS(out, "line 204: not a row of numbers");
	HAS(out, "corral batch: 502 rows"); /* a progress line (not a terminal) */
	CHECK_INT(count_lines(outp), 501);

	/* the first row's scores, as corral infer gives them */
	char first[512] = "";
	FILE *f = fopen(outp, "r");
	REQUIRE(f != NULL && fgets(first, sizeof first, f) && fgets(first, sizeof first, f));
	fclose(f);
	CHECK_INT(run_cli("infer iris", "[4.0, 2.0, 1.0, 0.1]", out, sizeof out), 0);
	char *comma = strchr(first, ',');
	char p0[64] = "";
	sscanf(comma ? comma + 1 : "", "%63[^,]", p0);
	CHECK_MSG(strncmp(first, "2,", 2) == 0 && p0[0] && strstr(out, p0) != NULL,
	    "row 2's first probability %s is infer's:\n%s", p0, out);

	snprintf(args, sizeof args, "batch iris '%s' -o '%s'", jin, jout);
	CHECK_INT(run_cli(args, NULL, out, sizeof out), 0);
	HAS(out, "500 rows scored");
	CHECK_INT(count_lines(jout), 500);
	snprintf(args, sizeof args, "batch nope '%s' -o '%s'", jin, jout);
	CHECK_INT(run_cli(args, NULL, out, sizeof out), 1);
	HAS(out, "MODEL_NOT_FOUND");
	CHECK_INT(run_cli("batch iris", NULL, out, sizeof out), 2);
}

int main(int argc, char **argv)
{
	REQUIRE(argc == 4);
	cli = argv[2];
	char *repo = realpath(argv[3], NULL);
	REQUIRE(repo != NULL);
	harness_init(&h);
	char target[512];
	harness_write(&h, "iris/config.yaml", "plugin: linear\nversion_policy: {all: true}\n");
	snprintf(target, sizeof target, "%s/iris/1", repo);
	harness_link(&h, "iris/1", target);
	snprintf(target, sizeof target, "%s/iris/2", repo);
	harness_link(&h, "iris/2", target);
	harness_start(&h, argv[1], NULL);

	char out[16384];
	CHECK_INT(run_cli("health", NULL, out, sizeof out), 0);
	HAS(out, "ready: true");

	CHECK_INT(run_cli("models", NULL, out, sizeof out), 0);
	HAS(out, "iris");
	HAS(out, "READY");
	CHECK_INT(run_cli("models --json", NULL, out, sizeof out), 0);
	HAS(out, "\"models\"");

	CHECK_INT(run_cli("metadata iris", NULL, out, sizeof out), 0);
	HAS(out, "\"plugin\": \"linear\"");
	HAS(out, "\"input\"");

	/* JSON rows, a flat JSON row, CSV with a header: same first answer. */
	CHECK_INT(run_cli("infer iris", "[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]", out,
		      sizeof out), 0);
	HAS(out, "\"model_version\": 2");
	HAS(out, "\"shape\": [2, 3]");
	HAS(out, "\"label\"");
	CHECK_INT(run_cli("infer iris --version 1 --output label", "[5.1, 3.5, 1.4, 0.2]", out,
		      sizeof out), 0);
	HAS(out, "\"model_version\": 1");
	CHECK_MSG(strstr(out, "probabilities") == NULL, "only label: %s", out);
	CHECK_INT(run_cli("infer iris --format csv",
		      "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n", out,
		      sizeof out), 0);
	HAS(out, "\"data\": [0]");

	/* Server errors: exit 1 with the code's name. */
	CHECK_INT(run_cli("infer nope", "[1, 2, 3, 4]", out, sizeof out), 1);
	HAS(out, "MODEL_NOT_FOUND");
	CHECK_INT(run_cli("infer iris", "[1, 2, 3]", out, sizeof out), 1);
	HAS(out, "FEATURE_COUNT_MISMATCH");
	CHECK_INT(run_cli("infer iris --version 9", "[1, 2, 3, 4]", out, sizeof out), 1);
	HAS(out, "VERSION_NOT_FOUND");
	CHECK_INT(run_cli("metadata nope", NULL, out, sizeof out), 1);
	HAS(out, "MODEL_NOT_FOUND");

	/* Input and usage errors: exit 2. */
	CHECK_INT(run_cli("infer iris", "[[1, 2, 3, 4], [1, 2]]", out, sizeof out), 2);
	CHECK_INT(run_cli("infer iris", "[1, \"x\", 3, 4]", out, sizeof out), 2);
	CHECK_INT(run_cli("infer iris", "", out, sizeof out), 2);
	CHECK_INT(run_cli("frobnicate", NULL, out, sizeof out), 2);

	test_batch();

	/* --help for the tool and each command. */
	const char *helps[] = {"--help", "infer --help", "metadata --help", "models --help",
	    "health --help", "batch --help"};
	for (size_t i = 0; i < sizeof helps / sizeof *helps; i++) {
		CHECK_INT(run_cli(helps[i], NULL, out, sizeof out), 0);
		HAS(out, "Usage: corral");
	}

	/* No daemon: a transport error, exit 1. */
	harness_stop(&h);
	CHECK_INT(run_cli("models", NULL, out, sizeof out), 1);
	HAS(out, "CONNECT");

	harness_cleanup(&h);
	free(repo);
	TEST_MAIN_END();
}
