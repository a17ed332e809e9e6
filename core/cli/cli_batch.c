/*
 * cli_batch.c - `corral batch MODEL FILE -o OUT`: score a file of any size
 * through the served model, a batch of rows per request.
 *
 * The input is read a line at a time (CSV: one row per line, an optional
 * header line; JSON lines: one array of numbers per line), so memory holds
 * one batch whatever the file's size. Each line is parsed by the same
 * parser as `corral infer` (cli_input.h). A row that cannot be parsed, or
 * has the wrong number of values, is left out and reported (its line
 * number and why), never sent. Each output row holds the values of every
 * output for its input row: CSV columns (NAME, or NAME_0, NAME_1... for
 * an output with several values per row, after the header), or a JSON
 * object per line {"line": N, "outputs": {NAME: [values]}}.
 *
 * Progress goes to stderr: a bar redrawn in place on a terminal (rows,
 * rows per second, ETA from the bytes read), else a plain line every
 * 5 seconds. Exit status: 0 when every row was scored, 1 when some were
 * not (the report says which) or the server failed, 2 for bad arguments.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_encode.h"
#include "cli_input.h"

#define BATCH_DEFAULT_ROWS 256
#define BATCH_REPORT_MAX 20 /* rejected rows listed one by one */

typedef struct batch_job {
	const char *model, *in_path, *out_path, *input_name;
	int64_t version;
	size_t batch_rows;
	cli_format fmt;
	bool in_jsonl, out_jsonl;    /* JSON lines (else CSV) */
	FILE *in, *out;
	corral_client *c;
	const struct corral_meta_tensor *target;
	size_t cols;                 /* values per row; 0 until known */
	cli_num *values;             /* batch_rows * cols */
	size_t *line_of;             /* input line of each batched row */
	size_t rows;                 /* rows in the batch */
	bool header_written;
	uint64_t scored, rejected, failed;
	char report[BATCH_REPORT_MAX][200];
	size_t n_report;
	long long t0_ms, last_progress_ms;
	off_t in_size;               /* 0: unknown (a pipe) */
	off_t in_read;
	bool tty;
} batch_job;

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fputs("Usage: corral batch [OPTIONS] MODEL FILE -o OUT\n\n"
	      "Score every row of FILE (CSV, or JSON lines of number arrays) with\n"
	      "MODEL, a batch of rows per request, and write one output row per\n"
	      "input row to OUT (CSV, or JSON lines when OUT ends in .jsonl).\n"
	      "Rows that cannot be read are left out and reported.\n\n"
	      "Options:\n"
	      "  -o, --output-file OUT  where the scores go ('-': standard output)\n"
	      "  --format csv|json      FILE's format (default: .jsonl/.ndjson/.json\n"
	      "                         are JSON lines, anything else CSV)\n"
	      "  --batch-size N         rows per request (default 256)\n"
	      "  --input NAME           the model input the rows go to (default: its\n"
	      "                         only one)\n"
	      "  --version N            the model version (default: the routing's)\n"
	      "  --url URL, --timeout MS  as for 'corral --help'\n"
	      "  -h, --help             show this help\n\n"
	      "Progress goes to stderr. Exit status: 0 every row scored; 1 some rows\n"
	      "left out or the server failed; 2 bad arguments.\n",
	    f);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void reject(batch_job *j, size_t line, const char *why)
{
	j->rejected++;
	if (j->n_report < BATCH_REPORT_MAX)
		snprintf(j->report[j->n_report++], sizeof j->report[0], "line %zu: %.150s", line, why);
}

/* One value of an output tensor as text. */
static int print_value(FILE *f, const corral_tensor *t, size_t i)
{
	const unsigned char *p = t->data;
	switch (t->dtype) {
	case CORRAL_DT_FP32: { float v; memcpy(&v, p + 4 * i, 4); return fprintf(f, "%.9g", v); }
	case CORRAL_DT_FP64: { double v; memcpy(&v, p + 8 * i, 8); return fprintf(f, "%.17g", v); }
	case CORRAL_DT_INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); return fprintf(f, "%" PRId64, v); }
	case CORRAL_DT_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); return fprintf(f, "%" PRId32, v); }
	case CORRAL_DT_UINT64: { uint64_t v; memcpy(&v, p + 8 * i, 8); return fprintf(f, "%" PRIu64, v); }
	case CORRAL_DT_UINT32: { uint32_t v; memcpy(&v, p + 4 * i, 4); return fprintf(f, "%" PRIu32, v); }
	case CORRAL_DT_INT8: return fprintf(f, "%d", (int)((const int8_t *)p)[i]);
	case CORRAL_DT_UINT8: return fprintf(f, "%u", (unsigned)p[i]);
	case CORRAL_DT_BOOL: return fprintf(f, "%d", p[i] != 0);
	default: return -1;
	}
}

