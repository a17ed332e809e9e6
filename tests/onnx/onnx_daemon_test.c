/*
 * onnx_daemon_test - ONNX models through a real corrald: confined workers
 * running ONNX Runtime, libcorral over ipc and tcp, outputs compared with
 * numpy's (gen_onnx_models.py).
 *
 *   onnx_daemon_test CORRALD GEN_DIR
 *
 * Covers FP32 with a pool of two intra-op threads, FP16 and BF16, BYTES
 * inputs, two inputs and outputs, scalars, zero-sized dimensions, output
 * selection by parameter, models refused at load (and why), and that
 * every thread of every worker runs under the seccomp filter.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "harness.h"
#include "onnx_cases.h"
#include "test.h"

static harness h;
static case_list cases;
static char *gen_dir;

/* --------------------------------------------------------------- setup --- */

/* Serve the model folder `model` of the fixture as <name>/1, with the
 * given parameters (YAML lines, may be NULL). */
static void serve(const char *name, const char *model, const char *params)
{
	char path[256], target[4096], yaml[512];

	snprintf(yaml, sizeof yaml, "plugin: onnx\n%s%s", params ? "parameters:\n" : "",
	    params ? params : "");
	snprintf(path, sizeof path, "%s/config.yaml", name);
	harness_write(&h, path, yaml);
	snprintf(target, sizeof target, "%s/models/%s/1", gen_dir, model);
	snprintf(path, sizeof path, "%s/1", name);
	harness_link(&h, path, target);
}

static void setup_repo(void)
{
	serve("affine", "affine", "  intra_op_threads: 2\n");
	serve("affine1", "affine", NULL);
	serve("matmul256", "matmul256", "  intra_op_threads: 2\n");
	serve("halves", "halves", NULL);
	serve("strings", "strings", NULL);
	serve("dot_argmax", "dot_argmax", NULL);
	serve("scalar", "scalar", NULL);
	serve("zero_dim", "zero_dim", NULL);
	serve("arith_fp16", "arith_fp16", NULL);
	serve("arith_uint64", "arith_uint64", NULL);
	serve("logic", "logic", NULL);
	serve("seq_out", "seq_out", "  outputs: neg\n");
	serve("rows_of_4", "rows_of_4", NULL);
	/* Refused at load, each for its own reason. */
	serve("seq_in", "seq_in", NULL);
	serve("strings_out", "strings_out", NULL);
	serve("bad_threads", "affine", "  intra_op_threads: lots\n");
}

/* --------------------------------------------------------------- tests --- */

/* Run golden case `case_name` on `model` through client c and compare. */
static void run_case(corral_client *c, const char *model, const char *case_name)
{
	const onnx_case *gc = cases_find(&cases, case_name);
	corral_tensor in[8];
	corral_result *r = NULL;
	corral_error err;
	corral_status st;

	REQUIRE(gc != NULL && gc->n_in <= 8);
	for (size_t i = 0; i < gc->n_in; i++)
		in[i] = (corral_tensor){ .name = gc->in[i].name,
			.dtype = gc->in[i].dtype, .ndim = gc->in[i].ndim,
			.shape = gc->in[i].shape, .data = gc->in[i].data,
			.nbytes = gc->in[i].nbytes };
	st = corral_infer(c, model, 0, in, gc->n_in, NULL, 0, &r, &err);
	CHECK_MSG(st == CORRAL_OK, "%s on %s: %s", case_name, model,
	    st == CORRAL_OK ? "" : err.message);
	if (st != CORRAL_OK)
		return;
	CHECK_MSG(corral_result_output_count(r) == gc->n_out, "%s: %zu outputs",
	    case_name, corral_result_output_count(r));
	for (size_t i = 0; i < gc->n_out; i++) {
		const corral_tensor *t = corral_result_find(r, gc->out[i].name);
		char why[512];

		CHECK_MSG(t != NULL, "%s: no output '%s'", case_name, gc->out[i].name);
		if (t == NULL)
			continue;
		CHECK_MSG(case_compare(&gc->out[i], t->dtype, t->ndim, t->shape,
		    t->data, t->nbytes, gc->rtol, gc->atol, why, sizeof why) == 0,
		    "%s on %s: %s", case_name, model, why);
	}
	corral_result_free(r);
}

