/*
 * yaml_doc.h - typed reading of a YAML file parsed by libyaml's document
 * API, with errors that name the file, line and key. Only the walking of
 * the parsed tree lives here; the YAML itself is parsed by libyaml.
 */
#ifndef CORRAL_YAML_DOC_H
#define CORRAL_YAML_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

typedef struct yaml_doc {
	yaml_document_t doc;
	const char *path;
	char *err;     /* caller's buffer for the first error */
	size_t errlen;
	bool failed;
} yaml_doc;

/* Parse `path`. Returns 0, or -1 with the reason in err (no doc to free).
 * An empty file is an empty mapping. */
int ydoc_load(yaml_doc *d, const char *path, char *err, size_t errlen);
void ydoc_free(yaml_doc *d);

/* The root mapping, or NULL (and an error) if the root is something else. */
yaml_node_t *ydoc_root(yaml_doc *d);

/* Fail if `map` has a key not in `known` (NULL-terminated): a typo in a
 * config must not be silently ignored. */
void ydoc_check_keys(yaml_doc *d, yaml_node_t *map, const char *const *known);

/* The value under `key` in mapping `map`, or NULL when absent. */
yaml_node_t *ydoc_get(yaml_doc *d, yaml_node_t *map, const char *key);

/* Iterate over the key/value pairs of a mapping node. */
#define YDOC_PAIRS(map, p) \
	for (yaml_node_pair_t *p = (map)->data.mapping.pairs.start; \
	     p < (map)->data.mapping.pairs.top; p++)

/* Typed getters: leave *out untouched when the key is absent; record an
 * error (first one wins) when the value has the wrong type or range. */
void ydoc_str(yaml_doc *d, yaml_node_t *map, const char *key, char **out);
void ydoc_i64(yaml_doc *d, yaml_node_t *map, const char *key, int64_t min,
    int64_t max, int64_t *out);
void ydoc_double(yaml_doc *d, yaml_node_t *map, const char *key, double min,
    double max, double *out);
void ydoc_bool(yaml_doc *d, yaml_node_t *map, const char *key, bool *out);

/* The scalar text of a node, or NULL (and an error) if it is not a scalar. */
const char *ydoc_scalar(yaml_doc *d, yaml_node_t *n, const char *what);

/* Record an error about node n (its line is added). */
void ydoc_fail(yaml_doc *d, yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
