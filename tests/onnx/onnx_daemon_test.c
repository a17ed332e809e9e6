/*
 * onnx_daemon_test - ONNX models through a real corrald: confined workers
 * running ONNX Runtime, libcorral over ipc and tcp, outputs compared with
 * numpy's (gen_onnx_models.py).
 *
 *   onnx_daemon_test CORRALD GEN_DIR [EXAMPLES]
 *
 * Covers FP32 with a pool of two intra-op threads, FP16 and BF16, BYTES
 * inputs, two inputs and outputs, scalars, zero-sized dimensions, output
 * selection by parameter, models refused at load (and why), models
 * whose model.onnx is missing, corrupt or of a future opset (FAILED, with
 * a last_error that says why, while the others serve), and that every
 * thread of every worker runs under the seccomp filter. With EXAMPLES
 * (configs/models), also the example iris_onnx against iris version 2.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/types.h>
#include <sys/wait.h>

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
	serve("strings_out", "strings_out", NULL);
	/* Refused at load, each for its own reason. */
	serve("seq_in", "seq_in", NULL);
	serve("bad_threads", "affine", "  intra_op_threads: lots\n");
	/* ONNX Runtime cannot load these (gen_onnx_models.py): random bytes,
	 * opset 99 of the default domain; and a version folder without its
	 * model.onnx. */
	serve("corrupt", "corrupt", NULL);
	serve("opset99", "opset99", NULL);
	harness_write(&h, "missing/config.yaml", "plugin: onnx\n");
	harness_write(&h, "missing/1/README", "model.onnx is missing on purpose\n");
}

/* The models that serve (the others are refused at load). */
static const char *const serving[] = {
	"affine", "affine1", "matmul256", "halves", "strings", "dot_argmax",
	"scalar", "zero_dim", "arith_fp16", "arith_uint64", "logic", "seq_out",
	"rows_of_4", "strings_out",
};

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
	run_case(c, "strings_out", "strings_out");
	run_case(c, "strings_out", "strings_out_odd");
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

/* The last_error `models` lists for model version 1 (malloc'd, NULL if
 * none) and its state in state. */
static char *last_error(corral_client *c, const char *model, char *state,
    size_t n)
{
	corral_model_list *l;
	corral_error err;
	char *why = NULL;

	state[0] = '\0';
	CHECK_INT(corral_list_models(c, &l, &err), CORRAL_OK);
	if (l == NULL)
		return NULL;
	for (size_t i = 0; i < l->count; i++) {
		const struct corral_model_entry *e = &l->entries[i];

		if (strcmp(e->name, model) != 0 || e->version != 1)
			continue;
		snprintf(state, n, "%s", e->state);
		if (e->last_error != NULL)
			why = strdup(e->last_error);
	}
	corral_model_list_free(l);
	return why;
}

/* Models ONNX Runtime cannot load, or whose file is not there, are FAILED
 * and `models` says why; every other model serves on, and the daemon is
 * live but not ready. */
static void test_unloadable(corral_client *c)
{
	static const struct {
		const char *model;
		const char *says[2]; /* each must be in last_error */
	} bad[] = {
		{ "corrupt", { "model could not be loaded", "Protobuf" } },
		{ "missing", { "model could not be loaded",
		    "cannot open " } },
		{ "missing", { "missing/1/model.onnx",
		    "No such file or directory" } },
		/* ONNX Runtime says "... Opset 99 is under development ..."
		 * after a source location and a C++ signature, and after the
		 * file's path twice: last_error (about 190 bytes) must still
		 * carry the reason. */
		{ "opset99", { "model could not be loaded", "pset 99" } },
	};
	bool live = false, ready = true;
	corral_error err;
	char state[32];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *why = last_error(c, bad[i].model, state, sizeof state);

		CHECK_MSG(strcmp(state, "FAILED") == 0, "%s: state %s, want "
		    "FAILED", bad[i].model, state);
		for (size_t k = 0; k < 2; k++)
			CHECK_MSG(why != NULL && strstr(why, bad[i].says[k]),
			    "%s: last_error \"%s\" does not say \"%s\"",
			    bad[i].model, why ? why : "(none)", bad[i].says[k]);
		free(why);
	}
	/* The others serve: READY, no last_error. */
	for (size_t i = 0; i < sizeof serving / sizeof serving[0]; i++) {
		char *why = last_error(c, serving[i], state, sizeof state);

		CHECK_MSG(strcmp(state, "READY") == 0 && why == NULL,
		    "%s: state %s, last_error %s", serving[i], state,
		    why ? why : "(none)");
		free(why);
	}
	CHECK_INT(corral_health(c, &live, &ready, &err), CORRAL_OK);
	CHECK(live && !ready);
	run_case(c, "affine", "affine_5");
	run_case(c, "strings", "strings");
}

/*
 * The bundled example iris_onnx (configs/models, made by
 * gen_example_model.py) with its own config.yaml, next to `iris`, whose
 * version 2 has the same weights in the linear plugin: the same labels,
 * and probabilities within float32's rounding. Its own daemon, with the
 * two model folders linked as they are.
 */
