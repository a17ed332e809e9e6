/* onnx_cases.c - golden.tsv cases and output comparison (onnx_cases.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_cases.h"

static void cases_die(const char *path, int line, const char *what)
{
	fprintf(stderr, "%s:%d: %s\n", path, line, what);
	exit(1);
}

static char *cases_strdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return d;
}

static void *cases_grow(void *p, size_t n, size_t size)
{
	p = realloc(p, n * size);
	if (p == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

static unsigned char *cases_read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long size;

	if (f == NULL) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0) {
		fprintf(stderr, "cannot size %s\n", path);
		exit(1);
	}
	rewind(f);
	buf = malloc((size_t)size + 1); /* never NULL, even when empty */
	if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	*n = (size_t)size;
	return buf;
}

/* "[2,3]" or "[]" into t. */
static int cases_parse_shape(case_tensor *t, const char *s)
{
	char *end;

	t->ndim = 0;
	if (*s++ != '[')
		return -1;
	if (*s == ']')
		return s[1] == '\0' ? 0 : -1;
	for (;;) {
		if (t->ndim == CORRAL_MAX_DIMS)
			return -1;
		t->shape[t->ndim++] = strtoll(s, &end, 10);
		if (end == s || t->shape[t->ndim - 1] < 0)
			return -1;
		s = end;
		if (*s == ']')
			return s[1] == '\0' ? 0 : -1;
		if (*s++ != ',')
			return -1;
	}
}

/* Split line at tabs into at most max fields; returns the count. */
static size_t cases_split(char *line, char **fields, size_t max)
{
	size_t n = 0;

	while (n < max) {
		fields[n++] = line;
		line = strchr(line, '\t');
		if (line == NULL)
			break;
		*line++ = '\0';
	}
	return n;
}

void cases_read(case_list *l, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[8192], *fld[6];
	onnx_case *c = NULL;
	int lineno = 0;

	memset(l, 0, sizeof *l);
	if (f == NULL) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while (fgets(line, sizeof line, f) != NULL) {
		size_t len = strlen(line), n;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		n = cases_split(line, fld, 6);
		if (strcmp(fld[0], "case") == 0 && n == 3 && c == NULL) {
			l->cases = cases_grow(l->cases, l->n + 1, sizeof *l->cases);
			c = &l->cases[l->n++];
			memset(c, 0, sizeof *c);
			c->name = cases_strdup(fld[1]);
			c->dir = cases_strdup(fld[2]);
		} else if (strcmp(fld[0], "skip") == 0 && n == 3 && c == NULL) {
			l->cases = cases_grow(l->cases, l->n + 1, sizeof *l->cases);
			c = &l->cases[l->n++];
			memset(c, 0, sizeof *c);
			c->name = cases_strdup(fld[1]);
			c->skip = cases_strdup(fld[2]);
			c = NULL;
		} else if (strcmp(fld[0], "param") == 0 && n == 3 && c != NULL &&
		    c->n_params < sizeof c->params / sizeof c->params[0]) {
			c->params[c->n_params].key = cases_strdup(fld[1]);
			c->params[c->n_params++].value = cases_strdup(fld[2]);
		} else if ((strcmp(fld[0], "in") == 0 || strcmp(fld[0], "out") == 0) &&
		    n == 5 && c != NULL) {
			int is_in = fld[0][0] == 'i';
			size_t *count = is_in ? &c->n_in : &c->n_out;
			case_tensor **arr = is_in ? &c->in : &c->out, *t;

			*arr = cases_grow(*arr, *count + 1, sizeof **arr);
			t = &(*arr)[(*count)++];
			memset(t, 0, sizeof *t);
			t->name = cases_strdup(fld[1]);
			t->dtype = corral_dtype_parse(fld[2], strlen(fld[2]));
			if (t->dtype == CORRAL_DT_INVALID ||
			    cases_parse_shape(t, fld[3]) != 0)
				cases_die(path, lineno, "bad datatype or shape");
			t->data = cases_read_file(fld[4], &t->nbytes);
		} else if (strcmp(fld[0], "tol") == 0 && n == 3 && c != NULL) {
			c->rtol = strtod(fld[1], NULL);
			c->atol = strtod(fld[2], NULL);
		} else if (strcmp(fld[0], "end") == 0 && c != NULL) {
			c = NULL;
		} else {
			cases_die(path, lineno, "unexpected record");
		}
	}
	fclose(f);
	if (c != NULL)
		cases_die(path, lineno, "the last case has no end");
}

static void cases_tensors_free(case_tensor *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].name);
		free(t[i].data);
	}
	free(t);
}

void cases_free(case_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		onnx_case *c = &l->cases[i];

		free(c->name);
		free(c->dir);
		free(c->skip);
		for (size_t k = 0; k < c->n_params; k++) {
			free((char *)c->params[k].key);
			free((char *)c->params[k].value);
		}
		cases_tensors_free(c->in, c->n_in);
		cases_tensors_free(c->out, c->n_out);
	}
	free(l->cases);
	memset(l, 0, sizeof *l);
}

