/*
 * xgboost_learner.h - what a loaded booster is (objective, booster kind,
 * features, classes, rounds) and so what the plugin's output looks like.
 *
 * Internal to the plugin. The facts come from XGBoost itself (its learner
 * configuration, XGBoosterGetNumFeature, XGBoosterBoostedRounds), never
 * from parsing the model file, so every model format reads the same.
 */
#ifndef CORRAL_XGBOOST_LEARNER_H
#define CORRAL_XGBOOST_LEARNER_H

#include <stddef.h>

#include <corral/plugin.h>
#include <xgboost/c_api.h>

typedef struct xgboost_learner {
	char objective[48]; /* e.g. "binary:logistic" */
	char booster[16];   /* "gbtree", "dart" or "gblinear" */
	size_t num_feature;
	size_t num_class;   /* 0 unless a multi:* objective */
	size_t num_target;  /* 1 unless multi-output regression */
	int rounds;         /* boosted rounds (iterations) */
} xgboost_learner;

/*
 * Read the facts of `booster` (loaded and configured) into *l. Errors:
 * BAD_MODEL when XGBoost cannot say or says something unusable (no
 * features), NO_MEMORY.
 */
corral_plugin_error xgboost_learner_read(BoosterHandle booster,
    xgboost_learner *l, char *err, size_t errlen);

/*
 * The one output of a prediction: its name and how many values each row
 * gets (1 means the output is [N], more means [N, width]).
 *   output_margin        "margin", one per class (or target)
 *   multi:softprob       "probabilities", one per class
 *   multi:softmax        "label", the class index
 *   binary:hinge         "label", 0 or 1
 *   binary:logistic      "probability"
 *   binary:logitraw      "margin" (that objective's value is the margin)
 *   anything else        "prediction" (regression, counts, ranking,
 *                        survival)
 */
void xgboost_learner_output(const xgboost_learner *l, int output_margin,
    const char **name, size_t *width);

#endif
