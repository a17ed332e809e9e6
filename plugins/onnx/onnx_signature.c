/*
 * onnx_signature.c - a session's inputs and outputs, as ONNX Runtime
 * declares them, checked for what corral can carry, and the outputs the
 * model's `outputs` parameter selects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_plugin.h"

/* Why a port cannot be carried, or "" when it can. */
typedef struct sig_port {
	onnx_port port;
	char why[96];
} sig_port;

static const char *sig_onnx_type_name(enum ONNXType t)
{
	switch (t) {
	case ONNX_TYPE_TENSOR: return "tensor";
	case ONNX_TYPE_SEQUENCE: return "sequence";
	case ONNX_TYPE_MAP: return "map";
	case ONNX_TYPE_OPAQUE: return "opaque value";
	case ONNX_TYPE_SPARSETENSOR: return "sparse tensor";
	case ONNX_TYPE_OPTIONAL: return "optional";
	default: return "value of unknown type";
	}
}

/* Fill p from ORT's type info; p->why says what corral cannot carry. */
static corral_plugin_error sig_read_type(const OrtApi *ort,
    const OrtTypeInfo *info, sig_port *p, char *err, size_t errlen)
{
	const OrtTensorTypeAndShapeInfo *ti;
	enum ONNXType kind;
	size_t nd;
	OrtStatus *st;

	if ((st = ort->GetOnnxTypeFromTypeInfo(info, &kind)) != NULL)
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "onnx: '%s'", p->port.name);
	if (kind != ONNX_TYPE_TENSOR) {
		snprintf(p->why, sizeof p->why, "is a %s; corral carries "
		    "tensors only", sig_onnx_type_name(kind));
		return CORRAL_PLUGIN_OK;
	}
	if ((st = ort->CastTypeInfoToTensorInfo(info, &ti)) != NULL ||
	    (st = ort->GetTensorElementType(ti, &p->port.type)) != NULL ||
	    (st = ort->GetDimensionsCount(ti, &nd)) != NULL)
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "onnx: '%s'", p->port.name);
	/* Without shape information ORT reports 0 dimensions, as for a
	 * scalar: tell them apart. */
	p->port.rank_known = ort->TensorTypeAndShape_HasShape(ti);
	p->port.dtype = onnx_dtype_from_ort(p->port.type);
	if (p->port.dtype == CORRAL_DT_INVALID) {
		snprintf(p->why, sizeof p->why, "has element type %s, which no "
		    "corral datatype carries", onnx_ort_type_name(p->port.type));
		return CORRAL_PLUGIN_OK;
	}
	if (nd > CORRAL_MAX_DIMS) {
		snprintf(p->why, sizeof p->why, "has %zu dimensions; corral "
		    "carries at most %d", nd, CORRAL_MAX_DIMS);
		return CORRAL_PLUGIN_OK;
	}
	if ((st = ort->GetDimensions(ti, p->port.shape, nd)) != NULL)
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "onnx: '%s'", p->port.name);
	p->port.ndim = (uint32_t)nd;
	/* Symbolic ("batch") and unknown dimensions both come as -1. */
	for (size_t i = 0; i < nd; i++)
		if (p->port.shape[i] < 0)
			p->port.shape[i] = -1;
	return CORRAL_PLUGIN_OK;
}

/* Read input (is_input) or output i of the session into p. */
static corral_plugin_error sig_read_port(onnx_model *m, int is_input,
    size_t i, sig_port *p, char *err, size_t errlen)
{
	const OrtApi *ort = m->ort;
	const char *kind = is_input ? "input" : "output";
	OrtTypeInfo *info = NULL;
	corral_plugin_error rc;
	OrtStatus *st;
	char *name;

	st = is_input ? ort->SessionGetInputName(m->session, i, m->alloc, &name)
		      : ort->SessionGetOutputName(m->session, i, m->alloc, &name);
	if (st != NULL)
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "onnx: the name of %s %zu", kind, i);
	p->port.name = strdup(name);
	ort->ReleaseStatus(ort->AllocatorFree(m->alloc, name));
	if (p->port.name == NULL) {
		corral_errf(err, errlen, "onnx: out of memory");
		return CORRAL_PLUGIN_NO_MEMORY;
	}
	st = is_input ? ort->SessionGetInputTypeInfo(m->session, i, &info)
		      : ort->SessionGetOutputTypeInfo(m->session, i, &info);
	if (st != NULL)
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "onnx: the type of %s '%s'", kind, p->port.name);
	rc = sig_read_type(ort, info, p, err, errlen);
	ort->ReleaseTypeInfo(info);
	/* A corral signature gives every input a rank; an output's can be
	 * learnt from the warm-up (onnx_plugin.c). */
	if (rc == CORRAL_PLUGIN_OK && is_input && p->why[0] == '\0' &&
	    !p->port.rank_known)
		snprintf(p->why, sizeof p->why, "declares no shape; corral "
		    "needs at least its rank");
	return rc;
}

