/*
 * cli_infer.c - `corral infer MODEL [OPTIONS] [FILE|-]`: read rows of
 * numbers, send one tensor per model input, print the outputs as JSON.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_encode.h"
#include "cli_input.h"
#include "cli_output.h"

#define INFER_GO_ON (-1) /* infer_args: no exit status yet */

typedef struct infer_args {
	const char *model;
	int64_t version;      /* 0: the default version */
	const char *input;    /* --input, or NULL */
	const char **outputs; /* --output values (argv strings) */
	size_t n_outputs;
	cli_format format;
	const char *file; /* "-": standard input */
} infer_args;

static void infer_usage(FILE *f)
{
	fputs(
	    "Usage: corral infer MODEL [OPTIONS] [FILE|-]\n"
	    "\n"
	    "Run MODEL on rows of numbers read from FILE (standard input when\n"
	    "FILE is - or absent) and print its outputs as one JSON document.\n"
	    "\n"
	    "Options:\n"
	    "  --version N        the model version (default: the default version)\n"
	    "  -i, --input NAME   the input the rows are for (default: the model's\n"
	    "                     only input)\n"
	    "  -o, --output NAME  return only this output; repeat for several\n"
	    "  -f, --format FMT   json or csv (default: JSON when the first\n"
	    "                     non-space character is '[' or '{', else CSV)\n"
	    "  --url URL, --timeout MS  as for 'corral --help'\n"
	    "  -h, --help         show this help\n"
	    "\n"
	    "Input:\n"
	    "  JSON  [[1, 2, 3], [4, 5, 6]]    rows: arrays of numbers\n"
	    "        [1, 2, 3]                 a single row\n"
	    "        {\"inputs\": {\"a\": [[1, 2]], \"b\": [[3]]}}   several inputs\n"
	    "  CSV   one row per line, numbers separated by commas; a first\n"
	    "        line that is not all numbers is a header and skipped.\n"
	    "Each input is sent as a tensor of shape [rows, columns] in the\n"
	    "datatype the model declares for it: FP32, FP64 or an integer type\n"
	    "(whose values must then be integers in its range).\n"
	    "\n"
	    "Output:\n"
	    "  {\"model_name\": ..., \"model_version\": N, \"outputs\": [{\"name\": ...,\n"
	    "   \"datatype\": ..., \"shape\": [...], \"data\": [...]}],\n"
	    "   \"prediction_id\": ID}\n"
	    "  with data flat, in row-major order; prediction_id (for 'corral\n"
	    "  feedback') when the daemon logged the prediction.\n"
	    "\n"
	    "Exit status: 0 success, 1 the server or the connection failed,\n"
	    "2 bad arguments or input.\n",
	    f);
}

enum {
	INFER_OPT_VERSION = CLI_OPT_COMMAND,
};

