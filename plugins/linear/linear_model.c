/*
 * linear_model.c - read and check a linear plugin model file (model.json).
 *
 * The format is documented in docs/plugins/linear.md. Everything the format
 * says is checked here, at load, so infer() can trust the parameters.
 */
#include "linear_model.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define LINEAR_FORMAT "corral-linear"
#define LINEAR_FORMAT_VERSION 1

const char *linear_link_name(linear_link link)
{
	switch (link) {
	case LINEAR_LINK_IDENTITY: return "identity";
	case LINEAR_LINK_LOGIT: return "logit";
	case LINEAR_LINK_SOFTMAX: return "softmax";
	}
	return "?";
}

void linear_params_free(linear_params *p)
{
	free(p->weights);
	free(p->intercepts);
	p->weights = NULL;
	p->intercepts = NULL;
}

/* A JSON value's type, for messages. */
static const char *model_json_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

/* Read the finite number `v`, named `what`[`i`] (or `what`[`i`][`j`] when
 * j is not SIZE_MAX) in messages. */
static int model_number(const json_t *v, const char *what, size_t i,
    size_t j, double *out, char *err, size_t errlen)
{
	char where[96];

	if (j == SIZE_MAX)
		snprintf(where, sizeof where, "%s[%zu]", what, i);
	else
		snprintf(where, sizeof where, "%s[%zu][%zu]", what, i, j);
	if (!json_is_number(v)) {
		corral_errf(err, errlen, "model.json: %s is %s, not a number",
		    where, model_json_type(v));
		return -1;
	}
	*out = json_number_value(v);
	if (!isfinite(*out)) {
		corral_errf(err, errlen, "model.json: %s is not finite", where);
		return -1;
	}
	return 0;
}

static int model_link(const json_t *root, linear_link *link, char *err,
    size_t errlen)
{
	static const struct {
		const char *name;
		linear_link link;
	} links[] = {
		{ "identity", LINEAR_LINK_IDENTITY },
		{ "logit", LINEAR_LINK_LOGIT },
		{ "softmax", LINEAR_LINK_SOFTMAX },
	};
	const json_t *v = json_object_get(root, "link");

	if (v == NULL) {
		corral_errf(err, errlen, "model.json: \"link\" is missing "
		    "(identity, logit or softmax)");
		return -1;
	}
	if (!json_is_string(v)) {
		corral_errf(err, errlen, "model.json: \"link\" is %s, not a "
		    "string (identity, logit or softmax)", model_json_type(v));
		return -1;
	}
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		if (strcmp(json_string_value(v), links[i].name) == 0) {
			*link = links[i].link;
			return 0;
		}
	}
	corral_errf(err, errlen, "model.json: unknown link \"%s\" (expected "
	    "identity, logit or softmax)", json_string_value(v));
	return -1;
}

static int model_header(const json_t *root, char *err, size_t errlen)
{
	const json_t *v = json_object_get(root, "format");

	if (!json_is_string(v) ||
	    strcmp(json_string_value(v), LINEAR_FORMAT) != 0) {
		if (json_is_string(v))
			corral_errf(err, errlen, "model.json: \"format\" is "
			    "\"%s\", expected \"" LINEAR_FORMAT "\"",
			    json_string_value(v));
		else
			corral_errf(err, errlen, "model.json: \"format\" must "
			    "be the string \"" LINEAR_FORMAT "\"");
		return -1;
	}
	v = json_object_get(root, "format_version");
	if (!json_is_integer(v)) {
		corral_errf(err, errlen, "model.json: \"format_version\" must "
		    "be the integer %d", LINEAR_FORMAT_VERSION);
		return -1;
	}
	if (json_integer_value(v) != LINEAR_FORMAT_VERSION) {
		corral_errf(err, errlen, "model.json: format_version %" JSON_INTEGER_FORMAT
		    " is not supported (this plugin reads %d)",
		    json_integer_value(v), LINEAR_FORMAT_VERSION);
		return -1;
	}
	return 0;
}

