/*
 * xgb_cases.h - the cases gen_xgb_models.py writes (cases.json), read back
 * for the xgboost plugin's tests, and the comparison of a plugin output
 * with XGBoost's own prediction.
 */
#ifndef CORRAL_TEST_XGB_CASES_H
#define CORRAL_TEST_XGB_CASES_H

#include <stddef.h>

#include <corral/tensor.h>

/* ------------------------------------------------------------------------
 * A small JSON reader (the tests link no JSON library). null reads as a
 * number, NaN: cases.json writes a missing feature value as null.
 * ------------------------------------------------------------------------ */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
	jtype type;
	double num;          /* J_NUM, J_BOOL; NaN for J_NULL */
	char *str;           /* J_STR */
	char *key;           /* the member name, inside a J_OBJ */
	struct jval *items;  /* J_ARR, J_OBJ */
	size_t n;
} jval;

/* The whole file at `path`, parsed; exits the test on failure. */
jval json_read_file(const char *path);
void json_free(jval *v);
const jval *json_get(const jval *obj, const char *key);
/* A member that must be there, of the given type; exits if not. */
const jval *json_need(const jval *obj, const char *key, jtype type);

/* ------------------------------------------------------------------------
 * Cases
 * ------------------------------------------------------------------------ */

typedef struct xcase {
	jval root;
	const char *name, *objective, *booster;
	size_t nf, n_rows;
	double *x; /* n_rows x nf, NaN for missing */
	const jval *formats; /* ["json", "ubj", "bin", ...] */
	const jval *runs;    /* [{"name", "params", "output"}] */
} xcase;

/* Read <dir>/<name>/cases.json; exits the test on failure. */
void case_read(xcase *c, const char *dir, const char *name);
void case_free(xcase *c);

/* The run called `run` (e.g. "default"), or NULL. */
const jval *case_run(const xcase *c, const char *run);

/*
 * Compare output `got` for rows [r0, r0 + n) of the case with the run's
 * expected output `want` ({"name", "shape", "data"}): the name, FP32, the
 * rank, [n] or [n, K], then the values, class labels exactly, anything
 * else within 1e-6. Row r of `got` is compared with case row
 * (r0 + r) % n_rows, so a batch may repeat the case's rows. Returns 0 when
 * all agree; otherwise writes what differs first into why.
 */
int case_compare(const xcase *c, const jval *want, const corral_tensor *got,
    size_t r0, size_t n, char *why, size_t whylen);

/* Print the largest difference case_compare has seen, per output name. */
void case_print_max_diff(void);

#endif
