/*
 * linear_model.h - the linear plugin's model file (model.json), parsed.
 *
 * Internal to the plugin: these names are hidden (the plugin is built with
 * hidden visibility and exports only corral_plugin_entry).
 */
#ifndef CORRAL_LINEAR_MODEL_H
#define CORRAL_LINEAR_MODEL_H

#include <stddef.h>

#include <corral/plugin.h>
#include <corral/plugin_util.h>

typedef enum linear_link {
	LINEAR_LINK_IDENTITY, /* y = W x + b */
	LINEAR_LINK_LOGIT,    /* P(1) = sigmoid(w . x + b), one row */
	LINEAR_LINK_SOFTMAX,  /* P(k) = softmax(W x + b)_k, K >= 2 rows */
} linear_link;

/* A model as model.json describes it: scores z = W x + b, then the link. */
typedef struct linear_params {
	linear_link link;
	size_t n_features;
	size_t n_outputs;   /* rows of W and entries of b */
	double *weights;    /* n_outputs x n_features, row-major */
	double *intercepts; /* n_outputs */
} linear_params;

/*
 * Read and check the model file at `path` into *p. On success the caller
 * owns p's arrays (linear_params_free); on error *p holds nothing to free,
 * and err says what is wrong: CORRAL_PLUGIN_IO when the file cannot be
 * opened, CORRAL_PLUGIN_BAD_MODEL when it is not a valid model, NO_MEMORY.
 * `log` (may be NULL) hears about keys the format does not know.
 */
corral_plugin_error linear_params_read(const char *path, linear_params *p,
    void (*log)(int level, const char *msg), char *err, size_t errlen);

void linear_params_free(linear_params *p);

/* "identity", "logit" or "softmax". */
const char *linear_link_name(linear_link link);


#endif
