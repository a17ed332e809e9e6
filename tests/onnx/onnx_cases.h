/*
 * onnx_cases.h - the test cases the fixtures write (golden.tsv, see
 * gen_onnx_models.py and gen_onnx_backend.py) and comparing outputs with
 * them. Shared by onnx_test (in process) and onnx_daemon_test.
 */
#ifndef CORRAL_ONNX_CASES_H
#define CORRAL_ONNX_CASES_H

#include <stddef.h>
#include <stdint.h>

#include <corral/plugin.h>

typedef struct case_tensor {
	char *name;
	corral_dtype dtype;
	uint32_t ndim;
	int64_t shape[CORRAL_MAX_DIMS];
	unsigned char *data; /* malloc'd, nbytes long (never NULL) */
	size_t nbytes;
} case_tensor;

typedef struct onnx_case {
	char *name;
	char *dir;      /* the version folder holding model.onnx */
	char *skip;     /* NULL, or why the case is not run */
	corral_param params[4];
	size_t n_params;
	case_tensor *in, *out;
	size_t n_in, n_out;
	double rtol, atol; /* 0, 0: exact */
} onnx_case;

typedef struct case_list {
	onnx_case *cases;
	size_t n;
} case_list;

/* Read the case file at `path` (golden.tsv, cases.tsv) and every data
 * file it names. Exits the test on a malformed file. */
void cases_read(case_list *l, const char *path);
void cases_free(case_list *l);

/* The case called name, or NULL. */
const onnx_case *cases_find(const case_list *l, const char *name);

/*
 * Compare `got` (dtype, shape, data of nbytes) with the expected tensor:
 * exact for integers, BOOL (as truth values) and BYTES; within
 * |got - want| <= atol + rtol * |want| for floats, NaN matching NaN.
 * Returns 0 when equal, else 1 with the first difference in why.
 */
int case_compare(const case_tensor *want, corral_dtype dtype, uint32_t ndim,
    const int64_t *shape, const void *data, size_t nbytes, double rtol,
    double atol, char *why, size_t whylen);

/* A FP16 or BF16 value as a double. */
double case_half_to_double(uint16_t h);
double case_bf16_to_double(uint16_t h);

#endif
