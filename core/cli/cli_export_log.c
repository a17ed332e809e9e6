/*
 * cli_export_log.c - `corral export-log MODEL`: corrald's prediction log
 * (predlog_schema.h) as CSV, one line per row of each logged request, for
 * retraining.
 *
 * The SQLite file is read directly and read-only, so no daemon is needed,
 * and corrald may go on writing while the export runs: the log is in WAL
 * mode, where a reader sees the rows committed when its query began and
 * never blocks the writer. Requests are streamed in id order, so memory
 * holds one logged request whatever the size of the log.
 *
 * The tensors of each request become columns by one rule (docs/cli.md): a
 * tensor whose first dimension is the request's row count gives each line
 * its row's slice; any other tensor gives every line all of its values.
 * The first exported request fixes the columns. A later one whose columns
 * differ (another version's signature), or whose blobs do not decode, is
 * reported and left out, and the exit status is then 1.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <csv.h>
#include <sqlite3.h>

#include "cli_output.h"
#include "wire.h"

/* corrald's default prediction_log path: <state_dir>/predictions.db, and
 * state_dir defaults to runtime_dir, /run/corral (core/daemon/config.c). */
#define EXPORT_DEFAULT_DB "/run/corral/predictions.db"
/* How long a read waits for corrald's commits and checkpoints (a few ms
 * each) before it gives up with SQLITE_BUSY. */
#define EXPORT_BUSY_TIMEOUT_MS 5000
#define EXPORT_REPORT_MAX 20 /* left-out predictions listed one by one */
/* Before the columns of an output named like an input. */
#define EXPORT_OUT_PREFIX "out_"

/* One tensor of a logged request, and the columns it gives. */
typedef struct export_tensor {
	wire_tensor t;
	const char *prefix;          /* "" or EXPORT_OUT_PREFIX */
	bool sliced;                 /* its row's slice per line, else all */
	size_t per_line;             /* its values (columns) on each line */
	const unsigned char **item;  /* BYTES: each element's length prefix */
} export_tensor;

/* One row of the predictions table, decoded. Every pointer borrows from
 * the statement's current row and from the msgpack_unpacked objects. */
typedef struct export_pred {
	int64_t id, time_ms, version, rows;
	msgpack_unpacked in, out, truth_u;
	export_tensor *tensors;      /* the inputs, then the outputs */
	size_t n_tensors, n_inputs, cap;
	const msgpack_object *truth; /* an array of `rows` values, or NULL */
} export_pred;

typedef struct export_job {
	const char *model, *db_path, *out_path, *out_name;
	int64_t version;             /* 0: every version */
	int64_t after;
	bool labelled;
	sqlite3 *db;
	sqlite3_stmt *st;
	FILE *out;
	char **cols;                 /* the first request's tensor columns */
	size_t n_cols;
	bool have_cols;
	char *name;                  /* a column name being formatted */
	size_t name_cap;
	uint64_t lines, preds, skipped;
} export_job;

static void usage(FILE *f)
{
	fputs("Usage: corral export-log [OPTIONS] MODEL\n\n"
	      "Write MODEL's logged predictions from corrald's prediction log as\n"
	      "CSV, one line per row of each request, in prediction id order:\n"
	      "prediction_id,time,model,version,row, the inputs' values, the\n"
	      "outputs' values, truth (empty until feedback gives it). Reads the\n"
	      "log file directly: no daemon is needed.\n\n"
	      "Options:\n"
	      "  --db PATH              the log (corrald's prediction_log path;\n"
	      "                         default " EXPORT_DEFAULT_DB ")\n"
	      "  --version V            only version V's predictions\n"
	      "  --labelled             only rows that have their ground truth\n"
	      "  --after ID             only predictions with an id above ID\n"
	      "  -o, --output-file OUT  write to OUT (default: standard output)\n"
	      "  -h, --help             show this help\n\n"
	      "A prediction whose columns differ from the first one's, or that\n"
	      "cannot be decoded, is reported and left out. Exit status: 0 all\n"
	      "exported; 1 some left out, or the log could not be read; 2 bad\n"
	      "arguments.\n",
	    f);
}

