/*
 * cli_baseline.c - `corral baseline VERSION_DIR TRAINING.csv`: the drift
 * baseline of a model version (docs/monitoring.md, core/daemon/drift.h).
 *
 * For each column of the training CSV: bin edges at its quantiles (10
 * bins by default; equal edges merge), and the share of training rows in
 * each bin, with the same rule corrald counts served rows by (a value
 * equal to an edge goes to the bin above it). Written to
 * VERSION_DIR/baseline.json, which corrald reads when it loads the
 * version. Runs offline: no daemon is needed.
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_input.h"

#define BASELINE_MAX_BINS 64

static void usage(FILE *f)
{
	fputs("Usage: corral baseline [--input NAME] [--bins N] VERSION_DIR TRAINING.csv\n\n"
	      "Write VERSION_DIR/baseline.json: for each column of TRAINING.csv (the\n"
	      "model input's features, in order; a first line of names is used for\n"
	      "them), bin edges at its quantiles and the share of rows in each bin.\n"
	      "corrald compares the served inputs with it (drift: PSI per feature).\n\n"
	      "Options:\n"
	      "  --input NAME  the model input the columns are (default: input)\n"
	      "  --bins N      bins per feature, 2 to 64 (default 10)\n"
	      "  -h, --help    show this help\n",
	    f);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double num(const cli_num *n)
{
	return n->kind == CLI_NUM_REAL ? n->v.r : n->kind == CLI_NUM_INT ? (double)n->v.i
									 : (double)n->v.u;
}

/* The names in a CSV header line, or NULL when the first line is data. */
static json_t *header_names(const char *text, size_t cols)
{
	const char *end = strchr(text, '\n');
	size_t len = end ? (size_t)(end - text) : strlen(text);
	char *line = strndup(text, len), *save = NULL;
	json_t *names = json_array();
	bool numeric = true;
	for (char *tok = strtok_r(line, ",\r", &save); tok; tok = strtok_r(NULL, ",\r", &save)) {
		char *e;
		strtod(tok, &e);
		numeric = numeric && e != tok && *e == '\0';
		json_array_append_new(names, json_string(tok));
	}
	free(line);
	if (numeric || json_array_size(names) != cols) {
		json_decref(names);
		return NULL;
	}
	return names;
}

/* One feature's {"name", "edges", "shares"} from its values (sorted here). */
static json_t *feature(const char *name, double *v, size_t n, int bins)
{
	/* NaN is not a value to bin (corrald skips it too) */
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]))
			v[kept++] = v[i];
	n = kept;
	if (n == 0)
		return NULL;
	qsort(v, n, sizeof *v, cmp_double);
	double edges[BASELINE_MAX_BINS];
	size_t ne = 0;
	for (int k = 1; k < bins; k++) {
		double e = v[(size_t)((double)k / bins * (double)n)];
		if (ne == 0 || e > edges[ne - 1])
			edges[ne++] = e;
	}
	size_t counts[BASELINE_MAX_BINS] = {0};
	for (size_t i = 0, b = 0; i < n; i++) {
		while (b < ne && v[i] >= edges[b])
			b++;
		counts[b]++;
	}
	json_t *je = json_array(), *js = json_array();
	for (size_t b = 0; b < ne; b++)
		json_array_append_new(je, json_real(edges[b]));
	for (size_t b = 0; b <= ne; b++)
		json_array_append_new(js, json_real((double)counts[b] / (double)n));
	return json_pack("{s:s, s:o, s:o}", "name", name, "edges", je, "shares", js);
}

int cli_baseline(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_INPUT = CLI_OPT_COMMAND, OPT_BINS };
	static const struct option longopts[] = {
		CLI_SHARED_OPTIONS,
		{"input", required_argument, NULL, OPT_INPUT},
		{"bins", required_argument, NULL, OPT_BINS},
		{NULL, 0, NULL, 0},
	};
	const char *input = "input";
	int bins = 10, opt;
	optind = 0;
	while ((opt = cli_getopt(ctx, "baseline", argc, argv, ":h", longopts)) != -1) {
		char *end;
		switch (opt) {
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case OPT_INPUT: input = optarg; break;
		case OPT_BINS:
			bins = (int)strtol(optarg, &end, 10);
			if (*end || bins < 2 || bins > BASELINE_MAX_BINS)
				return cli_usage_error("baseline", "--bins is 2 to %d", BASELINE_MAX_BINS);
			break;
		default: return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("baseline", "give VERSION_DIR and TRAINING.csv");
	const char *dir = argv[optind], *csv = argv[optind + 1];
	FILE *f = fopen(csv, "r");
	char *text = NULL, msg[512];
	size_t len = 0;
	int e = f ? cli_read_all(f, &text, &len) : errno;
	if (f)
		fclose(f);
	if (e != 0) {
		fprintf(stderr, "corral: %s: %s\n", csv, strerror(e));
		return CLI_EXIT_USAGE;
	}
	cli_input in = {0};
	cli_rc rc = cli_input_parse(text, len, CLI_FORMAT_CSV, &in, msg, sizeof msg);
	if (rc != CLI_OK || in.count != 1) {
		free(text);
		cli_input_free(&in);
		return cli_usage_error("baseline", "%s: %s", csv, rc != CLI_OK ? msg : "one table");
	}
	const cli_table *t = &in.tables[0];
	if (t->cols > 256) { /* corrald's DRIFT_MAX_FEATURES */
		free(text);
		cli_input_free(&in);
		return cli_usage_error("baseline", "%s has %zu columns; a baseline takes at most 256",
		    csv, t->cols);
	}
	json_t *names = header_names(text, t->cols);
	free(text);
	double *col = malloc(t->rows * sizeof *col);
	json_t *features = json_array();
	for (size_t c = 0; col && c < t->cols; c++) {
		for (size_t r = 0; r < t->rows; r++)
			col[r] = num(&t->values[r * t->cols + c]);
		char fallback[32];
		snprintf(fallback, sizeof fallback, "%zu", c);
		const char *name = names ? json_string_value(json_array_get(names, c)) : fallback;
		json_t *jf = feature(name, col, t->rows, bins);
		if (jf == NULL) {
			fprintf(stderr, "corral: %s: column %zu has no number\n", csv, c + 1);
			free(col);
			json_decref(features);
			json_decref(names);
			cli_input_free(&in);
			return CLI_EXIT_USAGE;
		}
		json_array_append_new(features, jf);
	}
	free(col);
	json_t *doc = json_pack("{s:s, s:s, s:I, s:o}", "format", "corral-baseline/1", "input",
	    input, "rows", (json_int_t)t->rows, "features", features);
	size_t rows = t->rows, cols = t->cols;
	cli_input_free(&in);
	json_decref(names);

	/* written whole under a temporary name, then renamed into place */
	char path[4096], tmp[4200];
	snprintf(path, sizeof path, "%s/baseline.json", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int status = doc && json_dump_file(doc, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) == 0 &&
		rename(tmp, path) == 0
	    ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	json_decref(doc);
	if (status != CLI_EXIT_OK) {
		fprintf(stderr, "corral: %s: %s\n", path, strerror(errno));
		remove(tmp);
		return status;
	}
	printf("%s: %zu features, %zu rows, up to %d bins each\n", path, cols, rows, bins);
	return CLI_EXIT_OK;
}
