/*
 * cli_input.c - rows of numbers from JSON (jansson) or CSV (libcsv).
 */
#include "cli_input.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Longest piece of an offending CSV field quoted back in an error. */
#define INPUT_QUOTE_MAX 40

static cli_rc input_fail(char *err, size_t errlen, cli_rc rc,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static cli_rc input_fail(char *err, size_t errlen, cli_rc rc,
    const char *fmt, ...)
{
	if (errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

bool cli_format_parse(const char *s, cli_format *out)
{
	if (strcmp(s, "json") == 0)
		*out = CLI_FORMAT_JSON;
	else if (strcmp(s, "csv") == 0)
		*out = CLI_FORMAT_CSV;
	else
		return false;
	return true;
}

/* ------------------------------------------------------------ tables --- */

/* A table being filled row by row. Complete rows all have `cols` values,
 * so the current row starts at rows * cols. */
typedef struct input_builder {
	cli_num *values;
	size_t n, cap;
	size_t rows, cols;
} input_builder;

static cli_rc builder_push(input_builder *b, cli_num v)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		cli_num *p;
		if (cap > SIZE_MAX / sizeof *p)
			return CLI_ENOMEM;
		p = realloc(b->values, cap * sizeof *p);
		if (!p)
			return CLI_ENOMEM;
		b->values = p;
		b->cap = cap;
	}
	b->values[b->n++] = v;
	return CLI_OK;
}

static size_t builder_row_len(const input_builder *b)
{
	return b->n - b->rows * b->cols;
}

/* Close the current row; false if its length differs from the first's. */
static bool builder_end_row(input_builder *b)
{
	size_t len = builder_row_len(b);
	if (b->rows == 0)
		b->cols = len;
	else if (len != b->cols)
		return false;
	b->rows++;
	return true;
}

static void builder_drop_row(input_builder *b)
{
	b->n = b->rows * b->cols;
}

/* Move the rows into `t` (name stays as it is). */
static void builder_finish(input_builder *b, cli_table *t)
{
	t->values = b->values;
	t->rows = b->rows;
	t->cols = b->cols;
	b->values = NULL;
	b->n = b->cap = b->rows = b->cols = 0;
}

void cli_input_free(cli_input *in)
{
	for (size_t i = 0; i < in->count; i++) {
		free(in->tables[i].name);
		free(in->tables[i].values);
	}
	free(in->tables);
	in->tables = NULL;
	in->count = 0;
}

/* -------------------------------------------------------------- JSON --- */

static const char *json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "something else";
}

static cli_num json_num(const json_t *j)
{
	cli_num n;
	if (json_is_integer(j)) {
		n.kind = CLI_NUM_INT;
		n.v.i = json_integer_value(j);
	} else {
		n.kind = CLI_NUM_REAL;
		n.v.r = json_real_value(j);
	}
	return n;
}

/*
 * One input: an array of rows (arrays of numbers) or a flat array of
 * numbers (one row). `where` prefixes messages ("" or "input 'x': ").
 */
