/*
 * cli_input.h - rows of numbers read from JSON or CSV text (corral infer).
 *
 * Parsing only: nothing here knows the model. Input names are matched to
 * the model and values converted to its datatypes by the caller
 * (cli_encode.h), so both halves can be tested without a daemon.
 */
#ifndef CORRAL_CLI_INPUT_H
#define CORRAL_CLI_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What the cli_* helpers return; the detail text goes to the caller's
 * err/errlen buffer. */
typedef enum cli_rc {
	CLI_OK = 0,
	CLI_EINVAL = 1, /* the input (or a reply) is not what it must be */
	CLI_ENOMEM = 2,
} cli_rc;

typedef enum cli_format {
	CLI_FORMAT_AUTO = 0, /* first non-space byte '[' or '{': JSON, else CSV */
	CLI_FORMAT_JSON,
	CLI_FORMAT_CSV,
} cli_format;

/* One number as it was written. Integers stay exact, so an INT64 or UINT64
 * input is not rounded through a double on its way to the model. */
typedef struct cli_num {
	enum {
		CLI_NUM_REAL,
		CLI_NUM_INT,  /* fits int64_t */
		CLI_NUM_UINT, /* an integer above INT64_MAX */
	} kind;
	union {
		double r;
		int64_t i;
		uint64_t u;
	} v;
} cli_num;

typedef struct cli_table {
	char *name;        /* NULL when the input did not name it */
	size_t rows, cols; /* both >= 1 */
	cli_num *values;   /* rows * cols, row-major */
} cli_table;

typedef struct cli_input {
	size_t count; /* >= 1 after a successful parse */
	cli_table *tables;
} cli_input;

/* "json" or "csv"; false for anything else. */
bool cli_format_parse(const char *s, cli_format *out);

/*
 * Parse the `len` bytes at `text` (need not be NUL-terminated) as `fmt`.
 * On CLI_OK, *out holds one or more tables that the caller frees with
 * cli_input_free. Otherwise *out is left empty (safe to free) and err
 * (errlen bytes, truncated as needed) says what is wrong and where.
 */
cli_rc cli_input_parse(const char *text, size_t len, cli_format fmt,
    cli_input *out, char *err, size_t errlen);

/* Free the tables of `in` and empty it. */
void cli_input_free(cli_input *in);

/* Read all of `f` into a new buffer the caller frees (NUL-terminated, for
 * convenience; *len excludes the NUL). Returns 0 or an errno value. */
int cli_read_all(FILE *f, char **out, size_t *len);

#endif /* CORRAL_CLI_INPUT_H */
