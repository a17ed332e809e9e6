/*
 * xgb_cases.h - the cases gen_xgb_models.py writes (cases.json), read back
 * for the xgboost plugin's tests, and the comparison of a plugin output
 * with XGBoost's own prediction.
 */
#ifndef CORRAL_TEST_XGB_CASES_H
#define CORRAL_TEST_XGB_CASES_H

#include <stddef.h>

#include <corral/tensor.h>
#include <jansson.h>

/* ------------------------------------------------------------------------
 * JSON (jansson)
 * ------------------------------------------------------------------------ */

/* A member that must be there, of the given type (JSON_REAL: any number);
 * exits the test if not. */
const json_t *json_need(const json_t *obj, const char *key, json_type type);
/* A number's value; NaN for null (cases.json writes a missing feature
 * value as null) and anything else. */
double json_num(const json_t *v);
/* The string member `key`, which must be there. */
const char *json_need_str(const json_t *obj, const char *key);

/* ------------------------------------------------------------------------
 * Cases
 * ------------------------------------------------------------------------ */

typedef struct xcase {
	json_t *root;
	const char *name, *objective, *booster;
	size_t nf, n_rows;
	double *x; /* n_rows x nf, NaN for missing */
	const json_t *formats; /* ["json", "ubj", "bin", ...] */
	const json_t *runs;    /* [{"name", "params", "output"}] */
} xcase;

/* Read <dir>/<name>/cases.json; exits the test on failure. */
void case_read(xcase *c, const char *dir, const char *name);
void case_free(xcase *c);

/* The run called `run` (e.g. "default"), or NULL. */
const json_t *case_run(const xcase *c, const char *run);

/*
 * Compare output `got` for rows [r0, r0 + n) of the case with the run's
 * expected output `want` ({"name", "shape", "data"}): the name, FP32, the
 * rank, [n] or [n, K], then the values, class labels exactly, anything
 * else within 1e-6. Row r of `got` is compared with case row
 * (r0 + r) % n_rows, so a batch may repeat the case's rows. Returns 0 when
 * all agree; otherwise writes what differs first into why.
 */
int case_compare(const xcase *c, const json_t *want, const corral_tensor *got,
    size_t r0, size_t n, char *why, size_t whylen);

/* Print the largest difference case_compare has seen, per output name. */
void case_print_max_diff(void);

#endif