/* Values per row of each output, from the first reply. */
static size_t per_row(const corral_tensor *t, size_t rows)
{
	size_t n = 1;
	for (uint32_t d = 0; d < t->ndim; d++)
		n *= (size_t)t->shape[d];
	return rows ? n / rows : 0;
}

/* The CSV header: line, then NAME or NAME_0.. for each output. */
static void write_csv_header(batch_job *j, const corral_result *r)
{
	size_t n = corral_result_output_count(r);
	fputs("line", j->out);
	for (size_t o = 0; o < n; o++) {
		const corral_tensor *t = corral_result_output(r, o);
		size_t k = per_row(t, j->rows);
		for (size_t i = 0; i < k; i++) {
			if (k == 1)
				fprintf(j->out, ",%s", t->name);
			else
				fprintf(j->out, ",%s_%zu", t->name, i);
		}
	}
	fputc('\n', j->out);
}

static int write_rows(batch_job *j, const corral_result *r)
{
	size_t n = corral_result_output_count(r);
	if (!j->out_jsonl && !j->header_written) {
		write_csv_header(j, r);
		j->header_written = true;
	}
	for (size_t row = 0; row < j->rows; row++) {
		if (j->out_jsonl)
			fprintf(j->out, "{\"line\":%zu,\"outputs\":{", j->line_of[row]);
		else
			fprintf(j->out, "%zu", j->line_of[row]);
		for (size_t o = 0; o < n; o++) {
			const corral_tensor *t = corral_result_output(r, o);
			size_t k = per_row(t, j->rows);
			if (j->out_jsonl)
				fprintf(j->out, "%s\"%s\":[", o ? "," : "", t->name);
			for (size_t i = 0; i < k; i++) {
				if (!j->out_jsonl || i > 0)
					fputc(',', j->out);
				if (print_value(j->out, t, row * k + i) < 0)
					return -1;
			}
			if (j->out_jsonl)
				fputc(']', j->out);
		}
		fputs(j->out_jsonl ? "}}\n" : "\n", j->out);
	}
	return 0;
}

/* Send the batch and write its scores; a batch the server refuses is
 * reported (its rows counted as failed) and the run goes on. */
static int flush_batch(batch_job *j)
{
	if (j->rows == 0)
		return CLI_EXIT_OK;
	cli_table t = {.rows = j->rows, .cols = j->cols, .values = j->values};
	void *buf = NULL;
	size_t nbytes = 0;
	char msg[256];
	cli_rc crc = cli_encode(&t, j->target->name, j->target->dtype, &buf, &nbytes, msg,
	    sizeof msg);
	if (crc != CLI_OK) {
		fprintf(stderr, "corral: %s\n", msg);
		return crc == CLI_ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
	}
	int64_t shape[2] = {(int64_t)j->rows, (int64_t)j->cols};
	corral_tensor in = {j->target->name, j->target->dtype, 2, shape, buf, nbytes};
	corral_result *r = NULL;
	corral_error err = {0};
	corral_status st = corral_infer(j->c, j->model, j->version, &in, 1, NULL, 0, &r, &err);
	free(buf);
	int rc = CLI_EXIT_OK;
	if (st != CORRAL_OK) {
		char why[200];
		snprintf(why, sizeof why, "%s: %.150s (the batch of %zu rows from here)",
		    corral_status_name(st), err.message, j->rows);
		reject(j, j->line_of[0], why);
		j->rejected--; /* counted as failed, not rejected */
		j->failed += j->rows;
		if (st >= CORRAL_E_CONNECT)
			rc = CLI_EXIT_FAIL; /* the connection is gone: stop */
	} else if (write_rows(j, r) != 0) {
		fprintf(stderr, "corral: an output's datatype cannot be written as text\n");
		rc = CLI_EXIT_FAIL;
	} else {
		j->scored += j->rows;
	}
	if (r)
		corral_result_free(r);
	j->rows = 0;
	return rc;
}

