/* xgboost_learner.c - what a loaded booster is (xgboost_learner.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "xgboost_error.h"
#include "xgboost_learner.h"

/* config["learner"][section][key], a string. */
static const char *xgboost_config_str(json_t *config, const char *section,
    const char *key)
{
	json_t *v = json_object_get(json_object_get(json_object_get(config,
	    "learner"), section), key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* XGBoost writes every parameter as a string, numbers included ("3"). */
static int xgboost_config_size(json_t *config, const char *key, size_t *out)
{
	const char *s = xgboost_config_str(config, "learner_model_param", key);
	char *end;
	unsigned long long v;

	if (s == NULL)
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v > (1u << 30))
		return -1;
	*out = (size_t)v;
	return 0;
}

corral_plugin_error xgboost_learner_read(BoosterHandle booster,
    xgboost_learner *l, char *err, size_t errlen)
{
	const char *text, *objective, *kind;
	bst_ulong len, num_feature;
	json_error_t jerr;
	json_t *config;
	corral_plugin_error rc = CORRAL_PLUGIN_BAD_MODEL;

	memset(l, 0, sizeof *l);
	if (XGBoosterGetNumFeature(booster, &num_feature) != 0) {
		xgboost_err_last(err, errlen, "xgboost: cannot read the number "
		    "of features");
		return CORRAL_PLUGIN_BAD_MODEL;
	}
	if (num_feature == 0) {
		corral_errf(err, errlen, "xgboost: the model has no features");
		return CORRAL_PLUGIN_BAD_MODEL;
	}
	l->num_feature = (size_t)num_feature;
	if (XGBoosterBoostedRounds(booster, &l->rounds) != 0) {
		xgboost_err_last(err, errlen, "xgboost: cannot read the number "
		    "of boosted rounds");
		return CORRAL_PLUGIN_BAD_MODEL;
	}
	if (XGBoosterSaveJsonConfig(booster, &len, &text) != 0) {
		xgboost_err_last(err, errlen, "xgboost: cannot read the learner "
		    "configuration");
		return CORRAL_PLUGIN_BAD_MODEL;
	}
	config = json_loadb(text, (size_t)len, 0, &jerr);
	if (config == NULL) {
		corral_errf(err, errlen, "xgboost: the learner configuration is "
		    "not JSON: %s", jerr.text);
		return CORRAL_PLUGIN_BAD_MODEL;
	}

	objective = xgboost_config_str(config, "learner_train_param",
	    "objective");
	kind = xgboost_config_str(config, "learner_train_param", "booster");
	if (objective == NULL || kind == NULL ||
	    strlen(objective) >= sizeof l->objective ||
	    strlen(kind) >= sizeof l->booster) {
		corral_errf(err, errlen, "xgboost: the learner configuration "
		    "names no objective or booster");
		goto out;
	}
	snprintf(l->objective, sizeof l->objective, "%s", objective);
	snprintf(l->booster, sizeof l->booster, "%s", kind);
	if (xgboost_config_size(config, "num_class", &l->num_class) != 0) {
		corral_errf(err, errlen, "xgboost: the learner configuration "
		    "has no usable num_class");
		goto out;
	}
	/* num_target appeared in XGBoost 1.6; before it, one target. */
	if (xgboost_config_size(config, "num_target", &l->num_target) != 0 ||
	    l->num_target == 0)
		l->num_target = 1;
	if (strncmp(l->objective, "multi:", 6) == 0 && l->num_class < 1) {
		corral_errf(err, errlen, "xgboost: objective %s with num_class "
		    "%zu", l->objective, l->num_class);
		goto out;
	}
	rc = CORRAL_PLUGIN_OK;
out:
	json_decref(config);
	return rc;
}

void xgboost_learner_output(const xgboost_learner *l, int output_margin,
    const char **name, size_t *width)
{
	/* XGBoost's raw output: one score per class, else one per target. */
	size_t groups = l->num_class > 1 ? l->num_class : l->num_target;
	const char *obj = l->objective;

	*width = groups;
	if (output_margin) {
		*name = "margin";
	} else if (strcmp(obj, "multi:softprob") == 0) {
		*name = "probabilities";
	} else if (strcmp(obj, "multi:softmax") == 0) {
		*name = "label";
		*width = 1;
	} else if (strcmp(obj, "binary:hinge") == 0) {
		*name = "label";
	} else if (strcmp(obj, "binary:logistic") == 0) {
		*name = "probability";
	} else if (strcmp(obj, "binary:logitraw") == 0) {
		*name = "margin";
	} else {
		*name = "prediction";
	}
}