static int infer_parse_args(cli_ctx *ctx, int argc, char **argv,
    infer_args *a)
{
	static const struct option longopts[] = {
		CLI_SHARED_OPTIONS,
		{"version", required_argument, NULL, INFER_OPT_VERSION},
		{"input", required_argument, NULL, 'i'},
		{"output", required_argument, NULL, 'o'},
		{"format", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	int c, rc;

	optind = 0;
	while ((c = cli_getopt(ctx, "infer", argc, argv, ":hi:o:f:",
	    longopts)) != -1) {
		switch (c) {
		case 'h':
			infer_usage(stdout);
			return CLI_EXIT_OK;
		case INFER_OPT_VERSION:
			rc = cli_parse_version("infer", optarg, &a->version);
			if (rc != CLI_EXIT_OK)
				return rc;
			break;
		case 'i':
			if (a->input)
				return cli_usage_error("infer", "--input is "
				    "given twice; name several inputs with "
				    "{\"inputs\": {...}} instead");
			a->input = optarg;
			break;
		case 'o':
			a->outputs[a->n_outputs++] = optarg;
			break;
		case 'f':
			if (!cli_format_parse(optarg, &a->format))
				return cli_usage_error("infer", "--format is "
				    "json or csv, not '%s'", optarg);
			break;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("infer", "which model? (corral infer "
		    "MODEL [FILE])");
	a->model = argv[optind++];
	if (optind < argc)
		a->file = argv[optind++];
	if (optind < argc)
		return cli_usage_error("infer", "unexpected argument '%s' "
		    "(one input FILE at most)", argv[optind]);
	return INFER_GO_ON;
}

/* Read and parse the rows; returns an exit status. */
static int infer_read(const infer_args *a, cli_input *in)
{
	bool is_stdin = strcmp(a->file, "-") == 0;
	FILE *f = is_stdin ? stdin : fopen(a->file, "rb");
	char msg[512], *text;
	size_t len;
	cli_rc rc;
	int e;

	if (!f)
		return cli_usage_error("infer", "cannot open '%s': %s", a->file,
		    strerror(errno));
	if (is_stdin && isatty(STDIN_FILENO))
		fputs("corral: reading rows from the terminal; end them with "
		    "Ctrl-D\n", stderr);
	e = cli_read_all(f, &text, &len);
	if (!is_stdin)
		fclose(f);
	if (e != 0) {
		fprintf(stderr, "corral: cannot read '%s': %s\n", a->file,
		    strerror(e));
		return e == ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
	}
	rc = cli_input_parse(text, len, a->format, in, msg, sizeof msg);
	free(text);
	if (rc == CLI_ENOMEM) {
		fprintf(stderr, "corral: %s\n", msg);
		return CLI_EXIT_FAIL;
	}
	if (rc != CLI_OK)
		return cli_usage_error("infer", "%s", msg);
	if (a->input && (in->count > 1 || in->tables[0].name))
		return cli_usage_error("infer", "--input cannot be combined "
		    "with {\"inputs\": {...}}, which names the inputs itself");
	return CLI_EXIT_OK;
}

static void infer_list_inputs(const corral_metadata *m)
{
	if (m->n_inputs == 0) {
		fputs(" (it declares none)", stderr);
		return;
	}
	fputs(" (its inputs:", stderr);
	for (size_t i = 0; i < m->n_inputs; i++)
		fprintf(stderr, "%s '%s'", i ? "," : "",
		    m->inputs[i].name ? m->inputs[i].name : "");
	fputs(")", stderr);
}

/* Which of the model's inputs table `t` is for; NULL after an error. */
static const struct corral_meta_tensor *infer_target(const infer_args *a,
    const cli_table *t, const corral_metadata *m)
{
	const char *name = t->name ? t->name : a->input;

	if (!name && m->n_inputs == 1)
		return &m->inputs[0];
	if (!name) {
		fprintf(stderr, "corral: model '%s' has %zu inputs; choose one "
		    "with --input NAME, or give several with {\"inputs\": "
		    "{...}}", a->model, m->n_inputs);
		infer_list_inputs(m);
		fputs("\nTry 'corral infer --help'.\n", stderr);
		return NULL;
	}
	for (size_t i = 0; i < m->n_inputs; i++)
		if (m->inputs[i].name && strcmp(m->inputs[i].name, name) == 0)
			return &m->inputs[i];
	fprintf(stderr, "corral: model '%s' has no input '%s'", a->model, name);
	infer_list_inputs(m);
	fputs("\nTry 'corral metadata MODEL'.\n", stderr);
	return NULL;
}

/* Print the result as one JSON document; returns an exit status. */
static int infer_print(const infer_args *a, const corral_result *r)
{
	size_t n = corral_result_output_count(r);
	json_t *doc = NULL, *outs = json_array();
	int precision = cli_real_precision(CORRAL_DT_FP32);
	char msg[512];
	int rc = CLI_EXIT_FAIL;

	if (!outs)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		const corral_tensor *t = corral_result_output(r, i);
		json_t *j;
		cli_rc crc;

		if (!t) {
			fprintf(stderr, "corral: %s: output %zu of %zu is "
			    "missing\n", corral_status_name(CORRAL_E_PROTOCOL),
			    i + 1, n);
			goto done;
		}
		crc = cli_tensor_json(t, &j, msg, sizeof msg);
		if (crc == CLI_ENOMEM)
			goto nomem;
		if (crc != CLI_OK) {
			fprintf(stderr, "corral: %s: %s\n",
			    corral_status_name(CORRAL_E_PROTOCOL), msg);
			goto done;
		}
		if (json_array_append_new(outs, j) != 0)
			goto nomem;
		if (cli_real_precision(t->dtype) > precision)
			precision = cli_real_precision(t->dtype);
	}
	doc = json_pack("{s:s, s:I, s:O}", "model_name", a->model,
	    "model_version", (json_int_t)corral_result_model_version(r),
	    "outputs", outs);
	if (!doc)
		goto nomem;
	/* the id `corral feedback` names, when the daemon logged it */
	if (corral_result_prediction_id(r) > 0 &&
	    json_object_set_new(doc, "prediction_id",
		json_integer((json_int_t)corral_result_prediction_id(r))) != 0)
		goto nomem;
	/* A failed write is reported by main, which checks stdout. */
	if (cli_print_json(stdout, doc, JSON_REAL_PRECISION(precision)) == 0)
		rc = CLI_EXIT_OK;
	goto done;
nomem:
	fputs("corral: out of memory\n", stderr);
done:
	json_decref(doc);
	json_decref(outs);
	return rc;
}

int cli_infer(cli_ctx *ctx, int argc, char **argv)
{
	infer_args a = {.file = "-"};
	cli_input in = {0};
	corral_client *c = NULL;
	corral_metadata *meta = NULL;
	corral_result *res = NULL;
	corral_tensor *tensors = NULL;
	int64_t *shapes = NULL;
	void **bufs = NULL;
	corral_error err = {0};
	corral_status st;
	char msg[512];
	int rc;

	a.outputs = calloc((size_t)argc, sizeof *a.outputs);
	if (!a.outputs) {
		fputs("corral: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	rc = infer_parse_args(ctx, argc, argv, &a);
	if (rc != INFER_GO_ON)
		goto done;
	/* Bad input is reported before any connection is tried. */
	rc = infer_read(&a, &in);
	if (rc != CLI_EXIT_OK)
		goto done;
	rc = cli_connect(ctx, &c);
	if (rc != CLI_EXIT_OK)
		goto done;
	st = corral_get_metadata(c, a.model, a.version, &meta, &err);
	if (st != CORRAL_OK) {
		rc = cli_status_error(st, &err);
		goto done;
	}

	tensors = calloc(in.count, sizeof *tensors);
	shapes = calloc(in.count, 2 * sizeof *shapes);
	bufs = calloc(in.count, sizeof *bufs);
	if (!tensors || !shapes || !bufs) {
		fputs("corral: out of memory\n", stderr);
		rc = CLI_EXIT_FAIL;
		goto done;
	}
	for (size_t i = 0; i < in.count; i++) {
		const cli_table *t = &in.tables[i];
		const struct corral_meta_tensor *target = infer_target(&a, t,
		    meta);
		cli_rc crc;

		if (!target) {
			rc = CLI_EXIT_USAGE;
			goto done;
		}
		tensors[i].name = target->name;
		tensors[i].dtype = target->dtype;
		tensors[i].ndim = 2;
		shapes[2 * i] = (int64_t)t->rows;
		shapes[2 * i + 1] = (int64_t)t->cols;
		tensors[i].shape = &shapes[2 * i];
		crc = cli_encode(t, target->name, target->dtype, &bufs[i],
		    &tensors[i].nbytes, msg, sizeof msg);
		if (crc == CLI_ENOMEM) {
			fprintf(stderr, "corral: %s\n", msg);
			rc = CLI_EXIT_FAIL;
			goto done;
		}
		if (crc != CLI_OK) {
			rc = cli_usage_error("infer", "%s", msg);
			goto done;
		}
		tensors[i].data = bufs[i];
	}

	st = corral_infer(c, a.model, a.version, tensors, in.count,
	    a.n_outputs ? a.outputs : NULL, a.n_outputs, &res, &err);
	if (st != CORRAL_OK) {
		rc = cli_status_error(st, &err);
		goto done;
	}
	rc = infer_print(&a, res);

done:
	/* client.h promises NULL-safety for corral_client_close only. */
	if (res)
		corral_result_free(res);
	for (size_t i = 0; bufs && i < in.count; i++)
		free(bufs[i]);
	free(bufs);
	free(shapes);
	free(tensors);
	if (meta)
		corral_metadata_free(meta);
	corral_client_close(c);
	cli_input_free(&in);
	free(a.outputs);
	return rc;
}
