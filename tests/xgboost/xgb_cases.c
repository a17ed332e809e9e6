/* xgb_cases.c - cases.json read back, outputs compared (xgb_cases.h). */
#include <errno.h>
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

typedef struct jparser {
	const char *s;
	int failed;
} jparser;

void json_free(jval *v)
{
	for (size_t i = 0; i < v->n; i++)
		json_free(&v->items[i]);
	free(v->items);
	free(v->str);
	free(v->key);
	memset(v, 0, sizeof *v);
}

static void json_ws(jparser *p)
{
	while (*p->s == ' ' || *p->s == '\n' || *p->s == '\r' || *p->s == '\t')
		p->s++;
}

static char *json_string(jparser *p)
{
	size_t cap = 16, len = 0;
	char *out = malloc(cap);

	CASES_REQUIRE(out != NULL);
	p->s++; /* the opening quote */
	while (*p->s != '"') {
		char c = *p->s++;

		if (c == '\0') {
			p->failed = 1;
			p->s--;
			break;
		}
		if (c == '\\') {
			c = *p->s++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': /* not in the case files: keep a marker */
				for (int i = 0; i < 4 && *p->s; i++)
					p->s++;
				c = '?';
				break;
			case '\0': p->failed = 1; p->s--; c = '?'; break;
			default: break; /* \" \\ \/ */
			}
		}
		if (len + 2 > cap) {
			cap *= 2;
			out = realloc(out, cap);
			CASES_REQUIRE(out != NULL);
		}
		out[len++] = c;
	}
	if (*p->s == '"')
		p->s++;
	out[len] = '\0';
	return out;
}

static jval *json_push(jval *v)
{
	v->items = realloc(v->items, (v->n + 1) * sizeof *v->items);
	CASES_REQUIRE(v->items != NULL);
	memset(&v->items[v->n], 0, sizeof *v->items);
	return &v->items[v->n++];
}

static void json_value(jparser *p, jval *v, int depth)
{
	char *end;

	json_ws(p);
	if (depth > 32) {
		p->failed = 1;
		return;
	}
	if (*p->s == '{' || *p->s == '[') {
		char close = *p->s == '{' ? '}' : ']';

		v->type = *p->s == '{' ? J_OBJ : J_ARR;
		p->s++;
		json_ws(p);
		if (*p->s == close) {
			p->s++;
			return;
		}
		while (!p->failed) {
			jval *item = json_push(v);

			json_ws(p);
			if (v->type == J_OBJ) {
				if (*p->s != '"') {
					p->failed = 1;
					return;
				}
				item->key = json_string(p);
				json_ws(p);
				if (*p->s++ != ':') {
					p->failed = 1;
					return;
				}
			}
			json_value(p, item, depth + 1);
			json_ws(p);
			if (*p->s == ',') {
				p->s++;
			} else if (*p->s == close) {
				p->s++;
				return;
			} else {
				p->failed = 1;
			}
		}
	} else if (*p->s == '"') {
		v->type = J_STR;
		v->str = json_string(p);
	} else if (strncmp(p->s, "true", 4) == 0) {
		v->type = J_BOOL, v->num = 1, p->s += 4;
	} else if (strncmp(p->s, "false", 5) == 0) {
		v->type = J_BOOL, v->num = 0, p->s += 5;
	} else if (strncmp(p->s, "null", 4) == 0) {
		v->type = J_NULL, v->num = NAN, p->s += 4;
	} else {
		v->type = J_NUM;
		v->num = strtod(p->s, &end);
		if (end == p->s)
			p->failed = 1;
		p->s = end;
	}
}

/* The whole file at `path`, parsed; REQUIREs success. */
jval json_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	jparser p = { 0 };
	jval v = { 0 };
	char *text;
	long size;

	if (f == NULL)
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
	CASES_REQUIRE(f != NULL);
	CASES_REQUIRE(fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0);
	rewind(f);
	text = malloc((size_t)size + 1);
	CASES_REQUIRE(text != NULL);
	CASES_REQUIRE(fread(text, 1, (size_t)size, f) == (size_t)size);
	text[size] = '\0';
	fclose(f);
	p.s = text;
	json_value(&p, &v, 0);
	json_ws(&p);
	if (p.failed || *p.s != '\0')
		fprintf(stderr, "%s: bad JSON near offset %td\n", path, p.s - text);
	CASES_REQUIRE(!p.failed && *p.s == '\0');
	free(text);
	return v;
}

const jval *json_get(const jval *obj, const char *key)
{
	for (size_t i = 0; obj->type == J_OBJ && i < obj->n; i++)
		if (strcmp(obj->items[i].key, key) == 0)
			return &obj->items[i];
	return NULL;
}