/* The shape of "coefficients": n_outputs rows of n_features; the count of
 * rows the link needs. Values are read afterwards. */
static int model_shape(const json_t *root, linear_params *p, char *err,
    size_t errlen)
{
	const json_t *coef = json_object_get(root, "coefficients");
	const json_t *row0;

	if (!json_is_array(coef)) {
		corral_errf(err, errlen, "model.json: \"coefficients\" must be "
		    "an array of rows (%s)", coef ? model_json_type(coef) :
		    "missing");
		return -1;
	}
	p->n_outputs = json_array_size(coef);
	if (p->n_outputs == 0) {
		corral_errf(err, errlen, "model.json: \"coefficients\" has no "
		    "rows");
		return -1;
	}
	switch (p->link) {
	case LINEAR_LINK_IDENTITY: break;
	case LINEAR_LINK_LOGIT:
		if (p->n_outputs != 1) {
			corral_errf(err, errlen, "model.json: link logit needs "
			    "exactly 1 row of coefficients, got %zu",
			    p->n_outputs);
			return -1;
		}
		break;
	case LINEAR_LINK_SOFTMAX:
		if (p->n_outputs < 2) {
			corral_errf(err, errlen, "model.json: link softmax needs "
			    "at least 2 rows of coefficients (one per class), "
			    "got %zu", p->n_outputs);
			return -1;
		}
		break;
	}
	row0 = json_array_get(coef, 0);
	if (!json_is_array(row0)) {
		corral_errf(err, errlen, "model.json: coefficients[0] is %s, "
		    "not an array", model_json_type(row0));
		return -1;
	}
	p->n_features = json_array_size(row0);
	if (p->n_features == 0) {
		corral_errf(err, errlen, "model.json: coefficients[0] is empty: "
		    "a model needs at least one feature");
		return -1;
	}
	if (p->n_features > SIZE_MAX / sizeof(double) / p->n_outputs) {
		corral_errf(err, errlen, "model.json: %zu x %zu coefficients "
		    "are too many", p->n_outputs, p->n_features);
		return -1;
	}
	return 0;
}

