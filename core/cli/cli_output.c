/*
 * cli_output.c - JSON documents and tables printed by the corral commands.
 */
#include "cli_output.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- text --- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0 if it is not one. */
static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		n = 2;
		cp = s[0] & 0x1F;
	} else if ((s[0] & 0xF0) == 0xE0) {
		n = 3;
		cp = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* A JSON string for text from the server, which a msgpack str does not
 * promise to be UTF-8: invalid bytes become U+FFFD rather than failing the
 * whole document. NULL for NULL or when out of memory. */
static json_t *text_json(const char *s)
{
	static const char repl[] = "\xEF\xBF\xBD";
	const unsigned char *u = (const unsigned char *)s;
	size_t len, n = 0;
	char *copy;
	json_t *j;

	if (!s)
		return json_null();
	len = strlen(s);
	j = json_stringn(s, len);
	if (j)
		return j;
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	copy = malloc(len * 3 + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t k = utf8_seq_len(u + i, len - i);
		if (k == 0) {
			memcpy(copy + n, repl, 3);
			n += 3;
			i++;
		} else {
			memcpy(copy + n, s + i, k);
			n += k;
			i += k;
		}
	}
	j = json_stringn(copy, n);
	free(copy);
	return j;
}

static json_t *base64_json(const unsigned char *p, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = 0;
	char *s;
	json_t *j;

	if (len > SIZE_MAX / 4 * 3 - 3)
		return NULL;
	s = malloc((len + 2) / 3 * 4 + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		s[n++] = abc[v >> 18 & 63];
		s[n++] = abc[v >> 12 & 63];
		s[n++] = i + 1 < len ? abc[v >> 6 & 63] : '=';
		s[n++] = i + 2 < len ? abc[v & 63] : '=';
	}
	j = json_object();
	if (json_object_set_new(j, "base64", json_stringn(s, n)) != 0) {
		json_decref(j);
		j = NULL;
	}
	free(s);
	return j;
}

/* ----------------------------------------------------------- building --- */

/*
 * The jansson *_set_new / *_append_new calls take the new value even when
 * they fail (and fail when it is NULL), so a document is built by
 * completing each child before attaching it, noting any failure once.
 */
static void set(bool *ok, json_t *obj, const char *key, json_t *v)
{
	if (json_object_set_new(obj, key, v) != 0)
		*ok = false;
}

static void append(bool *ok, json_t *arr, json_t *v)
{
	if (json_array_append_new(arr, v) != 0)
		*ok = false;
}

static json_t *shape_json(const int64_t *shape, uint32_t ndim)
{
	json_t *a = json_array();
	bool ok = a != NULL;

	for (uint32_t i = 0; ok && i < ndim; i++)
		append(&ok, a, json_integer(shape[i]));
	if (!ok) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* ------------------------------------------------------------ tensors --- */

static uint64_t load_le(const unsigned char *p, size_t size)
{
	uint64_t v = 0;
	for (size_t i = size; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static float float_from_bits(uint32_t bits)
{
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

/* IEEE 754 binary16 to binary32 bits: every half is exactly a float. */
static uint32_t half_to_float_bits(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31;
	uint32_t exp = h >> 10 & 0x1F;
	uint32_t mant = h & 0x3FF;

	if (exp == 0x1F)
		return sign | 0xFFu << 23 | mant << 13;
	if (exp != 0)
		return sign | (exp + 127 - 15) << 23 | mant << 13;
	if (mant == 0)
		return sign;
	/* Subnormal: normalise into the float's wider exponent. */
	exp = 127 - 15 + 1;
	while (!(mant & 0x400)) {
		mant <<= 1;
		exp--;
	}
	return sign | exp << 23 | (mant & 0x3FF) << 13;
}

float cli_half_to_float(corral_dtype dt, uint16_t bits)
{
	/* BF16 is a float's top half: its bits, shifted, are the float. */
	return float_from_bits(dt == CORRAL_DT_BF16 ? (uint32_t)bits << 16 :
	    half_to_float_bits(bits));
}

static json_t *real_json(double d)
{
	if (isnan(d))
		return json_string("NaN");
	if (isinf(d))
		return json_string(d > 0 ? "Infinity" : "-Infinity");
	return json_real(d);
}

/* Element `p` of a fixed-size type. */
static json_t *element_json(corral_dtype dt, const unsigned char *p)
{
	uint64_t u = load_le(p, corral_dtype_size(dt));

	switch (dt) {
	case CORRAL_DT_BOOL: return json_boolean(u != 0);
	case CORRAL_DT_UINT8:
	case CORRAL_DT_UINT16:
	case CORRAL_DT_UINT32: return json_integer((json_int_t)u);
	case CORRAL_DT_UINT64:
		/* jansson's integers are signed 64-bit. */
		return u <= INT64_MAX ? json_integer((json_int_t)u) :
		    json_real((double)u);
	case CORRAL_DT_INT8: {
		int8_t v;
		uint8_t b = (uint8_t)u;
		memcpy(&v, &b, 1);
		return json_integer(v);
	}
	case CORRAL_DT_INT16: {
		int16_t v;
		uint16_t b = (uint16_t)u;
		memcpy(&v, &b, sizeof v);
		return json_integer(v);
	}
	case CORRAL_DT_INT32: {
		int32_t v;
		uint32_t b = (uint32_t)u;
		memcpy(&v, &b, sizeof v);
		return json_integer(v);
	}
	case CORRAL_DT_INT64: {
		int64_t v;
		memcpy(&v, &u, sizeof v);
		return json_integer(v);
	}
	case CORRAL_DT_FP16:
	case CORRAL_DT_BF16:
		return real_json(cli_half_to_float(dt, (uint16_t)u));
	case CORRAL_DT_FP32: return real_json(float_from_bits((uint32_t)u));
	case CORRAL_DT_FP64: {
		double d;
		memcpy(&d, &u, sizeof d);
		return real_json(d);
	}
	default: return NULL;
	}
}

static cli_rc fixed_data(const corral_tensor *t, size_t count, json_t *data,
    const char *name, char *err, size_t errlen)
{
	size_t size = corral_dtype_size(t->dtype);
	const unsigned char *p = t->data;
	bool ok = true;

	if (count > SIZE_MAX / size || count * size != t->nbytes) {
		snprintf(err, errlen, "output '%s': %zu bytes of data for %zu "
		    "%s elements", name, t->nbytes, count,
		    corral_dtype_name(t->dtype));
		return CLI_EINVAL;
	}
	for (size_t i = 0; ok && i < count; i++)
		append(&ok, data, element_json(t->dtype, p + i * size));
	if (!ok) {
		snprintf(err, errlen, "out of memory");
		return CLI_ENOMEM;
	}
	return CLI_OK;
}

/* BYTES: each element is a 4-byte little-endian length, then the bytes. */
static cli_rc bytes_data(const corral_tensor *t, size_t count, json_t *data,
    const char *name, char *err, size_t errlen)
{
	const unsigned char *p = t->data;
	size_t off = 0;
	bool ok = true;

	for (size_t i = 0; ok && i < count; i++) {
		size_t len;
		json_t *s;

		if (t->nbytes - off < 4) {
			snprintf(err, errlen, "output '%s': BYTES data ends "
			    "before element %zu of %zu", name, i + 1, count);
			return CLI_EINVAL;
		}
		len = (size_t)load_le(p + off, 4);
		off += 4;
		if (t->nbytes - off < len) {
			snprintf(err, errlen, "output '%s': BYTES element %zu "
			    "says %zu bytes, only %zu remain", name, i + 1, len,
			    t->nbytes - off);
			return CLI_EINVAL;
		}
		s = json_stringn((const char *)p + off, len);
		if (!s) /* not UTF-8 (or no memory: then this fails too) */
			s = base64_json(p + off, len);
		append(&ok, data, s);
		off += len;
	}
	if (!ok) {
		snprintf(err, errlen, "out of memory");
		return CLI_ENOMEM;
	}
	if (off != t->nbytes) {
		snprintf(err, errlen, "output '%s': %zu bytes after the last "
		    "BYTES element", name, t->nbytes - off);
		return CLI_EINVAL;
	}
	return CLI_OK;
}

cli_rc cli_tensor_json(const corral_tensor *t, json_t **out, char *err,
    size_t errlen)
{
	const char *name = t->name ? t->name : "";
	const char *dtname = corral_dtype_name(t->dtype);
	int64_t count;
	json_t *obj, *data;
	bool ok = true;
	cli_rc rc;

	if (!dtname) {
		snprintf(err, errlen, "output '%s' has an unknown datatype (%d)",
		    name, (int)t->dtype);
		return CLI_EINVAL;
	}
	if (t->ndim > CORRAL_MAX_DIMS || (t->ndim > 0 && !t->shape)) {
		snprintf(err, errlen, "output '%s' has %u dimensions", name,
		    (unsigned)t->ndim);
		return CLI_EINVAL;
	}
	count = corral_shape_elements(t->shape, t->ndim);
	if (count < 0 || (uint64_t)count > SIZE_MAX ||
	    (t->nbytes > 0 && !t->data)) {
		snprintf(err, errlen, "output '%s' has an invalid shape", name);
		return CLI_EINVAL;
	}

	data = json_array();
	if (!data) {
		snprintf(err, errlen, "out of memory");
		return CLI_ENOMEM;
	}
	rc = t->dtype == CORRAL_DT_BYTES ?
	    bytes_data(t, (size_t)count, data, name, err, errlen) :
	    fixed_data(t, (size_t)count, data, name, err, errlen);
	if (rc != CLI_OK) {
		json_decref(data);
		return rc;
	}
	obj = json_object();
	if (!obj) {
		json_decref(data);
		snprintf(err, errlen, "out of memory");
		return CLI_ENOMEM;
	}
	set(&ok, obj, "name", text_json(name));
	set(&ok, obj, "datatype", json_string(dtname));
	set(&ok, obj, "shape", shape_json(t->shape, t->ndim));
	set(&ok, obj, "data", data);
	if (!ok) {
		json_decref(obj);
		snprintf(err, errlen, "out of memory");
		return CLI_ENOMEM;
	}
	*out = obj;
	return CLI_OK;
}

int cli_real_precision(corral_dtype dt)
{
	/* UINT64 above INT64_MAX is printed as a real (see element_json). */
	return dt == CORRAL_DT_FP64 || dt == CORRAL_DT_UINT64 ? 17 : 9;
}

/* ------------------------------------------------- metadata, models --- */

static json_t *meta_tensors_json(const struct corral_meta_tensor *ts,
    size_t n)
{
	json_t *a = json_array();
	bool ok = a != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		const char *dt = corral_dtype_name(ts[i].dtype);
		uint32_t ndim = ts[i].ndim > CORRAL_MAX_DIMS ? CORRAL_MAX_DIMS :
		    ts[i].ndim;
		json_t *o = json_object();

		if (!o) {
			ok = false;
			break;
		}
		set(&ok, o, "name", text_json(ts[i].name));
		set(&ok, o, "datatype", dt ? json_string(dt) : json_null());
		set(&ok, o, "shape", shape_json(ts[i].shape, ndim));
		if (ts[i].labels != NULL) {
			json_t *labels = json_array();
			for (size_t k = 0; labels && k < ts[i].n_labels; k++)
				append(&ok, labels, text_json(ts[i].labels[k]));
			set(&ok, o, "labels", labels ? labels : json_null());
		}
		append(&ok, a, o);
	}
	if (!ok) {
		json_decref(a);
		return NULL;
	}
	return a;
}

json_t *cli_metadata_json(const corral_metadata *m)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!ok)
		return NULL;
	set(&ok, o, "name", text_json(m->name));
	set(&ok, o, "version", json_integer(m->version));
	set(&ok, o, "plugin", text_json(m->plugin));
	set(&ok, o, "plugin_version", text_json(m->plugin_version));
	set(&ok, o, "inputs", meta_tensors_json(m->inputs, m->n_inputs));
	set(&ok, o, "outputs", meta_tensors_json(m->outputs, m->n_outputs));
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *cli_models_json(const corral_model_list *l)
{
	json_t *doc = json_object(), *a = json_array();
	bool ok = doc && a;

	for (size_t i = 0; ok && i < l->count; i++) {
		const struct corral_model_entry *e = &l->entries[i];
		json_t *o = json_object();

		if (!o) {
			ok = false;
			break;
		}
		set(&ok, o, "name", text_json(e->name));
		set(&ok, o, "version", json_integer(e->version));
		set(&ok, o, "state", text_json(e->state));
		set(&ok, o, "default", json_boolean(e->is_default));
		if (e->last_error)
			set(&ok, o, "last_error", text_json(e->last_error));
		append(&ok, a, o);
	}
	if (ok) {
		set(&ok, doc, "models", a);
		a = NULL;
	}
	json_decref(a);
	if (!ok) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static int text_width(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > 200 ? 200 : (int)n; /* a freak name must not pad all */
}

void cli_models_table(FILE *f, const corral_model_list *l)
{
	int wname = text_width("NAME"), wver = text_width("VERSION");
	int wstate = text_width("STATE");

	for (size_t i = 0; i < l->count; i++) {
		const struct corral_model_entry *e = &l->entries[i];
		int w = snprintf(NULL, 0, "%" PRId64, e->version);
		if (text_width(e->name) > wname)
			wname = text_width(e->name);
		if (w > wver)
			wver = w;
		if (text_width(e->state) > wstate)
			wstate = text_width(e->state);
	}
	fprintf(f, "%-*s  %-*s  %-*s  %-7s  %s\n", wname, "NAME", wver, "VERSION",
	    wstate, "STATE", "DEFAULT", "LAST ERROR");
	for (size_t i = 0; i < l->count; i++) {
		const struct corral_model_entry *e = &l->entries[i];
		/* No padding after the last column when it is empty. */
		fprintf(f, "%-*s  %-*" PRId64 "  %-*s  %-*s%s%s\n", wname,
		    e->name ? e->name : "", wver, e->version, wstate,
		    e->state ? e->state : "", e->last_error ? 7 : 0,
		    e->is_default ? "yes" : "no", e->last_error ? "  " : "",
		    e->last_error ? e->last_error : "");
	}
}

int cli_print_json(FILE *f, const json_t *doc, size_t flags)
{
	if (json_dumpf(doc, f, flags) != 0 || fputc('\n', f) == EOF)
		return -1;
	return 0;
}