static void test_serving(corral_client *c)
{
	run_case(c, "affine", "affine_5");
	run_case(c, "affine", "affine_1");
	run_case(c, "affine", "affine_0");
	run_case(c, "affine", "affine_64");
	run_case(c, "affine1", "affine_64");
	run_case(c, "matmul256", "matmul256");
	run_case(c, "halves", "halves");
	run_case(c, "arith_fp16", "arith_fp16");
	run_case(c, "arith_uint64", "arith_uint64");
	run_case(c, "strings", "strings");
	run_case(c, "strings", "strings_empty");
	run_case(c, "dot_argmax", "dot_argmax");
	run_case(c, "scalar", "scalar");
	run_case(c, "zero_dim", "zero_dim");
	run_case(c, "logic", "logic");
	run_case(c, "seq_out", "seq_out_neg");
	/* Its warm-up failed at load; the first request warms it, confined. */
	run_case(c, "rows_of_4", "rows_of_4");
}

/* Only the outputs asked for come back. */
static void test_output_subset(corral_client *c)
{
	const onnx_case *gc = cases_find(&cases, "dot_argmax");
	const char *names[1] = { "best" };
	corral_tensor in[2];
	corral_result *r;
	corral_error err;

	REQUIRE(gc != NULL);
	for (size_t i = 0; i < 2; i++)
		in[i] = (corral_tensor){ gc->in[i].name, gc->in[i].dtype,
			gc->in[i].ndim, gc->in[i].shape, gc->in[i].data,
			gc->in[i].nbytes };
	CHECK_INT(corral_infer(c, "dot_argmax", 0, in, 2, names, 1, &r, &err),
	    CORRAL_OK);
	if (r != NULL) {
		CHECK_INT(corral_result_output_count(r), 1);
		CHECK(corral_result_find(r, "best") != NULL);
		corral_result_free(r);
	}
}

static void test_metadata(corral_client *c)
{
	corral_metadata *m;
	corral_error err;

	CHECK_INT(corral_get_metadata(c, "affine", 0, &m, &err), CORRAL_OK);
	if (m != NULL) {
		CHECK_STR(m->plugin, "onnx");
		CHECK_INT(m->n_inputs, 1);
		CHECK_STR(m->inputs[0].name, "x");
		CHECK_INT(m->inputs[0].dtype, CORRAL_DT_FP32);
		CHECK_INT(m->inputs[0].ndim, 2);
		CHECK_INT(m->inputs[0].shape[0], -1);
		CHECK_INT(m->inputs[0].shape[1], 4);
		CHECK_INT(m->n_outputs, 1);
		corral_metadata_free(m);
	}
	CHECK_INT(corral_get_metadata(c, "strings", 0, &m, &err), CORRAL_OK);
	if (m != NULL) {
		CHECK_INT(m->inputs[0].dtype, CORRAL_DT_BYTES);
		CHECK_INT(m->outputs[0].dtype, CORRAL_DT_INT64);
		corral_metadata_free(m);
	}
	CHECK_INT(corral_get_metadata(c, "seq_out", 0, &m, &err), CORRAL_OK);
	if (m != NULL) {
		CHECK_INT(m->n_outputs, 1);
		CHECK_STR(m->outputs[0].name, "neg");
		corral_metadata_free(m);
	}
}

/* Bad requests are the client's errors, and the worker lives on. */
static void test_bad_requests(corral_client *c)
{
	static const float six[6];
	int64_t shape6[1] = { 6 }, shape_bad[2] = { 2, 5 };
	corral_tensor t = { "x", CORRAL_DT_FP32, 1, shape6, six, sizeof six };
	corral_result *r;
	corral_error err;

	/* ORT fails the run (six values cannot make rows of four). */
	CHECK_INT(corral_infer(c, "rows_of_4", 0, &t, 1, NULL, 0, &r, &err),
	    CORRAL_E_MODEL_ERROR);
	CHECK_MSG(strstr(err.message, "cannot be reshaped") != NULL, "%s",
	    err.message);
	/* The host's own checks against the signature. */
	t.shape = shape_bad;
	t.ndim = 2;
	t.nbytes = 0;
	t.data = NULL;
	CHECK_INT(corral_infer(c, "affine", 0, &t, 1, NULL, 0, &r, &err),
	    CORRAL_E_SHAPE_MISMATCH);
	run_case(c, "rows_of_4", "rows_of_4");
	run_case(c, "affine", "affine_5");
}

