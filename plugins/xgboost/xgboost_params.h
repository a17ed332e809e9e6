/*
 * xgboost_params.h - the xgboost plugin's load parameters (config.yaml
 * `parameters:`), parsed and checked.
 *
 * Internal to the plugin. See docs/plugins/xgboost.md for what each means.
 */
#ifndef CORRAL_XGBOOST_PARAMS_H
#define CORRAL_XGBOOST_PARAMS_H

#include <stddef.h>

#include <corral/plugin.h>

/* Largest `nthread` taken: far beyond any useful CPU count, small enough
 * that a typo (nthread: 20000) is an error rather than 20000 threads. */
#define XGBOOST_NTHREAD_MAX 256

typedef struct xgboost_params {
	int nthread;              /* XGBoost's nthread; 0 = one per CPU */
	double missing;           /* the value that means "missing"; NaN always does */
	int output_margin;        /* 1: raw scores, before the objective's transform */
	unsigned iteration_begin; /* iteration_range [begin, end) of boosting */
	unsigned iteration_end;   /* rounds; 0 = up to the last */
	int range_given;          /* iteration_begin or iteration_end was set */
} xgboost_params;

/*
 * Parse `n` parameters into *p, starting from the defaults (nthread 1,
 * missing NaN, no margin, every round). Unknown keys are named to `log`
 * (may be NULL) at warning level and otherwise ignored. Errors:
 * INVALID_ARGUMENT for a value that does not parse or is out of range, or
 * a key given twice; UNSUPPORTED for a predict_type XGBoost's in-place
 * prediction cannot give.
 */
corral_plugin_error xgboost_params_parse(const corral_param *params, size_t n,
    xgboost_params *p, void (*log)(int level, const char *msg), char *err,
    size_t errlen);

#endif
