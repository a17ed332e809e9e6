/*
 * cli_encode.h - numbers parsed from the input (cli_input.h) to the raw,
 * little-endian tensor bytes of a model input's datatype.
 */
#ifndef CORRAL_CLI_ENCODE_H
#define CORRAL_CLI_ENCODE_H

#include <stdbool.h>
#include <stddef.h>

#include <corral/tensor.h>

#include "cli_input.h"

/* Whether corral infer can send `dt`: FP32, FP64 and the integer types. */
bool cli_encode_supports(corral_dtype dt);

/*
 * The values of `t` as `dt`. Integer types take integral values in their
 * range only; FP32 takes values within its range (inf and nan pass).
 * `name` is the input's name, for messages. On CLI_OK *out is a new buffer
 * of *nbytes bytes that the caller frees; otherwise err says which value is
 * wrong (row and column, 1-based).
 */
cli_rc cli_encode(const cli_table *t, const char *name, corral_dtype dt,
    void **out, size_t *nbytes, char *err, size_t errlen);

#endif /* CORRAL_CLI_ENCODE_H */
