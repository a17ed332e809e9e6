/* xgboost_params.c - the plugin's load parameters (xgboost_params.h). */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xgboost_error.h"
#include "xgboost_params.h"

/* A whole-string integer in [lo, hi]. */
static int xgboost_parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* A whole-string number; strtod takes "nan", "inf" and "-inf" in any case,
 * and YAML spells them ".nan", ".inf", "-.inf". */
static int xgboost_parse_double(const char *s, double *out)
{
	static const struct {
		const char *yaml;
		double v;
	} words[] = {
		{ ".nan", NAN }, { ".inf", INFINITY }, { "+.inf", INFINITY },
		{ "-.inf", -INFINITY },
	};
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return -1;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (strcasecmp(s, words[i].yaml) == 0) {
			*out = words[i].v;
			return 0;
		}
	}
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || end == s || (errno == ERANGE && isinf(v)))
		return -1;
	*out = v;
	return 0;
}

/* true/false as YAML writes them, plus 1/0. */
static int xgboost_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* The keys this plugin reads, for the "given twice" check. */
enum {
	XGBOOST_P_NTHREAD,
	XGBOOST_P_MISSING,
	XGBOOST_P_OUTPUT_MARGIN,
	XGBOOST_P_ITERATION_BEGIN,
	XGBOOST_P_ITERATION_END,
	XGBOOST_P_PREDICT_TYPE,
	XGBOOST_P_COUNT_
};

static const char *const xgboost_param_names[XGBOOST_P_COUNT_] = {
	"nthread", "missing", "output_margin", "iteration_begin",
	"iteration_end", "predict_type",
};

/* predict_type: the two kinds in-place prediction gives, and the kinds
 * XGBoost has otherwise (named so the error can say why not). */
static corral_plugin_error xgboost_parse_predict_type(const char *v,
    int *margin, char *err, size_t errlen)
{
	static const char *const elsewhere[] = {
		"contribs", "approx_contribs", "interactions",
		"approx_interactions", "leaf",
	};

	if (strcmp(v, "value") == 0) {
		*margin = 0;
		return CORRAL_PLUGIN_OK;
	}
	if (strcmp(v, "margin") == 0) {
		*margin = 1;
		return CORRAL_PLUGIN_OK;
	}
	for (size_t i = 0; i < sizeof elsewhere / sizeof elsewhere[0]; i++) {
		if (strcmp(v, elsewhere[i]) == 0) {
			corral_errf(err, errlen, "xgboost: predict_type \"%s\" is "
			    "not supported: XGBoost's in-place prediction gives "
			    "\"value\" and \"margin\" only", v);
			return CORRAL_PLUGIN_UNSUPPORTED;
		}
	}
	corral_errf(err, errlen, "xgboost: predict_type must be \"value\" or "
	    "\"margin\", got \"%s\"", v);
	return CORRAL_PLUGIN_INVALID_ARGUMENT;
}

corral_plugin_error xgboost_params_parse(const corral_param *params, size_t n,
    xgboost_params *p, void (*log)(int level, const char *msg), char *err,
    size_t errlen)
{
	const char *given[XGBOOST_P_COUNT_] = { NULL };
	int margin = 0, typed_margin = 0;
	long v;
	char msg[256];
	corral_plugin_error rc;

	*p = (xgboost_params){ .nthread = 1, .missing = NAN };

	for (size_t i = 0; i < n; i++) {
		const char *key = params[i].key ? params[i].key : "";
		int k;

		for (k = 0; k < XGBOOST_P_COUNT_; k++)
			if (strcmp(key, xgboost_param_names[k]) == 0)
				break;
		if (k == XGBOOST_P_COUNT_) {
			if (log != NULL) {
				snprintf(msg, sizeof msg, "xgboost: ignoring unknown "
				    "parameter \"%s\"", key);
				log(CORRAL_LOG_WARN, msg);
			}
			continue;
		}
		if (given[k] != NULL) {
			corral_errf(err, errlen, "xgboost: parameter \"%s\" is "
			    "given twice", key);
			return CORRAL_PLUGIN_INVALID_ARGUMENT;
		}
		given[k] = params[i].value ? params[i].value : "";
	}

	if (given[XGBOOST_P_NTHREAD] != NULL) {
		if (xgboost_parse_long(given[XGBOOST_P_NTHREAD], 0,
		    XGBOOST_NTHREAD_MAX, &v) != 0) {
			corral_errf(err, errlen, "xgboost: nthread must be an "
			    "integer from 0 (one per CPU) to %d, got \"%s\"",
			    XGBOOST_NTHREAD_MAX, given[XGBOOST_P_NTHREAD]);
			return CORRAL_PLUGIN_INVALID_ARGUMENT;
		}
		p->nthread = (int)v;
	}
	/* XGBoost's features and its missing value are floats. */
	if (given[XGBOOST_P_MISSING] != NULL &&
	    (xgboost_parse_double(given[XGBOOST_P_MISSING], &p->missing) != 0 ||
	    (isfinite(p->missing) && fabs(p->missing) > FLT_MAX))) {
		corral_errf(err, errlen, "xgboost: missing must be a number "
		    "a float can hold (or nan, inf, -inf), got \"%s\"",
		    given[XGBOOST_P_MISSING]);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	if (given[XGBOOST_P_OUTPUT_MARGIN] != NULL &&
	    xgboost_parse_bool(given[XGBOOST_P_OUTPUT_MARGIN], &margin) != 0) {
		corral_errf(err, errlen, "xgboost: output_margin must be true "
		    "or false, got \"%s\"", given[XGBOOST_P_OUTPUT_MARGIN]);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	if (given[XGBOOST_P_PREDICT_TYPE] != NULL) {
		rc = xgboost_parse_predict_type(given[XGBOOST_P_PREDICT_TYPE],
		    &typed_margin, err, errlen);
		if (rc != CORRAL_PLUGIN_OK)
			return rc;
		if (given[XGBOOST_P_OUTPUT_MARGIN] != NULL &&
		    typed_margin != margin) {
			corral_errf(err, errlen, "xgboost: output_margin \"%s\" "
			    "contradicts predict_type \"%s\"",
			    given[XGBOOST_P_OUTPUT_MARGIN],
			    given[XGBOOST_P_PREDICT_TYPE]);
			return CORRAL_PLUGIN_INVALID_ARGUMENT;
		}
		margin = typed_margin;
	}
	p->output_margin = margin;

	for (int k = XGBOOST_P_ITERATION_BEGIN; k <= XGBOOST_P_ITERATION_END; k++) {
		if (given[k] == NULL)
			continue;
		if (xgboost_parse_long(given[k], 0, INT_MAX, &v) != 0) {
			corral_errf(err, errlen, "xgboost: %s must be an integer "
			    ">= 0, got \"%s\"", xgboost_param_names[k], given[k]);
			return CORRAL_PLUGIN_INVALID_ARGUMENT;
		}
		if (k == XGBOOST_P_ITERATION_BEGIN)
			p->iteration_begin = (unsigned)v;
		else
			p->iteration_end = (unsigned)v;
		p->range_given = 1;
	}
	if (p->iteration_end != 0 && p->iteration_begin >= p->iteration_end) {
		corral_errf(err, errlen, "xgboost: iteration_begin (%u) must be "
		    "less than iteration_end (%u)", p->iteration_begin,
		    p->iteration_end);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	return CORRAL_PLUGIN_OK;
}