static void sig_ports_free(sig_port *ports, size_t n)
{
	for (size_t i = 0; ports != NULL && i < n; i++)
		free(ports[i].port.name);
	free(ports);
}

/* Read all inputs or all outputs of the session. */
static corral_plugin_error sig_read_all(onnx_model *m, int is_input,
    sig_port **out, size_t *n_out, char *err, size_t errlen)
{
	const OrtApi *ort = m->ort;
	corral_plugin_error rc = CORRAL_PLUGIN_OK;
	sig_port *ports;
	OrtStatus *st;
	size_t n;

	st = is_input ? ort->SessionGetInputCount(m->session, &n)
		      : ort->SessionGetOutputCount(m->session, &n);
	if (st != NULL)
		return onnx_status(ort, st, CORRAL_PLUGIN_INTERNAL, err, errlen,
		    "onnx: cannot count the model's %s",
		    is_input ? "inputs" : "outputs");
	ports = calloc(n ? n : 1, sizeof *ports);
	if (ports == NULL) {
		corral_errf(err, errlen, "onnx: out of memory");
		return CORRAL_PLUGIN_NO_MEMORY;
	}
	for (size_t i = 0; i < n && rc == CORRAL_PLUGIN_OK; i++)
		rc = sig_read_port(m, is_input, i, &ports[i], err, errlen);
	if (rc != CORRAL_PLUGIN_OK) {
		sig_ports_free(ports, n);
		return rc;
	}
	*out = ports;
	*n_out = n;
	return CORRAL_PLUGIN_OK;
}

/* "a, b, c": the names, for messages. */
static void sig_list_names(char *buf, size_t n, const sig_port *ports,
    size_t count)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < count && off < n; i++) {
		int k = snprintf(buf + off, n - off, "%s%s", i ? ", " : "",
		    ports[i].port.name);
		if (k < 0)
			return;
		off += (size_t)k;
	}
}

/*
 * Mark in `chosen` (indexes into all, in the order given) the outputs that
 * the comma-separated list `select` names. Blanks around names are
 * ignored.
 */
static corral_plugin_error sig_select(const char *select, const sig_port *all,
    size_t n_all, size_t *chosen, size_t *n_chosen, char *err, size_t errlen)
{
	const char *p = select;
	char names[512];

	*n_chosen = 0;
	for (;;) {
		const char *end = strchr(p, ','), *s = p;
		size_t len;

		if (end == NULL)
			end = p + strlen(p);
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		len = (size_t)(end - s);
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len == 0) {
			corral_errf(err, errlen, "onnx: parameter outputs \"%s\" "
			    "has an empty name (it takes comma-separated "
			    "output names)", select);
			return CORRAL_PLUGIN_INVALID_ARGUMENT;
		}
		size_t i;
		for (i = 0; i < n_all; i++)
			if (strlen(all[i].port.name) == len &&
			    memcmp(all[i].port.name, s, len) == 0)
				break;
		if (i == n_all) {
			sig_list_names(names, sizeof names, all, n_all);
			corral_errf(err, errlen, "onnx: parameter outputs names "
			    "\"%.*s\", which is not an output of the model "
			    "(it has: %s)", (int)len, s, names);
			return CORRAL_PLUGIN_INVALID_ARGUMENT;
		}
		for (size_t j = 0; j < *n_chosen; j++) {
			if (chosen[j] == i) {
				corral_errf(err, errlen, "onnx: parameter outputs "
				    "names \"%s\" twice", all[i].port.name);
				return CORRAL_PLUGIN_INVALID_ARGUMENT;
			}
		}
		chosen[(*n_chosen)++] = i;
		if (*end == '\0')
			return CORRAL_PLUGIN_OK;
		p = end + 1;
	}
}

