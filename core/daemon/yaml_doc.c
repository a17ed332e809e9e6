/* yaml_doc.c - typed access to a libyaml document (yaml_doc.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_doc.h"

int ydoc_load(yaml_doc *d, const char *path, char *err, size_t errlen)
{
	memset(d, 0, sizeof *d);
	d->path = path;
	d->err = err;
	d->errlen = errlen;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	int ok = yaml_parser_load(&parser, &d->doc);
	if (!ok)
		snprintf(err, errlen, "%s:%zu: %s", path,
		    (size_t)parser.problem_mark.line + 1,
		    parser.problem ? parser.problem : "YAML syntax error");
	yaml_parser_delete(&parser);
	fclose(f);
	return ok ? 0 : -1;
}

void ydoc_free(yaml_doc *d)
{
	yaml_document_delete(&d->doc);
}

void ydoc_fail(yaml_doc *d, yaml_node_t *n, const char *fmt, ...)
{
	if (d->failed)
		return;
	d->failed = true;
	int k = snprintf(d->err, d->errlen, "%s:%zu: ", d->path,
	    n ? (size_t)n->start_mark.line + 1 : (size_t)1);
	if (k < 0 || (size_t)k >= d->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err + k, d->errlen - (size_t)k, fmt, ap);
	va_end(ap);
}

yaml_node_t *ydoc_root(yaml_doc *d)
{
	yaml_node_t *root = yaml_document_get_root_node(&d->doc);
	if (root == NULL)
		return NULL; /* empty file: no keys */
	if (root->type != YAML_MAPPING_NODE) {
		ydoc_fail(d, root, "the top level must be a mapping of keys");
		return NULL;
	}
	return root;
}

const char *ydoc_scalar(yaml_doc *d, yaml_node_t *n, const char *what)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE) {
		ydoc_fail(d, n, "'%s' must be a single value", what);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}


void ydoc_check_keys(yaml_doc *d, yaml_node_t *map, const char *const *known)
{
	if (map == NULL)
		return;
	YDOC_PAIRS(map, p) {
		yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
		const char *name = ydoc_scalar(d, k, "key");
		if (name == NULL)
			return;
		bool found = false;
		for (size_t i = 0; known[i] && !found; i++)
			found = strcmp(name, known[i]) == 0;
		if (!found)
			ydoc_fail(d, k, "unknown key '%s'", name);
	}
}

yaml_node_t *ydoc_get(yaml_doc *d, yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	YDOC_PAIRS(map, p) {
		yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(&d->doc, p->value);
	}
	return NULL;
}

void ydoc_str(yaml_doc *d, yaml_node_t *map, const char *key, char **out)
{
	yaml_node_t *n = ydoc_get(d, map, key);
	if (n == NULL)
		return;
	const char *s = ydoc_scalar(d, n, key);
	if (s == NULL)
		return;
	char *copy = strdup(s);
	if (copy == NULL) {
		ydoc_fail(d, n, "out of memory");
		return;
	}
	free(*out);
	*out = copy;
}

void ydoc_i64(yaml_doc *d, yaml_node_t *map, const char *key, int64_t min,
    int64_t max, int64_t *out)
{
	yaml_node_t *n = ydoc_get(d, map, key);
	if (n == NULL)
		return;
	const char *s = ydoc_scalar(d, n, key);
	if (s == NULL)
		return;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max) {
		ydoc_fail(d, n, "'%s' must be an integer from %lld to %lld, not '%s'",
		    key, (long long)min, (long long)max, s);
		return;
	}
	*out = v;
}

void ydoc_double(yaml_doc *d, yaml_node_t *map, const char *key, double min,
    double max, double *out)
{
	yaml_node_t *n = ydoc_get(d, map, key);
	const char *s = n ? ydoc_scalar(d, n, key) : NULL;
	if (s == NULL)
		return;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !(v >= min && v <= max)) {
		ydoc_fail(d, n, "'%s' must be a number from %g to %g, not '%s'", key, min, max, s);
		return;
	}
	*out = v;
}

void ydoc_bool(yaml_doc *d, yaml_node_t *map, const char *key, bool *out)
{
	yaml_node_t *n = ydoc_get(d, map, key);
	if (n == NULL)
		return;
	const char *s = ydoc_scalar(d, n, key);
	if (s == NULL)
		return;
	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)
		*out = false;
	else
		ydoc_fail(d, n, "'%s' must be true or false, not '%s'", key, s);
}