/* ------------------------------------------------------------ output --- */

/* A CSV field, quoted (RFC 4180) only when it holds a separator, a quote
 * or a line break; other bytes are written as they are. */
static void put_field(FILE *f, const void *s, size_t n)
{
	const char *p = s;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n') {
			csv_fwrite(f, p, n);
			return;
		}
	}
	fwrite(p, 1, n, f);
}

/* time_ms as ISO 8601 UTC with milliseconds: 2026-11-26T21:50:01.123Z;
 * empty for a time_ms no calendar holds. */
static void format_time(char *buf, size_t n, int64_t ms)
{
	int64_t frac = ms % 1000;
	time_t secs = (time_t)(ms / 1000 - (frac < 0));
	struct tm tm;
	char date[64];

	if (frac < 0)
		frac += 1000;
	if (gmtime_r(&secs, &tm) != NULL &&
	    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) != 0)
		snprintf(buf, n, "%s.%03dZ", date, (int)frac);
	else
		buf[0] = '\0';
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Element i of x. The raw data is little-endian, as is every host corral
 * runs on (core/wire/tensor.c checks), so memcpy reads it. */
static void put_value(FILE *f, const export_tensor *x, size_t i)
{
	const unsigned char *p = x->t.raw;

	switch (x->t.dtype) {
	case CORRAL_DT_BOOL: fputc(p[i] ? '1' : '0', f); return;
	case CORRAL_DT_UINT8: fprintf(f, "%u", (unsigned)p[i]); return;
	case CORRAL_DT_INT8: fprintf(f, "%d", (int)(int8_t)p[i]); return;
	case CORRAL_DT_BYTES:
		put_field(f, x->item[i] + 4, le32(x->item[i]));
		return;
	default:
		break;
	}
	p += i * corral_dtype_size(x->t.dtype);
	switch (x->t.dtype) {
	case CORRAL_DT_UINT16: { uint16_t v; memcpy(&v, p, 2); fprintf(f, "%u", (unsigned)v); break; }
	case CORRAL_DT_INT16: { int16_t v; memcpy(&v, p, 2); fprintf(f, "%d", (int)v); break; }
	case CORRAL_DT_UINT32: { uint32_t v; memcpy(&v, p, 4); fprintf(f, "%" PRIu32, v); break; }
	case CORRAL_DT_INT32: { int32_t v; memcpy(&v, p, 4); fprintf(f, "%" PRId32, v); break; }
	case CORRAL_DT_UINT64: { uint64_t v; memcpy(&v, p, 8); fprintf(f, "%" PRIu64, v); break; }
	case CORRAL_DT_INT64: { int64_t v; memcpy(&v, p, 8); fprintf(f, "%" PRId64, v); break; }
	case CORRAL_DT_FP16:
	case CORRAL_DT_BF16: {
		uint16_t v;
		memcpy(&v, p, 2);
		fprintf(f, "%.9g", (double)cli_half_to_float(x->t.dtype, v));
		break;
	}
	case CORRAL_DT_FP32: { float v; memcpy(&v, p, 4); fprintf(f, "%.9g", (double)v); break; }
	case CORRAL_DT_FP64: { double v; memcpy(&v, p, 8); fprintf(f, "%.17g", v); break; }
	default: break; /* wire_tensor_decode let no other datatype through */
	}
}

/* Row r's truth: integers exactly, floats with the digits that read them
 * back; nothing for a row without one. */
static void put_truth(FILE *f, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(f, "%" PRIu64, o->via.u64); break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(f, "%" PRId64, o->via.i64); break;
	case MSGPACK_OBJECT_FLOAT32: fprintf(f, "%.9g", o->via.f64); break;
	case MSGPACK_OBJECT_FLOAT64: fprintf(f, "%.17g", o->via.f64); break;
	default: break; /* nil: no truth for this row */
	}
}