static cli_rc json_rows(const json_t *j, const char *where, cli_table *t,
    char *err, size_t errlen)
{
	input_builder b = {0};
	cli_rc rc = CLI_OK;
	size_t nrows = json_is_array(j) ? json_array_size(j) : 0;
	const json_t *first;
	bool flat;

	if (!json_is_array(j))
		return input_fail(err, errlen, CLI_EINVAL,
		    "%sexpected an array of rows, got %s", where, json_kind(j));
	if (nrows == 0)
		return input_fail(err, errlen, CLI_EINVAL,
		    "%sno rows (the array is empty)", where);
	first = json_array_get(j, 0);
	flat = json_is_number(first);
	if (!flat && !json_is_array(first))
		return input_fail(err, errlen, CLI_EINVAL,
		    "%sexpected rows (arrays of numbers) or numbers, got %s",
		    where, json_kind(first));

	if (flat) {
		/* A single row: [1, 2, 3]. */
		for (size_t c = 0; c < nrows && rc == CLI_OK; c++) {
			const json_t *v = json_array_get(j, c);
			if (!json_is_number(v))
				rc = input_fail(err, errlen, CLI_EINVAL,
				    "%scolumn %zu: expected a number, got %s",
				    where, c + 1, json_kind(v));
			else if (builder_push(&b, json_num(v)) != CLI_OK)
				rc = input_fail(err, errlen, CLI_ENOMEM,
				    "out of memory");
		}
		if (rc == CLI_OK)
			builder_end_row(&b);
	}
	for (size_t r = 0; !flat && r < nrows && rc == CLI_OK; r++) {
		const json_t *row = json_array_get(j, r);
		size_t ncols = json_array_size(row);
		if (!json_is_array(row)) {
			rc = input_fail(err, errlen, CLI_EINVAL,
			    "%srow %zu: expected an array of numbers, got %s",
			    where, r + 1, json_kind(row));
			break;
		}
		if (ncols == 0) {
			rc = input_fail(err, errlen, CLI_EINVAL,
			    "%srow %zu is empty", where, r + 1);
			break;
		}
		for (size_t c = 0; c < ncols && rc == CLI_OK; c++) {
			const json_t *v = json_array_get(row, c);
			if (!json_is_number(v))
				rc = input_fail(err, errlen, CLI_EINVAL,
				    "%srow %zu, column %zu: expected a number, "
				    "got %s", where, r + 1, c + 1, json_kind(v));
			else if (builder_push(&b, json_num(v)) != CLI_OK)
				rc = input_fail(err, errlen, CLI_ENOMEM,
				    "out of memory");
		}
		if (rc == CLI_OK && !builder_end_row(&b))
			rc = input_fail(err, errlen, CLI_EINVAL,
			    "%srow %zu has %zu value%s but row 1 has %zu "
			    "(rows must all have the same length)",
			    where, r + 1, ncols, ncols == 1 ? "" : "s",
			    b.cols);
	}
	if (rc == CLI_OK)
		builder_finish(&b, t);
	free(b.values);
	return rc;
}

/* {"inputs": {"NAME": rows, ...}} */
static cli_rc json_named(json_t *doc, cli_input *in, char *err,
    size_t errlen)
{
	const char *key;
	json_t *v, *inputs = json_object_get(doc, "inputs");
	size_t n;

	json_object_foreach(doc, key, v) {
		if (strcmp(key, "inputs") != 0)
			return input_fail(err, errlen, CLI_EINVAL,
			    "unexpected key \"%s\" in the top-level object "
			    "(expected only \"inputs\")", key);
	}
	if (!inputs)
		return input_fail(err, errlen, CLI_EINVAL,
		    "expected {\"inputs\": {\"NAME\": rows, ...}}");
	if (!json_is_object(inputs))
		return input_fail(err, errlen, CLI_EINVAL,
		    "\"inputs\" must be an object of NAME: rows, got %s",
		    json_kind(inputs));
	n = json_object_size(inputs);
	if (n == 0)
		return input_fail(err, errlen, CLI_EINVAL,
		    "\"inputs\" names no input");

	in->tables = calloc(n, sizeof *in->tables);
	if (!in->tables)
		return input_fail(err, errlen, CLI_ENOMEM, "out of memory");
	json_object_foreach(inputs, key, v) {
		cli_table *t = &in->tables[in->count];
		char *where;
		cli_rc rc;

		if (key[0] == '\0')
			return input_fail(err, errlen, CLI_EINVAL,
			    "\"inputs\" has an input with an empty name");
		t->name = strdup(key);
		if (!t->name)
			return input_fail(err, errlen, CLI_ENOMEM,
			    "out of memory");
		in->count++;
		if (asprintf(&where, "input '%s': ", key) < 0)
			return input_fail(err, errlen, CLI_ENOMEM,
			    "out of memory");
		rc = json_rows(v, where, t, err, errlen);
		free(where);
		if (rc != CLI_OK)
			return rc;
	}
	return CLI_OK;
}