corral_plugin_error onnx_signature_read(onnx_model *m, const char *select,
    char *err, size_t errlen)
{
	sig_port *ins = NULL, *outs = NULL;
	size_t n_ins = 0, n_outs = 0, n_chosen = 0, *chosen = NULL;
	corral_plugin_error rc;

	rc = sig_read_all(m, 1, &ins, &n_ins, err, errlen);
	if (rc != CORRAL_PLUGIN_OK)
		return rc;
	rc = sig_read_all(m, 0, &outs, &n_outs, err, errlen);
	if (rc != CORRAL_PLUGIN_OK)
		goto out;

	/* An input we cannot carry makes the model unusable. */
	for (size_t i = 0; i < n_ins; i++) {
		if (ins[i].why[0] != '\0') {
			corral_errf(err, errlen, "onnx: input '%s' %s",
			    ins[i].port.name, ins[i].why);
			rc = CORRAL_PLUGIN_UNSUPPORTED;
			goto out;
		}
	}

	rc = CORRAL_PLUGIN_NO_MEMORY;
	chosen = calloc(n_outs ? n_outs : 1, sizeof *chosen);
	if (chosen == NULL) {
		corral_errf(err, errlen, "onnx: out of memory");
		goto out;
	}
	if (select != NULL) {
		rc = sig_select(select, outs, n_outs, chosen, &n_chosen, err,
		    errlen);
		if (rc != CORRAL_PLUGIN_OK)
			goto out;
	} else {
		for (size_t i = 0; i < n_outs; i++)
			chosen[n_chosen++] = i;
	}
	/* An output we cannot carry must be left out by name. */
	for (size_t j = 0; j < n_chosen; j++) {
		const sig_port *p = &outs[chosen[j]];

		if (p->why[0] != '\0') {
			corral_errf(err, errlen, "onnx: output '%s' %s%s",
			    p->port.name, p->why, select == NULL
			    ? "; serve the other outputs by naming them in "
			      "the model parameter `outputs`" : "");
			rc = CORRAL_PLUGIN_UNSUPPORTED;
			goto out;
		}
	}
	if (n_chosen == 0) {
		corral_errf(err, errlen, "onnx: the model has no outputs");
		rc = CORRAL_PLUGIN_BAD_MODEL;
		goto out;
	}

	/* Keep the inputs and the chosen outputs; free the rest. */
	rc = CORRAL_PLUGIN_NO_MEMORY;
	m->inputs = calloc(n_ins ? n_ins : 1, sizeof *m->inputs);
	m->outputs = calloc(n_chosen, sizeof *m->outputs);
	if (m->inputs == NULL || m->outputs == NULL) {
		corral_errf(err, errlen, "onnx: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_ins; i++) {
		m->inputs[i] = ins[i].port;
		ins[i].port.name = NULL;
	}
	m->n_inputs = n_ins;
	for (size_t j = 0; j < n_chosen; j++) {
		m->outputs[j] = outs[chosen[j]].port;
		outs[chosen[j]].port.name = NULL;
	}
	m->n_outputs = n_chosen;
	rc = CORRAL_PLUGIN_OK;
out:
	free(chosen);
	sig_ports_free(ins, n_ins);
	sig_ports_free(outs, n_outs);
	return rc;
}

void onnx_signature_free(onnx_model *m)
{
	for (size_t i = 0; m->inputs != NULL && i < m->n_inputs; i++)
		free(m->inputs[i].name);
	for (size_t i = 0; m->outputs != NULL && i < m->n_outputs; i++)
		free(m->outputs[i].name);
	free(m->inputs);
	free(m->outputs);
	m->inputs = m->outputs = NULL;
	m->n_inputs = m->n_outputs = 0;
}