/* Column i of x's columns: NAME for a tensor of one value per line, else
 * NAME_0, NAME_1, ...; after x's prefix. NULL when out of memory. */
static const char *column_name(export_job *j, const export_tensor *x, size_t i)
{
	for (;;) {
		int n = x->per_line == 1 ?
		    snprintf(j->name, j->name_cap, "%s%.*s", x->prefix,
			(int)x->t.name.len, x->t.name.ptr) :
		    snprintf(j->name, j->name_cap, "%s%.*s_%zu", x->prefix,
			(int)x->t.name.len, x->t.name.ptr, i);
		char *grown;

		if (n < 0)
			return NULL;
		if ((size_t)n < j->name_cap)
			return j->name;
		grown = realloc(j->name, (size_t)n + 1);
		if (grown == NULL)
			return NULL;
		j->name = grown;
		j->name_cap = (size_t)n + 1;
	}
}

static void write_header(export_job *j)
{
	fputs("prediction_id,time,model,version,row", j->out);
	for (size_t c = 0; c < j->n_cols; c++) {
		fputc(',', j->out);
		put_field(j->out, j->cols[c], strlen(j->cols[c]));
	}
	fputs(",truth\n", j->out);
}

/* The line of row r of p, logged at `when`. */
static void write_line(export_job *j, const export_pred *p, const char *when,
    int64_t r)
{
	fprintf(j->out, "%" PRId64 ",%s,", p->id, when);
	put_field(j->out, j->model, strlen(j->model));
	fprintf(j->out, ",%" PRId64 ",%" PRId64, p->version, r);
	for (size_t k = 0; k < p->n_tensors; k++) {
		const export_tensor *x = &p->tensors[k];
		size_t first = x->sliced ? (size_t)r * x->per_line : 0;

		for (size_t i = 0; i < x->per_line; i++) {
			fputc(',', j->out);
			put_value(j->out, x, first + i);
		}
	}
	fputc(',', j->out);
	if (p->truth)
		put_truth(j->out, &p->truth->via.array.ptr[r]);
	fputc('\n', j->out);
}

/* ------------------------------------------------------------ decode --- */

static void pred_reset(export_pred *p)
{
	for (size_t k = 0; k < p->n_tensors; k++)
		free(p->tensors[k].item);
	p->n_tensors = p->n_inputs = 0;
	p->truth = NULL;
	msgpack_unpacked_destroy(&p->in);
	msgpack_unpacked_destroy(&p->out);
	msgpack_unpacked_destroy(&p->truth_u);
}

/* Unpack one blob of the row into u, checked first by wire_scan: the log
 * is a file anyone may have written to. */
