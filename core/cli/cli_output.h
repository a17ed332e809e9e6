/*
 * cli_output.h - what the corral commands print: JSON documents built with
 * jansson, and the `corral models` table.
 */
#ifndef CORRAL_CLI_OUTPUT_H
#define CORRAL_CLI_OUTPUT_H

#include <stdio.h>

#include <jansson.h>

#include <corral/client.h>
#include <corral/tensor.h>

#include "cli_input.h" /* cli_rc */

/*
 * {"name", "datatype", "shape": [...], "data": [...]} for an output tensor,
 * data flat in row-major order: integers as JSON integers (UINT64 above
 * INT64_MAX as the nearest double: jansson's integers are signed 64-bit),
 * floating-point types (FP16 and BF16 too) as numbers, with NaN and the
 * infinities as the strings "NaN", "Infinity", "-Infinity"; BOOL as
 * true/false; BYTES as one string per element, or {"base64": "..."} for an
 * element that is not UTF-8. On CLI_OK *out is a new reference. CLI_EINVAL
 * (with err) when the tensor's shape, datatype and bytes do not agree.
 */
cli_rc cli_tensor_json(const corral_tensor *t, json_t **out, char *err,
    size_t errlen);

/* JSON_REAL_PRECISION digits that print every value of `dt` exactly
 * enough to read it back: 17 for FP64 (and UINT64, whose values above
 * INT64_MAX jansson can only print as reals), 9 for the other types. */
int cli_real_precision(corral_dtype dt);

/* The value of an FP16 (IEEE 754 binary16) or BF16 element's bits: every
 * one is exactly a float. */
float cli_half_to_float(corral_dtype dt, uint16_t bits);

/* {"name", "version", "plugin", "plugin_version", "inputs": [...],
 * "outputs": [...]}, each tensor {"name", "datatype", "shape"} with -1 for
 * a dynamic dimension. NULL when out of memory. */
json_t *cli_metadata_json(const corral_metadata *m);

/* {"models": [{"name", "version", "state", "default"}, ...]}; NULL when out
 * of memory. */
json_t *cli_models_json(const corral_model_list *l);

/* The columns NAME VERSION STATE DEFAULT, one line per entry. */
void cli_models_table(FILE *f, const corral_model_list *l);

/* Write `doc` and a newline to `f`; -1 when it could not. */
int cli_print_json(FILE *f, const json_t *doc, size_t flags);

#endif /* CORRAL_CLI_OUTPUT_H */
