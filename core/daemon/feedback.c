/* feedback.c - the feedback op (feedback.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feedback.h"
#include "log.h"
#include "predlog.h"

/* The request's `prediction_id`: a positive integer. */
static corral_status read_id(const wire_request *req, int64_t *id, char *err, size_t errlen)
{
	const msgpack_object *o = wire_map_get(req->root, "prediction_id");
	if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 == 0 ||
	    o->via.u64 > INT64_MAX) {
		snprintf(err, errlen, "feedback needs 'prediction_id', a positive integer (an "
		    "infer reply's prediction_id)");
		return CORRAL_E_INVALID_ARGUMENT;
	}
	*id = (int64_t)o->via.u64;
	return CORRAL_OK;
}

static bool number_of(const msgpack_object *o, double *v)
{
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER: *v = (double)o->via.u64; return true;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: *v = (double)o->via.i64; return true;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: *v = o->via.f64; return isfinite(*v);
	default: return false;
	}
}

/* The request's `truth`: a number, or an array of them, one per row.
 * *truth is a new array of *n values. */
static corral_status read_truth(const wire_request *req, double **truth, size_t *n,
    char *err, size_t errlen)
{
	const msgpack_object *o = wire_map_get(req->root, "truth");
	if (o == NULL || o->type == MSGPACK_OBJECT_NIL) {
		snprintf(err, errlen, "feedback needs 'truth': a number, or an array of one "
		    "per row of the prediction");
		return CORRAL_E_INVALID_ARGUMENT;
	}
	bool array = o->type == MSGPACK_OBJECT_ARRAY;
	*n = array ? o->via.array.size : 1;
	if (*n == 0) {
		snprintf(err, errlen, "'truth' is empty");
		return CORRAL_E_INVALID_ARGUMENT;
	}
	if ((*truth = malloc(*n * sizeof **truth)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return CORRAL_E_INTERNAL;
	}
	for (size_t i = 0; i < *n; i++)
		if (!number_of(array ? &o->via.array.ptr[i] : o, &(*truth)[i])) {
			snprintf(err, errlen, "'truth' must hold finite numbers");
			free(*truth);
			*truth = NULL;
			return CORRAL_E_INVALID_ARGUMENT;
		}
	return CORRAL_OK;
}

/* How the logged outputs are judged. */
typedef struct judgement {
	bool classification;
	size_t classes;  /* a classifier's: truths must be below */
	double *pred;    /* one per row */
} judgement;

/*
 * Read each row's prediction from the logged outputs, as the model's
 * feedback config says. false (with why) when they cannot be judged:
 * the output is missing (the request asked for others) or not numeric.
 */
static bool judge(const predlog_row *row, const feedback_config *fc, judgement *j,
    char *why, size_t whylen)
{
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	bool ok = false;
	const msgpack_object *found = NULL;
	wire_tensor t;
	char msg[256];
	if (wire_scan(row->outputs, row->outputs_len, WIRE_MAX_OBJECTS, msg, sizeof msg) !=
		CORRAL_OK ||
	    msgpack_unpack_next(&u, row->outputs, row->outputs_len, &off) !=
		MSGPACK_UNPACK_SUCCESS ||
	    u.data.type != MSGPACK_OBJECT_ARRAY) {
		snprintf(why, whylen, "the logged outputs do not decode");
		goto out;
	}
	for (uint32_t i = 0; i < u.data.via.array.size && found == NULL; i++) {
		const msgpack_object *o = &u.data.via.array.ptr[i];
		const msgpack_object *name = wire_map_get(o, "name");
		if (fc->output == NULL || (name && name->type == MSGPACK_OBJECT_STR &&
					      wire_str_eq((wire_str){name->via.str.ptr,
							      name->via.str.size},
						  fc->output)))
			found = o;
	}
	if (found == NULL) {
		snprintf(why, whylen, "the prediction lacks output '%s' (its request asked for "
		    "other outputs)", fc->output ? fc->output : "(any)");
		goto out;
	}
	bool decoded = wire_tensor_decode(found, &t, msg, sizeof msg) == CORRAL_OK;
	int nl = decoded ? (int)(t.name.len > 64 ? 64 : t.name.len) : 0; /* for messages */
	if (!decoded || t.array != NULL || !perf_numeric(t.dtype) || row->rows <= 0 ||
	    t.elements % row->rows != 0 || t.elements == 0) {
		snprintf(why, whylen, "output '%.*s' is not numeric with a value per row", nl,
		    decoded ? t.name.ptr : "");
		goto out;
	}
	size_t width = (size_t)(t.elements / row->rows);
	bool integer = t.dtype == CORRAL_DT_INT32 || t.dtype == CORRAL_DT_INT64;
	j->classification = fc->task == FEEDBACK_CLASSIFICATION ||
	    (fc->task == FEEDBACK_AUTO && (integer || width > 1));
	j->classes = !j->classification ? 0 : width > 1 ? width : integer ? PERF_MAX_CLASSES : 2;
	if (!j->classification && width > 1) {
		snprintf(why, whylen, "a regressor's output '%.*s' needs one value per row, "
		    "not %zu", nl, t.name.ptr, width);
		goto out;
	}
	if (j->classes > PERF_MAX_CLASSES) {
		snprintf(why, whylen, "output '%.*s' has %zu classes; feedback judges up to %d",
		    nl, t.name.ptr, j->classes, PERF_MAX_CLASSES);
		goto out;
	}
	if ((j->pred = malloc((size_t)row->rows * sizeof *j->pred)) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	ok = true;
	for (size_t r = 0; r < (size_t)row->rows; r++) {
		double p = perf_row_prediction(t.dtype, t.raw, width, r);
		if (j->classification && width == 1 && !integer)
			p = p >= fc->threshold; /* a probability of class 1 */
		if (j->classification && !(p >= 0 && p < (double)j->classes)) {
			snprintf(why, whylen, "row %zu predicts class %g, not one of 0 .. %zu", r, p,
			    j->classes - 1);
			ok = false;
		}
		j->pred[r] = p;
	}
out:
	msgpack_unpacked_destroy(&u);
	return ok;
}

/* A classifier's truths are class indexes. */
static corral_status check_classes(const judgement *j, const double *truth, size_t n,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (!(truth[i] >= 0 && truth[i] < (double)j->classes) ||
		    truth[i] != floor(truth[i])) {
			snprintf(err, errlen, "the model is judged as a classifier: truth values "
			    "are class indexes 0 .. %zu; row %zu has %g", j->classes - 1, i, truth[i]);
			return CORRAL_E_INVALID_ARGUMENT;
		}
	return CORRAL_OK;
}

corral_status op_feedback(corrald *d, const wire_request *req, msgpack_packer *pk,
    char *err, size_t errlen)
{
	if (d->predlog == NULL) {
		snprintf(err, errlen, "the prediction log is off (prediction_log: path \"\"): "
		    "feedback needs it");
		return CORRAL_E_FAILED_PRECONDITION;
	}
	int64_t id = 0;
	double *truth = NULL;
	size_t n = 0;
	corral_status st = read_id(req, &id, err, errlen);
	if (st == CORRAL_OK)
		st = read_truth(req, &truth, &n, err, errlen);
	if (st != CORRAL_OK)
		return st;

	predlog_row row;
	judgement j = {0};
	model_version *mv = NULL;
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	st = predlog_get(d->predlog, id, &row, err, errlen);
	if (st != CORRAL_OK)
		goto out;
	if (row.has_truth) {
		snprintf(err, errlen, "prediction %lld already has its ground truth",
		    (long long)id);
		st = CORRAL_E_FAILED_PRECONDITION;
		goto out;
	}
	if ((int64_t)n != row.rows) {
		snprintf(err, errlen, "prediction %lld has %lld rows; 'truth' has %zu value%s",
		    (long long)id, (long long)row.rows, n, n == 1 ? "" : "s");
		st = CORRAL_E_INVALID_ARGUMENT;
		goto out;
	}

	/* models live until corrald ends, and their config does not change */
	pthread_mutex_lock(&d->lock);
	model *m = models_find_model(d, (wire_str){row.model, strlen(row.model)});
	if (m != NULL && (mv = model_find_version(m, row.version)) != NULL)
		version_ref(mv);
	pthread_mutex_unlock(&d->lock);
	char why[256] = "the model is not served any more";
	bool judged = m != NULL && judge(&row, &m->cfg.feedback, &j, why, sizeof why);
	if (judged && j.classification &&
	    (st = check_classes(&j, truth, n, err, errlen)) != CORRAL_OK)
		goto out;

	msgpack_packer tp;
	msgpack_packer_init(&tp, &sb, msgpack_sbuffer_write);
	int rc = msgpack_pack_array(&tp, (uint32_t)n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = msgpack_pack_double(&tp, truth[i]);
	if (rc != 0) {
		snprintf(err, errlen, "out of memory");
		st = CORRAL_E_INTERNAL;
		goto out;
	}
	if ((st = predlog_set_truth(d->predlog, id, sb.data, sb.size, err, errlen)) != CORRAL_OK)
		goto out;

	/* counted in the version that answered, while it is served */
	int added = judged && mv != NULL
	    ? perf_add(mv->perf, j.classification, j.pred, truth, n, m->cfg.feedback.window)
	    : -1;
	if (judged && mv == NULL)
		snprintf(why, sizeof why, "the version is not served any more");
	else if (added == -2)
		snprintf(why, sizeof why, "its output reads as a %s's, the version's earlier "
		    "feedback as a %s's (set feedback: task and output in the model's config)",
		    j.classification ? "classifier" : "regressor",
		    j.classification ? "regressor" : "classifier");
	else if (added == -1 && judged)
		snprintf(why, sizeof why, "out of memory");
	bool counted = added == 0;
	if (!counted)
		log_event(LOG_DEBUG, &(log_ctx){.model = row.model, .version = row.version},
		    "feedback for prediction %lld stored, not counted: %s", (long long)id, why);
	if (msgpack_pack_map(pk, req->id ? 7 : 6) || wire_pack_envelope(pk, req->id) ||
	    wire_pack_cstr(pk, "prediction_id") || wire_pack_i64(pk, id) ||
	    wire_pack_kv_str(pk, "model", row.model) || wire_pack_cstr(pk, "version") ||
	    wire_pack_i64(pk, row.version) || wire_pack_cstr(pk, "rows") ||
	    wire_pack_i64(pk, row.rows) || wire_pack_cstr(pk, "counted") ||
	    (counted ? msgpack_pack_true(pk) : msgpack_pack_false(pk))) {
		snprintf(err, errlen, "out of memory");
		st = CORRAL_E_INTERNAL;
	}
out:
	if (mv != NULL)
		version_unref(mv);
	predlog_row_free(&row);
	free(j.pred);
	free(truth);
	msgpack_sbuffer_destroy(&sb);
	return st;
}