static void progress(batch_job *j, bool last)
{
	long long now = mono_ms();
	if (!last && now - j->last_progress_ms < (j->tty ? 200 : 5000))
		return;
	j->last_progress_ms = now;
	double secs = (double)(now - j->t0_ms) / 1000.0;
	uint64_t done = j->scored + j->rejected + j->failed;
	double rate = secs > 0 ? (double)done / secs : 0;
	double frac = j->in_size > 0 ? (double)j->in_read / (double)j->in_size : 0;
	if (j->tty) {
		int width = 30, filled = (int)(frac * width);
		char eta[32] = "--:--";
		if (frac > 0 && frac < 1) {
			long left = (long)(secs / frac * (1 - frac));
			snprintf(eta, sizeof eta, "%02ld:%02ld", left / 60, left % 60);
		}
		fprintf(stderr, "\r[%.*s%*s] %3.0f%% %" PRIu64 " rows  %.0f rows/s  ETA %s ",
		    filled, "##############################", width - filled, "", frac * 100,
		    done, rate, last ? "00:00" : eta);
		if (last)
			fputc('\n', stderr);
	} else {
		fprintf(stderr, "corral batch: %" PRIu64 " rows, %.0f rows/s", done, rate);
		if (j->in_size > 0)
			fprintf(stderr, ", %.0f%%", frac * 100);
		fputc('\n', stderr);
	}
}

/* Add one input line to the batch (or report it). */
static int take_line(batch_job *j, char *line, size_t len, size_t lineno)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (len == 0)
		return CLI_EXIT_OK; /* blank lines are not rows */
	cli_input in = {0};
	char msg[256];
	cli_rc crc = cli_input_parse(line, len, j->in_jsonl ? CLI_FORMAT_JSON : CLI_FORMAT_CSV, &in,
	    msg, sizeof msg);
	if (crc == CLI_ENOMEM) {
		fprintf(stderr, "corral: out of memory\n");
		return CLI_EXIT_FAIL;
	}
	if (crc != CLI_OK || in.count != 1 || in.tables[0].rows != 1) {
		/* a first CSV line that is not numbers is a header */
		/* (the parser takes any line of non-numbers for a header) */
		if (!(lineno == 1 && !j->in_jsonl && crc != CLI_OK))
			reject(j, lineno, crc == CLI_OK || strstr(msg, "only a header")
				? "not a row of numbers" : msg);
		cli_input_free(&in);
		return CLI_EXIT_OK;
	}
	const cli_table *t = &in.tables[0];
	if (j->cols == 0)
		j->cols = t->cols;
	if (t->cols != j->cols) {
		char why[128];
		snprintf(why, sizeof why, "%zu values, the model takes %zu", t->cols, j->cols);
		reject(j, lineno, why);
		cli_input_free(&in);
		return CLI_EXIT_OK;
	}
	if (j->values == NULL) {
		j->values = calloc(j->batch_rows * j->cols, sizeof *j->values);
		j->line_of = calloc(j->batch_rows, sizeof *j->line_of);
		if (j->values == NULL || j->line_of == NULL) {
			cli_input_free(&in);
			fprintf(stderr, "corral: out of memory\n");
			return CLI_EXIT_FAIL;
		}
	}
	memcpy(&j->values[j->rows * j->cols], t->values, j->cols * sizeof *t->values);
	j->line_of[j->rows++] = lineno;
	cli_input_free(&in);
	return j->rows == j->batch_rows ? flush_batch(j) : CLI_EXIT_OK;
}

/* What was scored and what was not, and why (the first rows of each). */
static void report(const batch_job *j)
{
	double secs = (double)(mono_ms() - j->t0_ms) / 1000.0;
	fprintf(stderr, "corral batch: %" PRIu64 " rows scored in %.1f s (%.0f rows/s); "
	    "%" PRIu64 " left out (could not be read), %" PRIu64 " failed in the server\n",
	    j->scored, secs, secs > 0 ? (double)j->scored / secs : 0, j->rejected, j->failed);
	for (size_t i = 0; i < j->n_report; i++)
		fprintf(stderr, "  %s\n", j->report[i]);
	if (j->rejected + (j->failed ? 1 : 0) > j->n_report)
		fprintf(stderr, "  (and more)\n");
}

static int run(batch_job *j)
{
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int rc = CLI_EXIT_OK;
	while (rc == CLI_EXIT_OK && (len = getline(&line, &cap, j->in)) >= 0) {
		j->in_read += len;
		rc = take_line(j, line, (size_t)len, ++lineno);
		progress(j, false);
	}
	free(line);
	if (rc == CLI_EXIT_OK && ferror(j->in)) {
		fprintf(stderr, "corral: %s: %s\n", j->in_path, strerror(errno));
		rc = CLI_EXIT_FAIL;
	}
	if (rc == CLI_EXIT_OK)
		rc = flush_batch(j);
	progress(j, true);
	return rc;
}