static int model_values(const json_t *root, linear_params *p, char *err,
    size_t errlen)
{
	const json_t *coef = json_object_get(root, "coefficients");
	const json_t *icpt = json_object_get(root, "intercepts");

	for (size_t k = 0; k < p->n_outputs; k++) {
		const json_t *row = json_array_get(coef, k);

		if (!json_is_array(row)) {
			corral_errf(err, errlen, "model.json: coefficients[%zu] "
			    "is %s, not an array", k, model_json_type(row));
			return -1;
		}
		if (json_array_size(row) != p->n_features) {
			corral_errf(err, errlen, "model.json: coefficients[%zu] "
			    "has %zu values but coefficients[0] has %zu (every "
			    "row has one per feature)", k, json_array_size(row),
			    p->n_features);
			return -1;
		}
		for (size_t j = 0; j < p->n_features; j++) {
			if (model_number(json_array_get(row, j), "coefficients",
			    k, j, &p->weights[k * p->n_features + j], err,
			    errlen) != 0)
				return -1;
		}
	}

	if (!json_is_array(icpt)) {
		corral_errf(err, errlen, "model.json: \"intercepts\" must be an "
		    "array of %zu numbers (%s)", p->n_outputs,
		    icpt ? model_json_type(icpt) : "missing");
		return -1;
	}
	if (json_array_size(icpt) != p->n_outputs) {
		corral_errf(err, errlen, "model.json: \"intercepts\" has %zu "
		    "values but \"coefficients\" has %zu rows",
		    json_array_size(icpt), p->n_outputs);
		return -1;
	}
	for (size_t k = 0; k < p->n_outputs; k++) {
		if (model_number(json_array_get(icpt, k), "intercepts", k,
		    SIZE_MAX, &p->intercepts[k], err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* feature_names is optional and only documents the columns, but when it is
 * there it must agree with the coefficients. */
static int model_feature_names(const json_t *root, const linear_params *p,
    char *err, size_t errlen)
{
	const json_t *names = json_object_get(root, "feature_names");

	if (names == NULL)
		return 0;
	if (!json_is_array(names)) {
		corral_errf(err, errlen, "model.json: \"feature_names\" is %s, "
		    "not an array of strings", model_json_type(names));
		return -1;
	}
	if (json_array_size(names) != p->n_features) {
		corral_errf(err, errlen, "model.json: \"feature_names\" has %zu "
		    "names but the coefficient rows have %zu values",
		    json_array_size(names), p->n_features);
		return -1;
	}
	for (size_t j = 0; j < p->n_features; j++) {
		const json_t *v = json_array_get(names, j);

		if (!json_is_string(v) || json_string_length(v) == 0) {
			corral_errf(err, errlen, "model.json: feature_names[%zu] "
			    "must be a non-empty string", j);
			return -1;
		}
	}
	return 0;
}

/* Unknown keys are not an error (a newer writer may add some), but a
 * misspelt optional key would otherwise go unnoticed. */
static void model_unknown_keys(const json_t *root,
    void (*log)(int level, const char *msg))
{
	static const char *const known[] = { "format", "format_version", "link",
		"feature_names", "coefficients", "intercepts" };
	const char *key;
	json_t *v;

	if (log == NULL)
		return;
	json_object_foreach ((json_t *)root, key, v) {
		size_t i = 0;

		while (i < sizeof known / sizeof known[0] &&
		    strcmp(key, known[i]) != 0)
			i++;
		if (i == sizeof known / sizeof known[0]) {
			char msg[256];

			snprintf(msg, sizeof msg, "linear: model.json: ignoring "
			    "unknown key \"%s\"", key);
			log(CORRAL_LOG_WARN, msg);
		}
	}
}

corral_plugin_error linear_params_read(const char *path, linear_params *p,
    void (*log)(int level, const char *msg), char *err, size_t errlen)
{
	corral_plugin_error rc = CORRAL_PLUGIN_BAD_MODEL;
	json_error_t jerr;
	json_t *root;

	memset(p, 0, sizeof *p);
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		if (json_error_code(&jerr) == json_error_cannot_open_file) {
			/* jansson's text names the path and strerror. */
			corral_errf(err, errlen, "model.json: %s", jerr.text);
			return CORRAL_PLUGIN_IO;
		}
		if (json_error_code(&jerr) == json_error_out_of_memory)
			rc = CORRAL_PLUGIN_NO_MEMORY;
		corral_errf(err, errlen, "model.json: line %d, column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		return rc;
	}
	if (!json_is_object(root)) {
		corral_errf(err, errlen, "model.json: the top level is %s, not "
		    "an object", model_json_type(root));
		goto fail;
	}
	if (model_header(root, err, errlen) != 0 ||
	    model_link(root, &p->link, err, errlen) != 0 ||
	    model_shape(root, p, err, errlen) != 0)
		goto fail;

	p->weights = malloc(p->n_outputs * p->n_features * sizeof(double));
	p->intercepts = malloc(p->n_outputs * sizeof(double));
	if (p->weights == NULL || p->intercepts == NULL) {
		corral_errf(err, errlen, "model.json: out of memory for %zu x "
		    "%zu coefficients", p->n_outputs, p->n_features);
		rc = CORRAL_PLUGIN_NO_MEMORY;
		goto fail;
	}
	if (model_values(root, p, err, errlen) != 0 ||
	    model_feature_names(root, p, err, errlen) != 0)
		goto fail;
	model_unknown_keys(root, log);
	json_decref(root);
	return CORRAL_PLUGIN_OK;

fail:
	json_decref(root);
	linear_params_free(p);
	return rc;
}
