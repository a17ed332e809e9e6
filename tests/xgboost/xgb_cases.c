/* xgb_cases.c - cases.json read back, outputs compared (xgb_cases.h). */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xgb_cases.h"

#define CASES_REQUIRE(cond)                                                \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: REQUIRED: %s\n", __FILE__,  \
			    __LINE__, #cond);                              \
			exit(1);                                           \
		}                                                          \
	} while (0)

/* ------------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------------ */

const json_t *json_need(const json_t *obj, const char *key, json_type type)
{
	const json_t *v = json_object_get(obj, key);
	int ok = v != NULL && (type == JSON_REAL ? json_is_number(v) :
	    json_typeof(v) == type);

	if (!ok)
		fprintf(stderr, "cases.json: \"%s\" missing or mistyped\n", key);
	CASES_REQUIRE(ok);
	return v;
}

double json_num(const json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : NAN;
}

const char *json_need_str(const json_t *obj, const char *key)
{
	return json_string_value(json_need(obj, key, JSON_STRING));
}

/* ------------------------------------------------------------------------
 * Cases
 * ------------------------------------------------------------------------ */

void case_read(xcase *c, const char *dir, const char *name)
{
	char path[4096];
	const json_t *rows;
	json_error_t err;

	memset(c, 0, sizeof *c);
	snprintf(path, sizeof path, "%s/%s/cases.json", dir, name);
	c->root = json_load_file(path, 0, &err);
	if (c->root == NULL)
		fprintf(stderr, "%s:%d: %s\n", path, err.line, err.text);
	CASES_REQUIRE(c->root != NULL);
	c->name = json_need_str(c->root, "case");
	c->objective = json_need_str(c->root, "objective");
	c->booster = json_need_str(c->root, "booster");
	c->nf = (size_t)json_number_value(json_need(c->root, "num_feature",
	    JSON_REAL));
	c->formats = json_need(c->root, "formats", JSON_ARRAY);
	c->runs = json_need(c->root, "runs", JSON_ARRAY);
	rows = json_need(c->root, "inputs", JSON_ARRAY);
	c->n_rows = json_array_size(rows);
	c->x = calloc(c->n_rows * c->nf + 1, sizeof *c->x);
	CASES_REQUIRE(c->x != NULL && c->n_rows > 0);
	for (size_t r = 0; r < c->n_rows; r++) {
		const json_t *row = json_array_get(rows, r);

		CASES_REQUIRE(json_is_array(row) && json_array_size(row) == c->nf);
		for (size_t j = 0; j < c->nf; j++) {
			const json_t *v = json_array_get(row, j);

			CASES_REQUIRE(json_is_number(v) || json_is_null(v));
			c->x[r * c->nf + j] = json_num(v);
		}
	}
	for (size_t i = 0; i < json_array_size(c->runs); i++) {
		const json_t *run = json_array_get(c->runs, i);
		const json_t *out = json_need(run, "output", JSON_OBJECT);
		const json_t *shape = json_need(out, "shape", JSON_ARRAY);
		size_t rank = json_array_size(shape);
		size_t cols = rank == 2 ?
		    (size_t)json_num(json_array_get(shape, 1)) : 1;

		json_need(run, "name", JSON_STRING);
		json_need(run, "params", JSON_OBJECT);
		json_need(out, "name", JSON_STRING);
		CASES_REQUIRE(rank == 1 || rank == 2);
		CASES_REQUIRE(json_array_size(json_need(out, "data", JSON_ARRAY))
		    == c->n_rows * cols);
	}
}

void case_free(xcase *c)
{
	free(c->x);
	json_decref(c->root);
}

const json_t *case_run(const xcase *c, const char *run)
{
	for (size_t i = 0; i < json_array_size(c->runs); i++)
		if (strcmp(json_need_str(json_array_get(c->runs, i), "name"),
		    run) == 0)
			return json_array_get(c->runs, i);
	return NULL;
}

/* Largest |got - want| seen, per output name; compared from several
 * threads at once by the daemon test. */