/* Refused models are FAILED, and say why. */
static void test_refused(corral_client *c)
{
	static const struct {
		const char *model, *says;
	} refused[] = {
		{ "seq_in", "input 'items' is a sequence" },
		{ "strings_out", "output 'same' is a STRING tensor" },
		{ "bad_threads", "intra_op_threads" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		int64_t shape[1] = { 1 };
		float x = 0;
		corral_tensor t = { "x", CORRAL_DT_FP32, 1, shape, &x, 4 };
		corral_result *r;
		corral_error err;

		CHECK_STR(harness_state(c, refused[i].model, 1, buf, sizeof buf),
		    "FAILED");
		CHECK_INT(corral_infer(c, refused[i].model, 0, &t, 1, NULL, 0, &r,
		    &err), CORRAL_E_UNAVAILABLE);
		CHECK_MSG(strstr(err.message, refused[i].says) != NULL,
		    "%s: \"%s\" does not say \"%s\"", refused[i].model,
		    err.message, refused[i].says);
	}
}

/* A worker's model name, from its command line (--model NAME). */
static void worker_model(pid_t pid, char *out, size_t n)
{
	char path[64], buf[4096];
	FILE *f;
	size_t len;

	out[0] = '\0';
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = '\0';
	for (size_t off = 0; off < len; off += strlen(buf + off) + 1)
		if (strcmp(buf + off, "--model") == 0 && off + 8 < len)
			snprintf(out, n, "%s", buf + off + 8);
}

/* Every thread of every worker is under a seccomp filter; the worker with
 * intra_op_threads 2 has ORT's pool thread besides. */
static void test_confined_threads(void)
{
	pid_t pids[32];
	int n = harness_workers(&h, pids, 32);
	int threads = 0, confined = 0, affine = -1, affine1 = -1;

	CHECK_MSG(n == 13, "13 serving workers, got %d", n);
	for (int i = 0; i < n; i++) {
		char path[64], model[64];
		DIR *d;
		struct dirent *e;
		int mine = 0;

		snprintf(path, sizeof path, "/proc/%d/task", (int)pids[i]);
		worker_model(pids[i], model, sizeof model);
		d = opendir(path);
		while (d && (e = readdir(d)) != NULL) {
			char spath[384], line[256];
			FILE *f;

			if (e->d_name[0] == '.')
				continue;
			snprintf(spath, sizeof spath, "%s/%s/status", path, e->d_name);
			f = fopen(spath, "r");
			while (f && fgets(line, sizeof line, f))
				if (strncmp(line, "Seccomp:", 8) == 0) {
					threads++;
					mine++;
					confined += atoi(line + 8) == 2;
				}
			if (f)
				fclose(f);
		}
		if (d)
			closedir(d);
		if (strcmp(model, "affine") == 0)
			affine = mine;
		if (strcmp(model, "affine1") == 0)
			affine1 = mine;
	}
	CHECK_MSG(threads >= 2 * n && confined == threads,
	    "%d of %d worker threads in seccomp filter mode", confined, threads);
	CHECK_MSG(affine > 0 && affine == affine1 + 1,
	    "intra_op_threads 2 adds one pool thread: %d threads vs %d",
	    affine, affine1);
}

/* Many requests to the two-thread model: the confined pool keeps working
 * and the worker is never replaced. */
static void test_sustained(corral_client *c)
{
	pid_t before[32], after[32];
	int nb = harness_workers(&h, before, 32);

	for (int i = 0; i < 200; i++)
		run_case(c, "affine", i % 2 ? "affine_64" : "affine_5");
	for (int i = 0; i < 20; i++)
		run_case(c, "matmul256", "matmul256");
	CHECK_INT(harness_workers(&h, after, 32), nb);
	for (int i = 0; i < nb; i++) {
		int found = 0;

		for (int j = 0; j < nb; j++)
			found |= before[i] == after[j];
		CHECK_MSG(found, "worker %d was replaced", (int)before[i]);
	}
}

int main(int argc, char **argv)
{
	char path[4096];

	REQUIRE(argc == 3);
	gen_dir = realpath(argv[2], NULL);
	REQUIRE(gen_dir != NULL);
	snprintf(path, sizeof path, "%s/golden.tsv", gen_dir);
	cases_read(&cases, path);

	harness_init(&h);
	setup_repo();
	harness_start(&h, argv[1], NULL);
	corral_client *ipc = harness_client(&h, false);
	corral_client *tcp = harness_client(&h, true);

	test_serving(ipc);
	test_serving(tcp);
	test_output_subset(ipc);
	test_metadata(ipc);
	test_bad_requests(tcp);
	test_refused(ipc);
	test_confined_threads();
	test_sustained(ipc);
	test_confined_threads();

	corral_client_close(ipc);
	corral_client_close(tcp);
	if (test_failed_)
		harness_dump_log(&h);
	harness_cleanup(&h);
	cases_free(&cases);
	free(gen_dir);
	TEST_MAIN_END();
}