static cli_rc json_parse(const char *text, size_t len, cli_input *in,
    char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	cli_rc rc;

	if (!doc)
		return input_fail(err, errlen, CLI_EINVAL,
		    "JSON: line %d, column %d: %s", je.line, je.column,
		    je.text);
	if (json_is_array(doc)) {
		in->tables = calloc(1, sizeof *in->tables);
		if (!in->tables) {
			rc = input_fail(err, errlen, CLI_ENOMEM,
			    "out of memory");
		} else {
			in->count = 1;
			rc = json_rows(doc, "", &in->tables[0], err, errlen);
		}
	} else if (json_is_object(doc)) {
		rc = json_named(doc, in, err, errlen);
	} else {
		rc = input_fail(err, errlen, CLI_EINVAL,
		    "JSON: expected an array of rows or an object, got %s",
		    json_kind(doc));
	}
	json_decref(doc);
	return rc;
}

/* --------------------------------------------------------------- CSV --- */

typedef enum num_parse {
	NUM_OK,
	NUM_NOT_A_NUMBER,
	NUM_OUT_OF_RANGE,
} num_parse;

static bool is_integer_syntax(const char *s, size_t len)
{
	size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
	if (i == len)
		return false;
	for (; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* The `len` bytes at `s`, followed by a NUL (libcsv's CSV_APPEND_NULL). */
static num_parse parse_number(const char *s, size_t len, cli_num *out)
{
	char *end;

	if (len == 0 || isspace((unsigned char)s[0]))
		return NUM_NOT_A_NUMBER;
	if (is_integer_syntax(s, len)) {
		errno = 0;
		out->v.i = strtoll(s, &end, 10);
		if (errno == 0 && end == s + len) {
			out->kind = CLI_NUM_INT;
			return NUM_OK;
		}
		if (s[0] != '-') {
			errno = 0;
			out->v.u = strtoull(s, &end, 10);
			if (errno == 0 && end == s + len) {
				out->kind = CLI_NUM_UINT;
				return NUM_OK;
			}
		}
		/* Too big for 64 bits: take it as a real. */
	}
	errno = 0;
	out->v.r = strtod(s, &end);
	if (end != s + len)
		return NUM_NOT_A_NUMBER;
	if (errno == ERANGE && isinf(out->v.r))
		return NUM_OUT_OF_RANGE;
	out->kind = CLI_NUM_REAL;
	return NUM_OK;
}

typedef struct csv_state {
	input_builder b;
	size_t record;    /* 1-based number of the current CSV record */
	size_t field;     /* fields seen so far in it */
	size_t first_row; /* record number of the first data row, 0: none */
	bool header;      /* the current record is the header */
	cli_rc rc;
	char *err;
	size_t errlen;
} csv_state;

static void csv_on_field(void *s, size_t len, void *data)
{
	csv_state *st = data;
	const char *text = s ? s : "";
	cli_num v = {0};
	num_parse np;

	if (st->rc != CLI_OK || st->header)
		return;
	st->field++;
	np = parse_number(text, s ? len : 0, &v);
	if (np != NUM_OK && st->record == 1) {
		/* A first line that is not all numbers is a header. */
		st->header = true;
		builder_drop_row(&st->b);
		return;
	}
	if (np == NUM_OK) {
		if (builder_push(&st->b, v) != CLI_OK)
			st->rc = input_fail(st->err, st->errlen, CLI_ENOMEM,
			    "out of memory");
		return;
	}
	if (len == 0)
		st->rc = input_fail(st->err, st->errlen, CLI_EINVAL,
		    "CSV row %zu, column %zu: empty value", st->record,
		    st->field);
	else
		st->rc = input_fail(st->err, st->errlen, CLI_EINVAL,
		    "CSV row %zu, column %zu: '%.*s%s' is not a number%s",
		    st->record, st->field,
		    (int)(len > INPUT_QUOTE_MAX ? INPUT_QUOTE_MAX : len), text,
		    len > INPUT_QUOTE_MAX ? "..." : "",
		    np == NUM_OUT_OF_RANGE ? " in the range of a double" : "");
}

static void csv_on_row(int c, void *data)
{
	csv_state *st = data;
	(void)c;

	if (st->rc != CLI_OK)
		return;
	if (st->header) {
		st->header = false;
	} else {
		size_t len = builder_row_len(&st->b);
		if (st->first_row == 0)
			st->first_row = st->record;
		if (!builder_end_row(&st->b))
			st->rc = input_fail(st->err, st->errlen, CLI_EINVAL,
			    "CSV row %zu has %zu value%s but row %zu has %zu "
			    "(rows must all have the same length)",
			    st->record, len, len == 1 ? "" : "s",
			    st->first_row, st->b.cols);
	}
	st->record++;
	st->field = 0;
}

/* libcsv's own words for a strict-mode error are about its options. */
static cli_rc csv_error_of(struct csv_parser *p, size_t record, char *err,
    size_t errlen)
{
	switch (csv_error(p)) {
	case CSV_EPARSE:
		return input_fail(err, errlen, CLI_EINVAL, "CSV row %zu: "
		    "malformed quoting (an unclosed quote, a quote inside an "
		    "unquoted value, or text after a closing quote)", record);
	case CSV_ENOMEM:
	case CSV_ETOOBIG:
		return input_fail(err, errlen, CLI_ENOMEM, "CSV row %zu: %s",
		    record, csv_strerror(csv_error(p)));
	default:
		return input_fail(err, errlen, CLI_EINVAL, "CSV row %zu: %s",
		    record, csv_strerror(csv_error(p)));
	}
}

static cli_rc csv_parse_text(const char *text, size_t len, cli_input *in,
    char *err, size_t errlen)
{
	struct csv_parser p;
	csv_state st = {.record = 1, .err = err, .errlen = errlen};
	size_t used;
	int fini;

	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
		return input_fail(err, errlen, CLI_ENOMEM, "out of memory");
	used = csv_parse(&p, text, len, csv_on_field, csv_on_row, &st);
	if (st.rc == CLI_OK && used != len)
		st.rc = csv_error_of(&p, st.record, err, errlen);
	fini = csv_fini(&p, csv_on_field, csv_on_row, &st);
	if (st.rc == CLI_OK && fini != 0)
		st.rc = csv_error_of(&p, st.record, err, errlen);
	csv_free(&p);

	if (st.rc == CLI_OK && st.b.rows == 0)
		st.rc = input_fail(err, errlen, CLI_EINVAL,
		    "CSV: no data rows (only a header)");
	if (st.rc == CLI_OK) {
		in->tables = calloc(1, sizeof *in->tables);
		if (!in->tables) {
			st.rc = input_fail(err, errlen, CLI_ENOMEM,
			    "out of memory");
		} else {
			in->count = 1;
			builder_finish(&st.b, &in->tables[0]);
		}
	}
	free(st.b.values);
	return st.rc;
}

/* ------------------------------------------------------------- entry --- */

cli_rc cli_input_parse(const char *text, size_t len, cli_format fmt,
    cli_input *out, char *err, size_t errlen)
{
	static const char bom[] = "\xEF\xBB\xBF";
	size_t i = 0;
	cli_rc rc;

	out->count = 0;
	out->tables = NULL;
	/* Spreadsheets often start CSV files with a UTF-8 byte order mark. */
	if (len >= 3 && memcmp(text, bom, 3) == 0) {
		text += 3;
		len -= 3;
	}
	while (i < len && isspace((unsigned char)text[i]))
		i++;
	if (i == len)
		return input_fail(err, errlen, CLI_EINVAL, "the input is empty");
	if (fmt == CLI_FORMAT_AUTO)
		fmt = (text[i] == '[' || text[i] == '{') ? CLI_FORMAT_JSON :
		    CLI_FORMAT_CSV;
	if (fmt == CLI_FORMAT_JSON)
		rc = json_parse(text, len, out, err, errlen);
	else
		rc = csv_parse_text(text, len, out, err, errlen);
	if (rc != CLI_OK)
		cli_input_free(out);
	return rc;
}

int cli_read_all(FILE *f, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;

	for (;;) {
		size_t got;
		if (cap - n < 2) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *p = ncap > cap ? realloc(buf, ncap) : NULL;
			if (!p) {
				free(buf);
				return ENOMEM;
			}
			buf = p;
			cap = ncap;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno ? errno : EIO;
		free(buf);
		return e;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}