int cli_batch(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_FORMAT = CLI_OPT_COMMAND, OPT_BATCH, OPT_INPUT, OPT_VERSION };
	static const struct option longopts[] = {
		CLI_SHARED_OPTIONS,
		{"output-file", required_argument, NULL, 'o'},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"batch-size", required_argument, NULL, OPT_BATCH},
		{"input", required_argument, NULL, OPT_INPUT},
		{"version", required_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	batch_job j = {.batch_rows = BATCH_DEFAULT_ROWS};
	bool format_given = false;
	int opt;
	optind = 0;
	while ((opt = cli_getopt(ctx, "batch", argc, argv, ":ho:", longopts)) != -1) {
		char *end;
		switch (opt) {
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case 'o': j.out_path = optarg; break;
		case OPT_FORMAT:
			if (!cli_format_parse(optarg, &j.fmt))
				return cli_usage_error("batch", "--format is csv or json");
			format_given = true;
			break;
		case OPT_BATCH:
			j.batch_rows = (size_t)strtoul(optarg, &end, 10);
			if (*end || j.batch_rows == 0 || j.batch_rows > 1000000)
				return cli_usage_error("batch", "--batch-size is 1 to 1000000");
			break;
		case OPT_INPUT: j.input_name = optarg; break;
		case OPT_VERSION:
			if (cli_parse_version("batch", optarg, &j.version) != CLI_EXIT_OK)
				return CLI_EXIT_USAGE;
			break;
		default: return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("batch", "give MODEL and FILE");
	if (j.out_path == NULL)
		return cli_usage_error("batch", "give -o OUT (or -o - for standard output)");
	j.model = argv[optind];
	j.in_path = argv[optind + 1];
	j.in_jsonl = format_given ? j.fmt == CLI_FORMAT_JSON
	    : ends_with(j.in_path, ".jsonl") || ends_with(j.in_path, ".ndjson") ||
		ends_with(j.in_path, ".json");
	j.out_jsonl = ends_with(j.out_path, ".jsonl") || ends_with(j.out_path, ".ndjson");

	j.in = strcmp(j.in_path, "-") == 0 ? stdin : fopen(j.in_path, "r");
	if (j.in == NULL) {
		fprintf(stderr, "corral: %s: %s\n", j.in_path, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	struct stat st;
	if (fstat(fileno(j.in), &st) == 0 && S_ISREG(st.st_mode))
		j.in_size = st.st_size;
	corral_metadata *meta = NULL;
	corral_error err = {0};
	int rc = cli_connect(ctx, &j.c);
	if (rc == CLI_EXIT_OK) {
		corral_status s = corral_get_metadata(j.c, j.model, j.version, &meta, &err);
		if (s != CORRAL_OK)
			rc = cli_status_error(s, &err);
	}
	for (size_t i = 0; rc == CLI_EXIT_OK && i < meta->n_inputs; i++)
		if (j.input_name ? strcmp(meta->inputs[i].name, j.input_name) == 0
				 : meta->n_inputs == 1)
			j.target = &meta->inputs[i];
	if (rc == CLI_EXIT_OK && j.target == NULL)
		rc = cli_usage_error("batch", "model '%s' has %zu inputs: choose one with --input",
		    j.model, meta->n_inputs);
	if (rc == CLI_EXIT_OK && !cli_encode_supports(j.target->dtype))
		rc = cli_usage_error("batch", "input '%s' is %s: batch sends numbers only",
		    j.target->name, corral_dtype_name(j.target->dtype));
	if (rc == CLI_EXIT_OK) {
		int64_t last = j.target->ndim ? j.target->shape[j.target->ndim - 1] : -1;
		j.cols = last > 0 ? (size_t)last : 0;
		j.out = strcmp(j.out_path, "-") == 0 ? stdout : fopen(j.out_path, "w");
		if (j.out == NULL) {
			fprintf(stderr, "corral: %s: %s\n", j.out_path, strerror(errno));
			rc = CLI_EXIT_USAGE;
		}
	}
	if (rc == CLI_EXIT_OK) {
		j.tty = isatty(STDERR_FILENO);
		j.t0_ms = j.last_progress_ms = mono_ms();
		rc = run(&j);
		report(&j);
		if (rc == CLI_EXIT_OK && j.rejected + j.failed > 0)
			rc = CLI_EXIT_FAIL;
	}
	if (j.out && j.out != stdout && fclose(j.out) != 0 && rc == CLI_EXIT_OK) {
		fprintf(stderr, "corral: %s: %s\n", j.out_path, strerror(errno));
		rc = CLI_EXIT_FAIL;
	}
	if (j.in != stdin)
		fclose(j.in);
	if (meta)
		corral_metadata_free(meta);
	corral_client_close(j.c);
	free(j.values);
	free(j.line_of);
	return rc;
}