const jval *json_need(const jval *obj, const char *key, jtype type)
{
	const jval *v = json_get(obj, key);

	if (v == NULL || v->type != type)
		fprintf(stderr, "cases.json: \"%s\" missing or mistyped\n", key);
	CASES_REQUIRE(v != NULL && v->type == type);
	return v;
}


/* ------------------------------------------------------------------------
 * Cases
 * ------------------------------------------------------------------------ */

void case_read(xcase *c, const char *dir, const char *name)
{
	char path[4096];
	const jval *rows;

	memset(c, 0, sizeof *c);
	snprintf(path, sizeof path, "%s/%s/cases.json", dir, name);
	c->root = json_read_file(path);
	c->name = json_need(&c->root, "case", J_STR)->str;
	c->objective = json_need(&c->root, "objective", J_STR)->str;
	c->booster = json_need(&c->root, "booster", J_STR)->str;
	c->nf = (size_t)json_need(&c->root, "num_feature", J_NUM)->num;
	c->formats = json_need(&c->root, "formats", J_ARR);
	c->runs = json_need(&c->root, "runs", J_ARR);
	rows = json_need(&c->root, "inputs", J_ARR);
	c->n_rows = rows->n;
	c->x = calloc(c->n_rows * c->nf + 1, sizeof *c->x);
	CASES_REQUIRE(c->x != NULL && c->n_rows > 0);
	for (size_t r = 0; r < c->n_rows; r++) {
		const jval *row = &rows->items[r];

		CASES_REQUIRE(row->type == J_ARR && row->n == c->nf);
		for (size_t j = 0; j < c->nf; j++) {
			CASES_REQUIRE(row->items[j].type == J_NUM ||
			    row->items[j].type == J_NULL);
			c->x[r * c->nf + j] = row->items[j].num;
		}
	}
	for (size_t i = 0; i < c->runs->n; i++) {
		const jval *run = &c->runs->items[i];
		const jval *out = json_need(run, "output", J_OBJ);
		const jval *shape = json_need(out, "shape", J_ARR);
		size_t cols = shape->n == 2 ? (size_t)shape->items[1].num : 1;

		json_need(run, "name", J_STR);
		json_need(run, "params", J_OBJ);
		json_need(out, "name", J_STR);
		CASES_REQUIRE(shape->n == 1 || shape->n == 2);
		CASES_REQUIRE(json_need(out, "data", J_ARR)->n == c->n_rows * cols);
	}
}

void case_free(xcase *c)
{
	free(c->x);
	json_free(&c->root);
}

const jval *case_run(const xcase *c, const char *run)
{
	for (size_t i = 0; i < c->runs->n; i++)
		if (strcmp(json_need(&c->runs->items[i], "name", J_STR)->str,
		    run) == 0)
			return &c->runs->items[i];
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

int case_compare(const xcase *c, const jval *want, const corral_tensor *got,
    size_t r0, size_t n, char *why, size_t whylen)
{
	const char *name = json_need(want, "name", J_STR)->str;
	const jval *shape = json_need(want, "shape", J_ARR);
	const jval *data = json_need(want, "data", J_ARR);
	const size_t cols = shape->n == 2 ? (size_t)shape->items[1].num : 1;
	const int exact = strcmp(name, "label") == 0;
	const unsigned char *bytes = got->data;
	size_t bad = 0, first = 0;
	double worst = 0;

	if (strcmp(got->name ? got->name : "", name) != 0 ||
	    got->dtype != CORRAL_DT_FP32 || got->ndim != shape->n ||
	    got->shape[0] != (int64_t)n ||
	    (got->ndim == 2 && got->shape[1] != (int64_t)cols) ||
	    got->nbytes != n * cols * sizeof(float) ||
	    (got->nbytes > 0 && got->data == NULL)) {
		snprintf(why, whylen, "output \"%s\" %s %uD [%" PRId64 "%s] of "
		    "%zu bytes, want \"%s\" FP32 %zuD [%zu, %zu]",
		    got->name ? got->name : "", corral_dtype_name(got->dtype)
		    ? corral_dtype_name(got->dtype) : "?", got->ndim,
		    got->ndim ? got->shape[0] : -1, got->ndim == 2 ? ", .." : "",
		    got->nbytes, name, shape->n, n, cols);
		return -1;
	}
	for (size_t r = 0; r < n; r++) {
		size_t row = (r0 + r) % c->n_rows;

		for (size_t k = 0; k < cols; k++) {
			double w = data->items[row * cols + k].num;
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
		    data->items[((r0 + r) % c->n_rows) * cols + k].num);
		return -1;
	}
	return 0;
}