static bool unpack_blob(msgpack_unpacked *u, const void *blob, int len,
    const char *what, char *why, size_t n)
{
	char err[160];
	size_t off = 0;

	if (blob == NULL || len <= 0) {
		snprintf(why, n, "%s: empty", what);
		return false;
	}
	if (wire_scan(blob, (size_t)len, WIRE_MAX_OBJECTS, err, sizeof err) != CORRAL_OK) {
		snprintf(why, n, "%s: %s", what, err);
		return false;
	}
	if (msgpack_unpack_next(u, blob, (size_t)len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != (size_t)len) {
		snprintf(why, n, "%s: not a MessagePack value (%d bytes)", what, len);
		return false;
	}
	return true;
}

/* The tensors of an `inputs` or `outputs` blob, appended to p->tensors. */
static bool decode_tensors(export_pred *p, msgpack_unpacked *u,
    const void *blob, int len, const char *what, char *why, size_t n)
{
	const msgpack_object *a;
	char err[160];

	if (!unpack_blob(u, blob, len, what, why, n))
		return false;
	a = &u->data;
	if (a->type != MSGPACK_OBJECT_ARRAY) {
		snprintf(why, n, "%s: not an array of tensors", what);
		return false;
	}
	for (uint32_t i = 0; i < a->via.array.size; i++) {
		export_tensor *x;

		if (p->n_tensors == p->cap) {
			size_t cap = p->cap ? 2 * p->cap : 8;
			export_tensor *grown = realloc(p->tensors, cap * sizeof *grown);

			if (grown == NULL) {
				snprintf(why, n, "out of memory");
				return false;
			}
			p->tensors = grown;
			p->cap = cap;
		}
		x = &p->tensors[p->n_tensors];
		memset(x, 0, sizeof *x);
		if (wire_tensor_decode(&a->via.array.ptr[i], &x->t, err, sizeof err) != CORRAL_OK) {
			snprintf(why, n, "%s: %s", what, err);
			return false;
		}
		/* The log holds canonical maps (data: bin), which is what
		 * the values are read from. */
		if (x->t.array != NULL || x->t.name.len > INT_MAX) {
			snprintf(why, n, "%s: tensor %u is not a canonical tensor map", what, i);
			return false;
		}
		p->n_tensors++;
		if (x->t.dtype == CORRAL_DT_BYTES && x->t.elements > 0) {
			const unsigned char *q = x->t.raw;

			/* Element i is found by walking the ones before it:
			 * index them once (wire_tensor_decode checked the
			 * layout). */
			x->item = malloc((size_t)x->t.elements * sizeof *x->item);
			if (x->item == NULL) {
				snprintf(why, n, "out of memory");
				return false;
			}
			for (int64_t e = 0; e < x->t.elements; e++) {
				x->item[e] = q;
				q += 4 + (size_t)le32(q);
			}
		}
	}
	return true;
}

static bool decode_truth(export_pred *p, const void *blob, int len, char *why,
    size_t n)
{
	const msgpack_object *a;

	if (!unpack_blob(&p->truth_u, blob, len, "truth", why, n))
		return false;
	a = &p->truth_u.data;
	if (a->type != MSGPACK_OBJECT_ARRAY || (int64_t)a->via.array.size != p->rows) {
		snprintf(why, n, "truth: not an array of one number per row (%"
		    PRId64 " rows)", p->rows);
		return false;
	}
	for (uint32_t i = 0; i < a->via.array.size; i++) {
		switch (a->via.array.ptr[i].type) {
		case MSGPACK_OBJECT_POSITIVE_INTEGER:
		case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		case MSGPACK_OBJECT_FLOAT32:
		case MSGPACK_OBJECT_FLOAT64:
		case MSGPACK_OBJECT_NIL:
			break;
		default:
			snprintf(why, n, "truth: value %u is not a number", i);
			return false;
		}
	}
	p->truth = a;
	return true;
}

/* Which tensors give a slice per line, how many values, under what
 * names. Refuses a row count that would make lines out of nothing. */
static bool lay_out(export_pred *p, char *why, size_t n)
{
	bool rows_seen = p->rows == 1;

	for (size_t k = 0; k < p->n_tensors; k++) {
		export_tensor *x = &p->tensors[k];

		x->prefix = "";
		for (size_t i = 0; k >= p->n_inputs && i < p->n_inputs; i++)
			if (x->t.name.len == p->tensors[i].t.name.len &&
			    memcmp(x->t.name.ptr, p->tensors[i].t.name.ptr,
				x->t.name.len) == 0)
				x->prefix = EXPORT_OUT_PREFIX;
		x->sliced = x->t.ndim >= 1 && x->t.shape[0] == p->rows;
		x->per_line = (size_t)(x->sliced ? x->t.elements / p->rows :
		    x->t.elements);
		rows_seen = rows_seen || x->sliced;
	}
	if (!rows_seen) {
		snprintf(why, n, "rows is %" PRId64 ", the first dimension of none of "
		    "its tensors", p->rows);
		return false;
	}
	return true;
}

/* The statement's current row into p; false (with why) when it does not
 * decode. */
static bool pred_read(sqlite3_stmt *st, export_pred *p, char *why, size_t n)
{
	/* Each blob before its size: sqlite3_column_bytes() after it is the
	 * order SQLite documents. */
	const void *in = sqlite3_column_blob(st, 4);
	int in_len = sqlite3_column_bytes(st, 4);
	const void *out = sqlite3_column_blob(st, 5);
	int out_len = sqlite3_column_bytes(st, 5);
	const void *truth = sqlite3_column_blob(st, 6);
	int truth_len = sqlite3_column_bytes(st, 6);

	p->id = sqlite3_column_int64(st, 0);
	p->time_ms = sqlite3_column_int64(st, 1);
	p->version = sqlite3_column_int64(st, 2);
	p->rows = sqlite3_column_int64(st, 3);
	if (p->rows < 0 || p->rows > UINT32_MAX) {
		snprintf(why, n, "rows is %" PRId64, p->rows);
		return false;
	}
	if (!decode_tensors(p, &p->in, in, in_len, "inputs", why, n))
		return false;
	p->n_inputs = p->n_tensors;
	if (!decode_tensors(p, &p->out, out, out_len, "outputs", why, n))
		return false;
	if (sqlite3_column_type(st, 6) != SQLITE_NULL &&
	    !decode_truth(p, truth, truth_len, why, n))
		return false;
	return p->rows == 0 || lay_out(p, why, n);
}

/* ----------------------------------------------------------- columns --- */

/* Keep p's columns as the export's (the header). */
static bool columns_take(export_job *j, const export_pred *p)
{
	size_t n = 0;

	for (size_t k = 0; k < p->n_tensors; k++)
		n += p->tensors[k].per_line;
	j->cols = calloc(n ? n : 1, sizeof *j->cols);
	if (j->cols == NULL)
		return false;
	for (size_t k = 0; k < p->n_tensors; k++) {
		for (size_t i = 0; i < p->tensors[k].per_line; i++) {
			const char *name = column_name(j, &p->tensors[k], i);

			if (name == NULL || (j->cols[j->n_cols] = strdup(name)) == NULL)
				return false;
			j->n_cols++;
		}
	}
	j->have_cols = true;
	return true;
}

/* Are p's columns the export's? If not, why into why. -1: out of memory. */
static int columns_match(export_job *j, const export_pred *p, char *why, size_t n)
{
	size_t c = 0;

	for (size_t k = 0; k < p->n_tensors; k++) {
		for (size_t i = 0; i < p->tensors[k].per_line; i++, c++) {
			const char *name = column_name(j, &p->tensors[k], i);

			if (name == NULL)
				return -1;
			if (c < j->n_cols && strcmp(name, j->cols[c]) == 0)
				continue;
			if (c < j->n_cols)
				snprintf(why, n, "column '%.64s' where the first row's has '%.64s'",
				    name, j->cols[c]);
			else
				snprintf(why, n, "column '%.64s' after the first row's last", name);
			return 0;
		}
	}
	if (c < j->n_cols) {
		snprintf(why, n, "no column '%.64s'", j->cols[c]);
		return 0;
	}
	return 1;
}

/* ---------------------------------------------------------------- run --- */

static void skip(export_job *j, const export_pred *p, const char *why)
{
	if (++j->skipped <= EXPORT_REPORT_MAX)
		fprintf(stderr, "corral: prediction %" PRId64 " (version %" PRId64
		    ") left out: %s\n", p->id, p->version, why);
}

/* Write p's lines, or leave it out. CLI_EXIT_FAIL only when the export
 * cannot go on. */
static int export_pred_lines(export_job *j, export_pred *p)
{
	char why[400], diff[200], when[96];
	int m;

	if (!pred_read(j->st, p, why, sizeof why)) {
		skip(j, p, why);
		return CLI_EXIT_OK;
	}
	if (p->rows == 0) {
		j->preds++; /* a request of no rows: no lines */
		return CLI_EXIT_OK;
	}
	if (!j->have_cols) {
		if (!columns_take(j, p))
			goto oom;
		write_header(j);
	}
	m = columns_match(j, p, diff, sizeof diff);
	if (m < 0)
		goto oom;
	if (m == 0) {
		snprintf(why, sizeof why, "its columns differ from the first row's "
		    "(%s); export one version with --version", diff);
		skip(j, p, why);
		return CLI_EXIT_OK;
	}
	format_time(when, sizeof when, p->time_ms);
	for (int64_t r = 0; r < p->rows; r++) {
		if (j->labelled && p->truth &&
		    p->truth->via.array.ptr[r].type == MSGPACK_OBJECT_NIL)
			continue;
		write_line(j, p, when, r);
		j->lines++;
	}
	j->preds++;
	return CLI_EXIT_OK;
oom:
	fprintf(stderr, "corral: out of memory\n");
	return CLI_EXIT_FAIL;
}

static int log_error(const export_job *j, const char *what)
{
	int code = sqlite3_errcode(j->db) & 0xff;

	fprintf(stderr, "corral: %s: %s: %s%s\n", j->db_path, what,
	    sqlite3_errmsg(j->db), code == SQLITE_READONLY || code == SQLITE_CANTOPEN ?
	    " (a log in WAL mode is read through its -wal and -shm files, which "
	    "corrald keeps while it runs; when it is stopped, the reader must be "
	    "allowed to create them in the log's folder)" : "");
	return CLI_EXIT_FAIL;
}

/* Open the log read-only and check that it is one. */
static int open_log(export_job *j)
{
	struct stat sb;
	sqlite3_stmt *st = NULL;
	int rc;

	/* SQLite's "unable to open database file" would not say which file,
	 * nor that this is a path of corrald's. */
	if (stat(j->db_path, &sb) != 0) {
		fprintf(stderr, "corral: %s: %s (the prediction log: give corrald's "
		    "prediction_log path with --db)\n", j->db_path, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (sqlite3_open_v2(j->db_path, &j->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return log_error(j, "cannot open");
	sqlite3_busy_timeout(j->db, EXPORT_BUSY_TIMEOUT_MS);
	rc = sqlite3_prepare_v2(j->db, "SELECT 1 FROM sqlite_master WHERE type = 'table'"
	    " AND name = 'predictions'", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE) {
		fprintf(stderr, "corral: %s: not a prediction log (it has no "
		    "predictions table)\n", j->db_path);
		return CLI_EXIT_FAIL;
	}
	if (rc != SQLITE_ROW)
		return log_error(j, "cannot read it as a prediction log");
	return CLI_EXIT_OK;
}

static int query(export_job *j)
{
	char sql[256];

	snprintf(sql, sizeof sql, "SELECT id, time_ms, version, rows, inputs, "
	    "outputs, truth FROM predictions WHERE model = ?1 AND id > ?2%s%s "
	    "ORDER BY id", j->version ? " AND version = ?3" : "",
	    j->labelled ? " AND truth IS NOT NULL" : "");
	if (sqlite3_prepare_v2(j->db, sql, -1, &j->st, NULL) != SQLITE_OK)
		return log_error(j, "not a prediction log of this corral");
	sqlite3_bind_text(j->st, 1, j->model, -1, SQLITE_STATIC);
	sqlite3_bind_int64(j->st, 2, j->after);
	if (j->version)
		sqlite3_bind_int64(j->st, 3, j->version);
	return CLI_EXIT_OK;
}

static int run(export_job *j)
{
	export_pred p = {0};
	int rc = CLI_EXIT_OK, step;

	msgpack_unpacked_init(&p.in);
	msgpack_unpacked_init(&p.out);
	msgpack_unpacked_init(&p.truth_u);
	while (rc == CLI_EXIT_OK && (step = sqlite3_step(j->st)) == SQLITE_ROW) {
		pred_reset(&p);
		rc = export_pred_lines(j, &p);
		if (rc == CLI_EXIT_OK && ferror(j->out)) {
			fprintf(stderr, "corral: %s: cannot write\n", j->out_name);
			rc = CLI_EXIT_FAIL;
		}
	}
	if (rc == CLI_EXIT_OK && step != SQLITE_DONE)
		rc = log_error(j, "cannot read");
	pred_reset(&p);
	free(p.tensors);
	return rc;
}

int cli_export_log(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_DB = CLI_OPT_COMMAND, OPT_VERSION, OPT_LABELLED, OPT_AFTER };
	static const struct option longopts[] = {
		CLI_SHARED_OPTIONS,
		{"db", required_argument, NULL, OPT_DB},
		{"version", required_argument, NULL, OPT_VERSION},
		{"labelled", no_argument, NULL, OPT_LABELLED},
		{"after", required_argument, NULL, OPT_AFTER},
		{"output-file", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	export_job j = {.db_path = EXPORT_DEFAULT_DB};
	long long num;
	int opt, rc;

	optind = 0;
	while ((opt = cli_getopt(ctx, "export-log", argc, argv, ":ho:", longopts)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'o':
			j.out_path = optarg;
			break;
		case OPT_DB:
			j.db_path = optarg;
			break;
		case OPT_VERSION:
			if (cli_parse_decimal(optarg, 1, INT64_MAX, &num) != 0)
				return cli_usage_error("export-log", "--version takes a "
				    "model version (a number from 1), not '%s'", optarg);
			j.version = num;
			break;
		case OPT_LABELLED:
			j.labelled = true;
			break;
		case OPT_AFTER:
			if (cli_parse_decimal(optarg, 0, INT64_MAX, &num) != 0)
				return cli_usage_error("export-log", "--after takes a "
				    "prediction id (a number from 0), not '%s'", optarg);
			j.after = num;
			break;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("export-log", argc - optind ? "give one MODEL"
		    : "give the MODEL whose predictions to export");
	j.model = argv[optind];
	if (j.db_path[0] == '\0')
		return cli_usage_error("export-log", "--db is empty");

	rc = open_log(&j);
	if (rc == CLI_EXIT_OK)
		rc = query(&j);
	/* OUT is created only once the log is known good, so a mistyped --db
	 * does not empty the file of a previous export. */
	if (rc == CLI_EXIT_OK) {
		bool to_stdout = j.out_path == NULL || strcmp(j.out_path, "-") == 0;

		j.out_name = to_stdout ? "standard output" : j.out_path;
		j.out = to_stdout ? stdout : fopen(j.out_path, "w");
		if (j.out == NULL) {
			fprintf(stderr, "corral: %s: %s\n", j.out_path, strerror(errno));
			rc = CLI_EXIT_USAGE;
		}
	}
	if (rc == CLI_EXIT_OK)
		rc = run(&j);
	if (j.out && j.out != stdout && fclose(j.out) != 0 && rc == CLI_EXIT_OK) {
		fprintf(stderr, "corral: %s: %s\n", j.out_path, strerror(errno));
		rc = CLI_EXIT_FAIL;
	}
	if (rc == CLI_EXIT_OK) {
		fprintf(stderr, "corral export-log: exported %" PRIu64 " row%s of %"
		    PRIu64 " prediction%s to %s", j.lines, j.lines == 1 ? "" : "s",
		    j.preds, j.preds == 1 ? "" : "s", j.out_name);
		if (j.skipped > EXPORT_REPORT_MAX)
			fprintf(stderr, "; %" PRIu64 " predictions left out (the "
			    "first %d listed above)", j.skipped, EXPORT_REPORT_MAX);
		else if (j.skipped)
			fprintf(stderr, "; %" PRIu64 " prediction%s left out (listed "
			    "above)", j.skipped, j.skipped == 1 ? "" : "s");
		fputc('\n', stderr);
		if (j.skipped)
			rc = CLI_EXIT_FAIL;
	}
	sqlite3_finalize(j.st);
	sqlite3_close(j.db);
	for (size_t c = 0; c < j.n_cols; c++)
		free(j.cols[c]);
	free(j.cols);
	free(j.name);
	return rc;
}