const onnx_case *cases_find(const case_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->cases[i].name, name) == 0)
			return &l->cases[i];
	return NULL;
}

/* ------------------------------------------------------------------------
 * Comparing
 * ------------------------------------------------------------------------ */

double case_half_to_double(uint16_t h)
{
	int e = (h >> 10) & 0x1f, m = h & 0x3ff;
	double v;

	if (e == 0)
		v = ldexp(m, -24);
	else if (e == 31)
		v = m ? NAN : INFINITY;
	else
		v = ldexp(m + 1024, e - 25);
	return (h & 0x8000) ? -v : v;
}

double case_bf16_to_double(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;

	memcpy(&f, &bits, sizeof f);
	return f;
}

/* Element i of a fixed-size tensor as a double (floats) or through *iv
 * (integers and BOOL); returns 1 for a float. */
static int case_element(corral_dtype dt, const unsigned char *p, size_t i,
    double *dv, int64_t *iv, uint64_t *uv)
{
	union {
		uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32;
		int32_t i32; uint64_t u64; int64_t i64; float f; double d;
	} v;
	size_t es = corral_dtype_size(dt);

	memcpy(&v, p + i * es, es);
	*iv = 0;
	*uv = 0;
	switch (dt) {
	case CORRAL_DT_BOOL: *iv = v.u8 != 0; return 0;
	case CORRAL_DT_UINT8: *iv = v.u8; return 0;
	case CORRAL_DT_UINT16: *iv = v.u16; return 0;
	case CORRAL_DT_UINT32: *iv = v.u32; return 0;
	case CORRAL_DT_UINT64: *uv = v.u64; return 0;
	case CORRAL_DT_INT8: *iv = v.i8; return 0;
	case CORRAL_DT_INT16: *iv = v.i16; return 0;
	case CORRAL_DT_INT32: *iv = v.i32; return 0;
	case CORRAL_DT_INT64: *iv = v.i64; return 0;
	case CORRAL_DT_FP16: *dv = case_half_to_double(v.u16); return 1;
	case CORRAL_DT_BF16: *dv = case_bf16_to_double(v.u16); return 1;
	case CORRAL_DT_FP32: *dv = v.f; return 1;
	default: *dv = v.d; return 1;
	}
}

int case_compare(const case_tensor *want, corral_dtype dtype, uint32_t ndim,
    const int64_t *shape, const void *data, size_t nbytes, double rtol,
    double atol, char *why, size_t whylen)
{
	const unsigned char *got = data;
	size_t es = corral_dtype_size(want->dtype), n;

	if (dtype != want->dtype) {
		snprintf(why, whylen, "%s: datatype %s, want %s", want->name,
		    corral_dtype_name(dtype) ? corral_dtype_name(dtype) : "?",
		    corral_dtype_name(want->dtype));
		return 1;
	}
	if (ndim != want->ndim ||
	    (ndim > 0 && memcmp(shape, want->shape, ndim * sizeof *shape) != 0)) {
		snprintf(why, whylen, "%s: rank %u, want rank %u (or other "
		    "dimensions)", want->name, ndim, want->ndim);
		return 1;
	}
	if (nbytes != want->nbytes) {
		snprintf(why, whylen, "%s: %zu bytes, want %zu", want->name,
		    nbytes, want->nbytes);
		return 1;
	}
	if (es == 0) {
		if (nbytes > 0 && memcmp(got, want->data, nbytes) != 0) {
			snprintf(why, whylen, "%s: BYTES differ", want->name);
			return 1;
		}
		return 0;
	}
	n = nbytes / es;
	for (size_t i = 0; i < n; i++) {
		double gd = 0, wd = 0;
		int64_t gi, wi;
		uint64_t gu, wu;

		if (case_element(dtype, got, i, &gd, &gi, &gu)) {
			case_element(dtype, want->data, i, &wd, &wi, &wu);
			if ((isnan(gd) && isnan(wd)) || gd == wd)
				continue;
			if (!isnan(gd) && !isnan(wd) && !isinf(wd) &&
			    fabs(gd - wd) <= atol + rtol * fabs(wd))
				continue;
			snprintf(why, whylen, "%s[%zu] = %.9g, want %.9g "
			    "(rtol %g, atol %g)", want->name, i, gd, wd, rtol,
			    atol);
			return 1;
		}
		case_element(dtype, want->data, i, &wd, &wi, &wu);
		if (gi != wi || gu != wu) {
			snprintf(why, whylen, "%s[%zu] = %lld/%llu, want "
			    "%lld/%llu", want->name, i, (long long)gi,
			    (unsigned long long)gu, (long long)wi,
			    (unsigned long long)wu);
			return 1;
		}
	}
	return 0;
}