static pthread_mutex_t case_max_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const char *name;
	double max;
	long values;
} case_max_diff[] = {
	{ "probability", 0, 0 }, { "probabilities", 0, 0 }, { "label", 0, 0 },
	{ "prediction", 0, 0 }, { "margin", 0, 0 },
};

static void case_note_diff(const char *name, double d, long values)
{
	pthread_mutex_lock(&case_max_lock);
	for (size_t i = 0; i < sizeof case_max_diff / sizeof case_max_diff[0]; i++) {
		if (strcmp(case_max_diff[i].name, name) == 0) {
			if (d > case_max_diff[i].max)
				case_max_diff[i].max = d;
			case_max_diff[i].values += values;
		}
	}
	pthread_mutex_unlock(&case_max_lock);
}

void case_print_max_diff(void)
{
	for (size_t i = 0; i < sizeof case_max_diff / sizeof case_max_diff[0]; i++)
		printf("max |diff| %-13s %.3g over %ld values\n",
		    case_max_diff[i].name, case_max_diff[i].max,
		    case_max_diff[i].values);
}

int case_compare(const xcase *c, const json_t *want, const corral_tensor *got,
    size_t r0, size_t n, char *why, size_t whylen)
{
	const char *name = json_need_str(want, "name");
	const json_t *shape = json_need(want, "shape", JSON_ARRAY);
	const json_t *data = json_need(want, "data", JSON_ARRAY);
	const size_t rank = json_array_size(shape);
	const size_t cols = rank == 2 ?
	    (size_t)json_num(json_array_get(shape, 1)) : 1;
	const int exact = strcmp(name, "label") == 0;
	const unsigned char *bytes = got->data;
	size_t bad = 0, first = 0;
	double worst = 0;

	if (strcmp(got->name ? got->name : "", name) != 0 ||
	    got->dtype != CORRAL_DT_FP32 || got->ndim != rank ||
	    got->shape[0] != (int64_t)n ||
	    (got->ndim == 2 && got->shape[1] != (int64_t)cols) ||
	    got->nbytes != n * cols * sizeof(float) ||
	    (got->nbytes > 0 && got->data == NULL)) {
		snprintf(why, whylen, "output \"%s\" %s %uD [%" PRId64 "%s] of "
		    "%zu bytes, want \"%s\" FP32 %zuD [%zu, %zu]",
		    got->name ? got->name : "", corral_dtype_name(got->dtype)
		    ? corral_dtype_name(got->dtype) : "?", got->ndim,
		    got->ndim ? got->shape[0] : -1, got->ndim == 2 ? ", .." : "",
		    got->nbytes, name, rank, n, cols);
		return -1;
	}
	for (size_t r = 0; r < n; r++) {
		size_t row = (r0 + r) % c->n_rows;

		for (size_t k = 0; k < cols; k++) {
			double w = json_num(json_array_get(data, row * cols + k));
			float g;
			double d;

			memcpy(&g, bytes + (r * cols + k) * sizeof g, sizeof g);
			d = fabs((double)g - w);
			if (isnan(w) || isnan(g))
				d = isnan(w) && isnan(g) ? 0 : INFINITY;
			if (d > worst)
				worst = d;
			if (exact ? d != 0 : !(d <= 1e-6)) {
				if (bad++ == 0)
					first = r * cols + k;
			}
		}
	}
	case_note_diff(name, worst, (long)(n * cols));
	if (bad) {
		size_t r = first / cols, k = first % cols;
		float g;

		memcpy(&g, bytes + first * sizeof g, sizeof g);
		snprintf(why, whylen, "%zu of %zu values differ, first %s[%zu][%zu] "
		    "(case row %zu) = %.9g, want %.9g", bad, n * cols, name, r, k,
		    (r0 + r) % c->n_rows, g,
		    json_num(json_array_get(data,
		    ((r0 + r) % c->n_rows) * cols + k)));
		return -1;
	}
	return 0;
}
