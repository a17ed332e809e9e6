/*
 * onnx_run.c - one run of a session: the request's tensors become ORT
 * values (over the request's own buffers where ORT can use them as they
 * are), ORT runs, and its outputs are copied into the host's buffers.
 *
 * Shared by infer() and load()'s warm-up, so the warm-up exercises exactly
 * the path that later runs confined.
 */
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_plugin.h"

/* Copies in the scratch buffer start at this alignment: more than any
 * element needs (malloc gives 16 too). */
#define RUN_ALIGN 16

/* Where a zero-byte tensor points: ORT wants a pointer, never reads it. */
static uint64_t run_empty[1];

/* ------------------------------------------------------------------------
 * Binding the request's inputs
 * ------------------------------------------------------------------------ */

static size_t run_find_input(const onnx_model *m, const char *name)
{
	for (size_t i = 0; i < m->n_inputs; i++)
		if (strcmp(m->inputs[i].name, name) == 0)
			return i;
	return m->n_inputs;
}

/* Does tensor t fit port p? (The host checks this too; a plugin that
 * trusted it blindly would read out of bounds on a host bug.) */
static corral_plugin_error run_check_input(const onnx_port *p,
    const corral_tensor *t, char *err, size_t errlen)
{
	char want[128], got[128];
	int64_t elements;
	size_t esize = corral_dtype_size(p->dtype);
	size_t unit = esize ? esize : 4; /* BYTES: at least a length each */
	int shape_ok = t->ndim == p->ndim && (t->ndim == 0 || t->shape != NULL);

	if (t->dtype != p->dtype) {
		const char *dt = corral_dtype_name(t->dtype);

		corral_errf(err, errlen, "input '%s' must be %s, got %s", p->name,
		    corral_dtype_name(p->dtype), dt ? dt : "an invalid datatype");
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	for (uint32_t d = 0; shape_ok && d < t->ndim; d++)
		shape_ok = t->shape[d] >= 0 &&
		    (p->shape[d] < 0 || p->shape[d] == t->shape[d]);
	if (!shape_ok) {
		onnx_format_shape(want, sizeof want, p->shape, p->ndim);
		if (t->shape != NULL && t->ndim <= CORRAL_MAX_DIMS)
			onnx_format_shape(got, sizeof got, t->shape, t->ndim);
		else
			snprintf(got, sizeof got, "of rank %u", t->ndim);
		corral_errf(err, errlen, "input '%s' has shape %s, the model takes "
		    "%s (-1: any)", p->name, got, want);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	elements = corral_shape_elements(t->shape, t->ndim);
	if (elements < 0 || (uint64_t)elements > SIZE_MAX / unit) {
		corral_errf(err, errlen, "input '%s': its shape has too many "
		    "elements", p->name);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	if ((esize > 0 && t->nbytes != (size_t)elements * esize) ||
	    (esize == 0 && t->nbytes < (size_t)elements * unit) ||
	    (t->nbytes > 0 && t->data == NULL)) {
		corral_errf(err, errlen, "input '%s': %zu data bytes do not hold "
		    "%lld %s elements", p->name, t->data ? t->nbytes : 0,
		    (long long)elements, corral_dtype_name(p->dtype));
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	return CORRAL_PLUGIN_OK;
}

corral_plugin_error onnx_run_bind(onnx_model *m, const corral_tensor *inputs,
    size_t n_inputs, char *err, size_t errlen)
{
	corral_plugin_error rc;

	if (n_inputs != m->n_inputs || (n_inputs > 0 && inputs == NULL)) {
		corral_errf(err, errlen, "the model takes %zu inputs, got %zu",
		    m->n_inputs, n_inputs);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	for (size_t i = 0; i < m->n_inputs; i++)
		m->feed[i] = NULL;
	for (size_t k = 0; k < n_inputs; k++) {
		const corral_tensor *t = &inputs[k];
		size_t i = t->name ? run_find_input(m, t->name) : m->n_inputs;

		if (i == m->n_inputs) {
			corral_errf(err, errlen, "the model has no input '%s'",
			    t->name ? t->name : "");
			return CORRAL_PLUGIN_INVALID_ARGUMENT;
		}
		if (m->feed[i] != NULL) {
			corral_errf(err, errlen, "input '%s' given twice",
			    m->inputs[i].name);
			return CORRAL_PLUGIN_INVALID_ARGUMENT;
		}
		rc = run_check_input(&m->inputs[i], t, err, errlen);
		if (rc != CORRAL_PLUGIN_OK)
			return rc;
		m->feed[i] = t;
	}
	return CORRAL_PLUGIN_OK;
}

/* ------------------------------------------------------------------------
 * Input values
 * ------------------------------------------------------------------------ */

/* Must input t be copied before ORT sees it? Data from a network message
 * may sit at any address, and ORT's kernels read elements in place; a BOOL
 * byte other than 0 or 1 is not a C++ bool. */
static int run_needs_copy(const corral_tensor *t)
{
	size_t esize = corral_dtype_size(t->dtype);
	const unsigned char *b = t->data;

	if (t->nbytes == 0 || t->dtype == CORRAL_DT_BYTES)
		return 0;
	if (t->dtype == CORRAL_DT_BOOL) {
		for (size_t i = 0; i < t->nbytes; i++)
			if (b[i] > 1)
				return 1;
		return 0;
	}
	return (uintptr_t)t->data % esize != 0;
}

static size_t run_round_up(size_t n)
{
	return (n + RUN_ALIGN - 1) / RUN_ALIGN * RUN_ALIGN;
}

/* Make the scratch buffer hold every copy this request needs. */
static corral_plugin_error run_reserve_scratch(onnx_model *m, char *err,
    size_t errlen)
{
	size_t need = 0;
	unsigned char *p;

	for (size_t i = 0; i < m->n_inputs; i++) {
		if (!run_needs_copy(m->feed[i]))
			continue;
		if (m->feed[i]->nbytes > SIZE_MAX - RUN_ALIGN - need) {
			corral_errf(err, errlen, "the inputs are too large");
			return CORRAL_PLUGIN_NO_MEMORY;
		}
		need += run_round_up(m->feed[i]->nbytes);
	}
	if (need <= m->scratch_cap)
		return CORRAL_PLUGIN_OK;
	p = realloc(m->scratch, need);
	if (p == NULL) {
		corral_errf(err, errlen, "out of memory copying %zu bytes of "
		    "misaligned input", need);
		return CORRAL_PLUGIN_NO_MEMORY;
	}
	m->scratch = p;
	m->scratch_cap = need;
	return CORRAL_PLUGIN_OK;
}

/* A STRING tensor from BYTES elements (4-byte little-endian length, then
 * the bytes): ORT keeps its own std::string per element. Elements may hold
 * any bytes, NUL included, so each is set with its length. */
static corral_plugin_error run_string_value(onnx_model *m, const onnx_port *p,
    const corral_tensor *t, OrtValue **out, char *err, size_t errlen)
{
	const OrtApi *ort = m->ort;
	const unsigned char *src = t->data;
	int64_t elements = corral_shape_elements(t->shape, t->ndim);
	size_t off = 0;
	OrtStatus *st;

	st = ort->CreateTensorAsOrtValue(m->alloc, t->shape, t->ndim,
	    ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING, out);
	if (st != NULL)
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "input '%s'", p->name);
	for (int64_t k = 0; k < elements; k++) {
		uint32_t len;
		char *dst;

		if (t->nbytes - off < 4 ||
		    (memcpy(&len, src + off, 4), t->nbytes - off - 4 < len)) {
			corral_errf(err, errlen, "input '%s': BYTES data ends inside "
			    "element %lld", p->name, (long long)k);
			return CORRAL_PLUGIN_INVALID_ARGUMENT;
		}
		off += 4;
		st = ort->GetResizedStringTensorElementBuffer(*out, (size_t)k,
		    len, &dst);
		if (st != NULL)
			return onnx_status(ort, st, CORRAL_PLUGIN_NO_MEMORY, err,
			    errlen, "input '%s', element %lld", p->name,
			    (long long)k);
		if (len > 0)
			memcpy(dst, src + off, len);
		off += len;
	}
	if (off != t->nbytes) {
		corral_errf(err, errlen, "input '%s': %zu bytes follow its %lld "
		    "BYTES elements", p->name, t->nbytes - off,
		    (long long)elements);
		return CORRAL_PLUGIN_INVALID_ARGUMENT;
	}
	return CORRAL_PLUGIN_OK;
}

/* Input i as an ORT value in m->input_values[i]; *scratch_off advances
 * past any copy made. */
static corral_plugin_error run_input_value(onnx_model *m, size_t i,
    size_t *scratch_off, char *err, size_t errlen)
{
	const onnx_port *p = &m->inputs[i];
	const corral_tensor *t = m->feed[i];
	void *data = run_empty;
	OrtStatus *st;

	if (p->dtype == CORRAL_DT_BYTES)
		return run_string_value(m, p, t, &m->input_values[i], err, errlen);
	if (run_needs_copy(t)) {
		data = m->scratch + *scratch_off;
		*scratch_off += run_round_up(t->nbytes);
		if (t->dtype == CORRAL_DT_BOOL) {
			const unsigned char *b = t->data;
			unsigned char *d = data;

			for (size_t k = 0; k < t->nbytes; k++)
				d[k] = b[k] != 0;
		} else {
			memcpy(data, t->data, t->nbytes);
		}
	} else if (t->nbytes > 0) {
		/* ORT takes a non-const pointer but never writes to the
		 * buffers of a run's inputs. */
		data = (void *)(uintptr_t)t->data;
	}
	st = m->ort->CreateTensorWithDataAsOrtValue(m->cpu, data, t->nbytes,
	    t->shape, t->ndim, p->type, &m->input_values[i]);
	return onnx_status(m->ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
	    "input '%s'", p->name);
}

/* ------------------------------------------------------------------------
 * Running
 * ------------------------------------------------------------------------ */

static void run_release_inputs(onnx_model *m)
{
	for (size_t i = 0; i < m->n_inputs; i++) {
		m->ort->ReleaseValue(m->input_values[i]); /* NULL is fine */
		m->input_values[i] = NULL;
	}
}

void onnx_run_release(onnx_model *m)
{
	for (size_t j = 0; m->output_values != NULL && j < m->n_outputs; j++) {
		m->ort->ReleaseValue(m->output_values[j]);
		m->output_values[j] = NULL;
	}
}

corral_plugin_error onnx_run(onnx_model *m, char *err, size_t errlen)
{
	corral_plugin_error rc;
	size_t scratch_off = 0;
	OrtStatus *st;

	rc = run_reserve_scratch(m, err, errlen);
	for (size_t i = 0; i < m->n_inputs && rc == CORRAL_PLUGIN_OK; i++)
		rc = run_input_value(m, i, &scratch_off, err, errlen);
	if (rc == CORRAL_PLUGIN_OK) {
		st = m->ort->Run(m->session, m->run_options, m->input_names,
		    (const OrtValue *const *)m->input_values, m->n_inputs,
		    m->output_names, m->n_outputs, m->output_values);
		rc = onnx_status(m->ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "onnxruntime");
	}
	run_release_inputs(m);
	if (rc != CORRAL_PLUGIN_OK)
		onnx_run_release(m);
	return rc;
}

/* ------------------------------------------------------------------------
 * Outputs
 * ------------------------------------------------------------------------ */

/*
 * A STRING output as BYTES: ORT hands out the strings back to back with
 * each one's offset; corral's layout puts a 4-byte length before each.
 * The offsets need a temporary array (string outputs are not the hot
 * path, so it is allocated per call).
 */
static corral_plugin_error run_emit_strings(onnx_model *m,
    corral_infer_ctx *ctx, const onnx_port *p, OrtValue *v,
    const int64_t *shape, size_t nd, int64_t elements, char *err,
    size_t errlen)
{
	const OrtApi *ort = m->ort;
	size_t len = 0, n = (size_t)elements;
	OrtStatus *st;

	/* A host older than output_alloc_bytes cannot take BYTES outputs. */
	if (m->host->struct_size < offsetof(corral_host_api, output_alloc_bytes) +
		sizeof m->host->output_alloc_bytes ||
	    m->host->output_alloc_bytes == NULL) {
		corral_errf(err, errlen, "output '%s': this host cannot return BYTES "
		    "outputs", p->name);
		return CORRAL_PLUGIN_UNSUPPORTED;
	}
	if ((st = ort->GetStringTensorDataLength(v, &len)) != NULL)
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "output '%s'", p->name);
	if (n > (SIZE_MAX - len) / 4) {
		corral_errf(err, errlen, "output '%s' is too large", p->name);
		return CORRAL_PLUGIN_NO_MEMORY;
	}
	unsigned char *dst = m->host->output_alloc_bytes(ctx, p->name,
	    (uint32_t)nd, shape, 4 * n + len);
	size_t *offsets = calloc(n ? n : 1, sizeof *offsets);
	if (dst == NULL || offsets == NULL) {
		free(offsets);
		corral_errf(err, errlen, "cannot allocate output '%s' of %zu "
		    "strings", p->name, n);
		return CORRAL_PLUGIN_NO_MEMORY;
	}
	/* ORT writes the characters at the end of our buffer; each is then
	 * moved down to its place after its length (memmove: they overlap). */
	unsigned char *chars = dst + 4 * n;
	if (n > 0 && (st = ort->GetStringTensorContent(v, chars, len, offsets, n)) != NULL) {
		free(offsets);
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "output '%s'", p->name);
	}
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		size_t end = i + 1 < n ? offsets[i + 1] : len;
		uint32_t slen = (uint32_t)(end - offsets[i]);
		memcpy(dst + at, &slen, 4);
		memmove(dst + at + 4, chars + offsets[i], slen);
		at += 4 + slen;
	}
	free(offsets);
	return CORRAL_PLUGIN_OK;
}

/* Copy output j into a buffer the host allocates. */
static corral_plugin_error run_emit_one(onnx_model *m, corral_infer_ctx *ctx,
    size_t j, char *err, size_t errlen)
{
	const OrtApi *ort = m->ort;
	const onnx_port *p = &m->outputs[j];
	OrtTensorTypeAndShapeInfo *info = NULL;
	ONNXTensorElementDataType type;
	int64_t shape[CORRAL_MAX_DIMS], elements;
	size_t nd, esize;
	void *src, *dst;
	OrtStatus *st;

	if ((st = ort->GetTensorTypeAndShape(m->output_values[j], &info)) != NULL)
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "output '%s'", p->name);
	if ((st = ort->GetTensorElementType(info, &type)) == NULL &&
	    (st = ort->GetDimensionsCount(info, &nd)) == NULL &&
	    nd <= CORRAL_MAX_DIMS)
		st = ort->GetDimensions(info, shape, nd);
	ort->ReleaseTensorTypeAndShapeInfo(info);
	if (st != NULL)
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "output '%s'", p->name);
	if (nd > CORRAL_MAX_DIMS) {
		corral_errf(err, errlen, "output '%s' came with %zu dimensions; "
		    "corral carries at most %d", p->name, nd, CORRAL_MAX_DIMS);
		return CORRAL_PLUGIN_UNSUPPORTED;
	}
	if (type != p->type) {
		corral_errf(err, errlen, "output '%s' came as %s, the model "
		    "declares %s", p->name, onnx_ort_type_name(type),
		    onnx_ort_type_name(p->type));
		return CORRAL_PLUGIN_INTERNAL;
	}
	esize = corral_dtype_size(p->dtype);
	elements = corral_shape_elements(shape, (uint32_t)nd);
	if (esize == 0 && elements >= 0) /* STRING */
		return run_emit_strings(m, ctx, p, m->output_values[j], shape,
		    nd, elements, err, errlen);
	dst = m->host->output_alloc(ctx, p->name, p->dtype, (uint32_t)nd, shape);
	if (dst == NULL || elements < 0) {
		char s[128];

		onnx_format_shape(s, sizeof s, shape, nd);
		corral_errf(err, errlen, "cannot allocate output '%s' %s %s",
		    p->name, corral_dtype_name(p->dtype), s);
		return CORRAL_PLUGIN_NO_MEMORY;
	}
	if (elements == 0)
		return CORRAL_PLUGIN_OK;
	if ((st = ort->GetTensorMutableData(m->output_values[j], &src)) != NULL)
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "output '%s'", p->name);
	memcpy(dst, src, (size_t)elements * esize);
	return CORRAL_PLUGIN_OK;
}

corral_plugin_error onnx_run_emit(onnx_model *m, corral_infer_ctx *ctx,
    char *err, size_t errlen)
{
	corral_plugin_error rc = CORRAL_PLUGIN_OK;

	for (size_t j = 0; j < m->n_outputs && rc == CORRAL_PLUGIN_OK; j++)
		rc = run_emit_one(m, ctx, j, err, errlen);
	return rc;
}