static void test_example(const char *corrald, const char *examples)
{
	static const float rows[3][4] = {
		{ 5.1f, 3.5f, 1.4f, 0.2f }, /* setosa */
		{ 6.7f, 3.0f, 5.2f, 2.3f }, /* virginica */
		{ 5.9f, 3.0f, 4.2f, 1.5f }, /* versicolor */
	};
	static const int64_t want_label[3] = { 0, 2, 1 };
	int64_t shape[2] = { 3, 4 };
	corral_tensor in = { "input", CORRAL_DT_FP32, 2, shape, rows,
		sizeof rows };
	corral_result *onnx = NULL, *linear = NULL;
	corral_metadata *m = NULL;
	corral_error err;
	corral_client *c;
	char target[4096];
	harness eh;
	int status;

	harness_init(&eh);
	snprintf(target, sizeof target, "%s/iris_onnx", examples);
	harness_link(&eh, "iris_onnx", target);
	snprintf(target, sizeof target, "%s/iris", examples);
	harness_link(&eh, "iris", target);
	harness_start(&eh, corrald, NULL);
	c = harness_client(&eh, false);

	CHECK_INT(corral_get_metadata(c, "iris_onnx", 0, &m, &err), CORRAL_OK);
	if (m != NULL) {
		CHECK_STR(m->plugin, "onnx");
		CHECK_MSG(m->n_inputs == 1 && strcmp(m->inputs[0].name, "input") == 0 &&
		    m->inputs[0].dtype == CORRAL_DT_FP32 && m->inputs[0].ndim == 2 &&
		    m->inputs[0].shape[0] == -1 && m->inputs[0].shape[1] == 4,
		    "iris_onnx: input FP32 [-1, 4] called input");
		CHECK_MSG(m->n_outputs == 2 &&
		    strcmp(m->outputs[0].name, "probabilities") == 0 &&
		    m->outputs[0].dtype == CORRAL_DT_FP32 &&
		    m->outputs[0].ndim == 2 && m->outputs[0].shape[1] == 3 &&
		    strcmp(m->outputs[1].name, "label") == 0 &&
		    m->outputs[1].dtype == CORRAL_DT_INT64 &&
		    m->outputs[1].ndim == 1,
		    "iris_onnx: outputs probabilities FP32 [-1, 3], label INT64 [-1]");
		corral_metadata_free(m);
	}
	CHECK_INT(corral_infer(c, "iris_onnx", 0, &in, 1, NULL, 0, &onnx, &err),
	    CORRAL_OK);
	CHECK_INT(corral_infer(c, "iris", 2, &in, 1, NULL, 0, &linear, &err),
	    CORRAL_OK);
	if (onnx != NULL && linear != NULL) {
		const corral_tensor *p = corral_result_find(onnx, "probabilities");
		const corral_tensor *l = corral_result_find(onnx, "label");
		const corral_tensor *lp = corral_result_find(linear, "probabilities");
		const corral_tensor *ll = corral_result_find(linear, "label");

		REQUIRE(p && l && lp && ll);
		REQUIRE(p->dtype == CORRAL_DT_FP32 && p->nbytes == 9 * 4 &&
		    lp->dtype == CORRAL_DT_FP64 && lp->nbytes == 9 * 8 &&
		    l->nbytes == 3 * 8 && ll->nbytes == 3 * 8);
		for (size_t i = 0; i < 9; i++) {
			float a;
			double b;

			memcpy(&a, (const char *)p->data + 4 * i, 4);
			memcpy(&b, (const char *)lp->data + 8 * i, 8);
			CHECK_MSG(fabs(a - b) <= 1e-6 + 1e-5 * fabs(b),
			    "iris_onnx probabilities[%zu] = %.9g, iris 2 has %.9g",
			    i, a, b);
		}
		for (size_t i = 0; i < 3; i++) {
			int64_t a, b;

			memcpy(&a, (const char *)l->data + 8 * i, 8);
			memcpy(&b, (const char *)ll->data + 8 * i, 8);
			CHECK_MSG(a == want_label[i] && b == want_label[i],
			    "row %zu: label %lld (iris_onnx), %lld (iris 2), want "
			    "%lld", i, (long long)a, (long long)b,
			    (long long)want_label[i]);
		}
	}
	corral_result_free(onnx);
	corral_result_free(linear);
	corral_client_close(c);
	status = harness_stop(&eh);
	CHECK_MSG(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "corrald exits 0 (status %d)", status);
	if (test_failed_)
		harness_dump_log(&eh);
	harness_cleanup(&eh);
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

	CHECK_MSG(n == (int)(sizeof serving / sizeof serving[0]),
	    "%zu serving workers, got %d", sizeof serving / sizeof serving[0], n);
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

	REQUIRE(argc == 3 || argc == 4);
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
	test_unloadable(tcp);
	test_confined_threads();
	test_sustained(ipc);
	test_confined_threads();

	corral_client_close(ipc);
	corral_client_close(tcp);
	if (test_failed_)
		harness_dump_log(&h);
	harness_cleanup(&h);
	if (argc == 4)
		test_example(argv[1], argv[3]);
	cases_free(&cases);
	free(gen_dir);
	TEST_MAIN_END();
}
