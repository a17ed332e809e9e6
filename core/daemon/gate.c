/* gate.c - the validation gate (gate.h). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <corral/client.h>

#include "cli_input.h"
#include "control_ops.h"
#include "gate.h"
#include "log.h"
#include "perf.h"
#include "routing.h"
#include "yaml_doc.h"

#define GATE_BATCH 256

/* A validation set: what to measure, and the rows. */
typedef struct vset {
	char metric[16];      /* accuracy, mae or rmse */
	char *output;         /* the output compared; NULL: the first */
	double threshold;     /* accuracy at least / error at most */
	bool has_threshold;
	double max_regression; /* worse than the default by at most this */
	size_t rows, cols;    /* cols: the input's values per row */
	double *x, *y;
} vset;

static void vset_free(vset *s)
{
	free(s->output);
	free(s->x);
	free(s->y);
}

const char *gate_state_name(int state)
{
	static const char *const names[] = {"none", "pending", "passed", "failed"};
	return state >= GATE_NONE && state <= GATE_FAILED ? names[state] : "unknown";
}

bool gate_present(const char *version_dir)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof path, "%s/validation.yaml", version_dir);
	return stat(path, &st) == 0;
}

bool gate_open(const model_version *mv)
{
	return mv->gate == GATE_NONE || mv->gate == GATE_PASSED;
}

static bool lower_is_better(const vset *s)
{
	return strcmp(s->metric, "accuracy") != 0;
}

/* validation.yaml and validation.csv (a header line, then rows of plain
 * numbers: the input's values, then the expected one). */
static int load_set(const char *dir, vset *s, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/validation.yaml", dir);
	yaml_doc d;
	if (ydoc_load(&d, path, err, errlen) != 0)
		return -1;
	static const char *const keys[] = {"metric", "output", "threshold", "max_regression",
	    NULL};
	yaml_node_t *root = ydoc_root(&d);
	char *metric = NULL;
	ydoc_check_keys(&d, root, keys);
	ydoc_str(&d, root, "metric", &metric);
	ydoc_str(&d, root, "output", &s->output);
	s->threshold = NAN;
	ydoc_double(&d, root, "threshold", -1e300, 1e300, &s->threshold);
	ydoc_double(&d, root, "max_regression", 0, 1e300, &s->max_regression);
	snprintf(s->metric, sizeof s->metric, "%s", metric ? metric : "accuracy");
	free(metric);
	if (!d.failed && strcmp(s->metric, "accuracy") != 0 && strcmp(s->metric, "mae") != 0 &&
	    strcmp(s->metric, "rmse") != 0)
		ydoc_fail(&d, ydoc_get(&d, root, "metric"), "metric is accuracy, mae or rmse");
	bool failed = d.failed;
	ydoc_free(&d);
	if (failed)
		return -1;
	int rc;
	s->has_threshold = !isnan(s->threshold);

	/* the CSV parser `corral infer` and `corral batch` read rows with
	 * (libcsv): a header line, quoting, one length for every row */
	snprintf(path, sizeof path, "%s/validation.csv", dir);
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	int e = f ? cli_read_all(f, &text, &len) : errno;
	if (f)
		fclose(f);
	if (e != 0) {
		snprintf(err, errlen, "validation.csv: %s", strerror(e));
		return -1;
	}
	cli_input in = {0};
	char why[256];
	rc = cli_input_parse(text, len, CLI_FORMAT_CSV, &in, why, sizeof why) == CLI_OK ? 0 : -1;
	free(text);
	const cli_table *t = rc == 0 ? &in.tables[0] : NULL;
	if (rc != 0)
		snprintf(err, errlen, "validation.csv: %s", why);
	else if (in.count != 1 || t->cols < 2) {
		snprintf(err, errlen, "validation.csv: rows of the input's values, then the "
		    "expected one");
		rc = -1;
	} else if ((s->x = malloc(t->rows * (t->cols - 1) * sizeof *s->x)) == NULL ||
		   (s->y = malloc(t->rows * sizeof *s->y)) == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	} else {
		s->rows = t->rows;
		s->cols = t->cols - 1;
		for (size_t r = 0; r < t->rows; r++)
			for (size_t c = 0; c < t->cols; c++) {
				const cli_num *v = &t->values[r * t->cols + c];
				double x = v->kind == CLI_NUM_REAL ? v->v.r
				    : v->kind == CLI_NUM_INT     ? (double)v->v.i
								 : (double)v->v.u;
				if (c < s->cols)
					s->x[r * s->cols + c] = x;
				else
					s->y[r] = x;
			}
	}
	cli_input_free(&in);
	return rc;
}

/* The metric of model/version on the set, through the daemon's own
 * socket at url. Returns 0, or -1 with err. */
static int score(const char *url, const char *name, int64_t version, const char *input,
    corral_dtype dtype, const vset *s, double *value, char *err, size_t errlen)
{
	corral_client *c = NULL;
	corral_error cerr = {0};
	if (corral_client_open(&c, url, &cerr) != CORRAL_OK) {
		snprintf(err, errlen, "%.300s", cerr.message);
		return -1;
	}
	/* a validation set is not production traffic: keep it out of the
	 * prediction log, and so out of the data exported for retraining */
	corral_client_set_logging(c, false);
	double sum = 0;
	size_t right = 0;
	int rc = 0;
	float *f32 = dtype == CORRAL_DT_FP32 ? malloc(GATE_BATCH * s->cols * sizeof *f32) : NULL;
	for (size_t start = 0; rc == 0 && start < s->rows; start += GATE_BATCH) {
		size_t n = s->rows - start < GATE_BATCH ? s->rows - start : GATE_BATCH;
		int64_t shape[2] = {(int64_t)n, (int64_t)s->cols};
		const double *rows = &s->x[start * s->cols];
		corral_tensor t = {input, CORRAL_DT_FP64, 2, shape, rows, n * s->cols * sizeof(double)};
		if (f32 != NULL) {
			for (size_t i = 0; i < n * s->cols; i++)
				f32[i] = (float)rows[i];
			t.dtype = CORRAL_DT_FP32;
			t.data = f32;
			t.nbytes = n * s->cols * sizeof *f32;
		}
		corral_result *r = NULL;
		if (corral_infer(c, name, version, &t, 1, NULL, 0, &r, &cerr) != CORRAL_OK) {
			snprintf(err, errlen, "%s: %.300s", corral_status_name(cerr.code), cerr.message);
			rc = -1;
			break;
		}
		const corral_tensor *o = s->output ? corral_result_find(r, s->output)
						   : corral_result_output(r, 0);
		size_t total = 1;
		for (uint32_t k = 0; o && k < o->ndim; k++)
			total *= (size_t)o->shape[k];
		size_t width = n ? total / n : 0;
		if (o == NULL || width == 0 || total != n * width || !perf_numeric(o->dtype)) {
			snprintf(err, errlen, "output '%s': not a numeric output with a value per row",
			    s->output ? s->output : "(the first)");
			corral_result_free(r);
			rc = -1;
			break;
		}
		for (size_t row = 0; row < n; row++) {
			double pred = perf_row_prediction(o->dtype, o->data, width, row);
			double want = s->y[start + row], diff = pred - want;
			right += fabs(diff) < 1e-9;
			sum += strcmp(s->metric, "mae") == 0 ? fabs(diff) : diff * diff;
		}
		corral_result_free(r);
	}
	free(f32);
	corral_client_close(c);
	if (rc == 0)
		*value = strcmp(s->metric, "accuracy") == 0 ? (double)right / (double)s->rows
		    : strcmp(s->metric, "mae") == 0          ? sum / (double)s->rows
							     : sqrt(sum / (double)s->rows);
	return rc;
}

/* What a check needs, copied under the lock. */
typedef struct check {
	corrald *d;
	model_version *mv; /* referenced */
	char model[128], dir[4096], url[512], input[64];
	int64_t version, default_version;
	corral_dtype dtype;
} check;

/* Score mv, then the default, compare, record. Returns 0 with *passed,
 * or -1 when the check itself could not run (report says why; the state
 * is then FAILED: a set that cannot be scored keeps the version out). */
static int run_check(check *k, bool *passed, char *report, size_t reportlen)
{
	vset s = {0};
	char err[400] = "";
	double value = NAN, dvalue = NAN;
	int rc = load_set(k->dir, &s, err, sizeof err);
	if (rc == 0)
		rc = score(k->url, k->model, k->version, k->input, k->dtype, &s, &value, err,
		    sizeof err);
	if (rc == 0 && k->default_version != 0 &&
	    score(k->url, k->model, k->default_version, k->input, k->dtype, &s, &dvalue, err,
		sizeof err) != 0) {
		dvalue = NAN; /* the default cannot be compared: its own threshold only */
		log_event(LOG_WARN, &(log_ctx){.model = k->model, .version = k->version},
		    "model %s version %lld: validation: the default version %lld could not be "
		    "scored (%s); compared with the thresholds only", k->model,
		    (long long)k->version, (long long)k->default_version, err);
	}
	*passed = false;
	if (rc != 0) {
		snprintf(report, reportlen, "validation could not run: %s", err);
	} else {
		bool lower = lower_is_better(&s);
		bool meets = !s.has_threshold || (lower ? value <= s.threshold : value >= s.threshold);
		bool regressed = !isnan(dvalue) &&
		    (lower ? value > dvalue + s.max_regression : value < dvalue - s.max_regression);
		*passed = meets && !regressed;
		int n = snprintf(report, reportlen, "%s %.6g on %zu rows", s.metric, value, s.rows);
		if (s.has_threshold && n > 0 && (size_t)n < reportlen)
			n += snprintf(report + n, reportlen - (size_t)n, " (%s %.6g%s)",
			    lower ? "at most" : "at least", s.threshold, meets ? "" : ": missed");
		if (!isnan(dvalue) && n > 0 && (size_t)n < reportlen)
			snprintf(report + n, reportlen - (size_t)n,
			    "; default version %lld: %.6g (tolerance %.6g%s)",
			    (long long)k->default_version, dvalue, s.max_regression,
			    regressed ? ": regressed" : "");
	}
	vset_free(&s);
	corrald *d = k->d;
	pthread_mutex_lock(&d->lock);
	k->mv->gate = *passed ? GATE_PASSED : GATE_FAILED;
	snprintf(k->mv->gate_report, sizeof k->mv->gate_report, "%s", report);
	pthread_mutex_unlock(&d->lock);
	log_event(*passed ? LOG_INFO : LOG_WARN, &(log_ctx){.model = k->model, .version = k->version},
	    "model %s version %lld: validation %s: %s", k->model, (long long)k->version,
	    *passed ? "passed" : "failed: kept out of traffic", report);
	return rc;
}

/* Fill k for mv (lock held); false when it cannot be checked. */
static bool prepare(corrald *d, model_version *mv, check *k, char *why, size_t whylen)
{
	if (!mv->sig_known || mv->n_sig != 1) {
		snprintf(why, whylen, mv->sig_known ? "validation takes a model with one input"
						    : "the version has not been READY yet");
		return false;
	}
	if (d->cfg.n_listen == 0) {
		snprintf(why, whylen, "corrald has no listen address to score through");
		return false;
	}
	model *m = mv->model;
	*k = (check){.d = d, .mv = mv, .version = mv->version, .dtype = mv->sig[0].dtype};
	snprintf(k->model, sizeof k->model, "%s", m->name);
	snprintf(k->dir, sizeof k->dir, "%s", mv->dir);
	snprintf(k->url, sizeof k->url, "%s", d->cfg.listen[0]);
	snprintf(k->input, sizeof k->input, "%s", mv->sig[0].name);
	int64_t dv = routing_default_version(m);
	model_version *dm = dv != mv->version ? model_find_version(m, dv) : NULL;
	k->default_version = dm && gate_open(dm) && version_state_of(dm) == VERSION_READY ? dv : 0;
	version_ref(mv);
	return true;
}

static void *gate_thread(void *arg)
{
	check *k = arg;
	corrald *d = k->d;
	bool passed;
	char report[512];
	run_check(k, &passed, report, sizeof report);
	version_unref(k->mv);
	free(k);
	__atomic_sub_fetch(&d->gates_running, 1, __ATOMIC_RELEASE);
	return NULL;
}

bool gate_wait_all(corrald *d, int64_t timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	while (__atomic_load_n(&d->gates_running, __ATOMIC_ACQUIRE) > 0) {
		if (now_ms() >= end)
			return false;
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return true;
}

void gate_start(corrald *d, model_version *mv)
{
	check *k = malloc(sizeof *k);
	char why[256];
	pthread_t t;
	pthread_attr_t attr;
	if (k == NULL || !prepare(d, mv, k, why, sizeof why)) {
		mv->gate = GATE_FAILED;
		snprintf(mv->gate_report, sizeof mv->gate_report, "validation could not run: %s",
		    k ? why : "out of memory");
		free(k);
		log_event(LOG_WARN, &(log_ctx){.model = mv->model->name, .version = mv->version},
		    "model %s version %lld: validation failed: kept out of traffic: %s",
		    mv->model->name, (long long)mv->version, mv->gate_report);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	__atomic_add_fetch(&d->gates_running, 1, __ATOMIC_RELEASE);
	if (pthread_create(&t, &attr, gate_thread, k) != 0) {
		__atomic_sub_fetch(&d->gates_running, 1, __ATOMIC_RELEASE);
		mv->gate = GATE_FAILED;
		snprintf(mv->gate_report, sizeof mv->gate_report,
		    "validation could not run: no thread");
		version_unref(mv);
		free(k);
	}
	pthread_attr_destroy(&attr);
}

corral_status gate_run_now(corrald *d, model *m, int64_t v, bool *passed, char *report,
    size_t reportlen)
{
	check k;
	pthread_mutex_lock(&d->lock);
	model_version *mv = model_find_version(m, v);
	corral_status st = CORRAL_OK;
	if (mv == NULL) {
		st = CORRAL_E_VERSION_NOT_FOUND;
		snprintf(report, reportlen, "model '%s' has no served version %lld", m->name,
		    (long long)v);
	} else if (mv->gate == GATE_NONE) {
		st = CORRAL_E_FAILED_PRECONDITION;
		snprintf(report, reportlen, "model '%s' version %lld has no validation.yaml",
		    m->name, (long long)v);
	} else if (!prepare(d, mv, &k, report, reportlen)) {
		st = CORRAL_E_FAILED_PRECONDITION;
	}
	pthread_mutex_unlock(&d->lock);
	if (st != CORRAL_OK)
		return st;
	run_check(&k, passed, report, reportlen);
	version_unref(k.mv);
	return CORRAL_OK;
}

corral_status op_validate(corrald *d, const wire_request *req, msgpack_packer *pk,
    char *err, size_t errlen)
{
	corral_status st = control_check_admin(d, req, err, errlen);
	if (st != CORRAL_OK)
		return st;
	if (req->version <= 0) {
		snprintf(err, errlen, "validate needs 'model' and 'version'");
		return CORRAL_E_INVALID_ARGUMENT;
	}
	pthread_mutex_lock(&d->lock);
	model *m = models_find_model(d, req->model);
	pthread_mutex_unlock(&d->lock);
	if (m == NULL) {
		snprintf(err, errlen, "no model named '%.*s'",
		    (int)(req->model.len > 64 ? 64 : req->model.len), req->model.ptr);
		return CORRAL_E_MODEL_NOT_FOUND;
	}
	bool passed = false;
	char report[512];
	st = gate_run_now(d, m, req->version, &passed, report, sizeof report);
	if (st != CORRAL_OK) {
		snprintf(err, errlen, "%s", report);
		return st;
	}
	if (msgpack_pack_map(pk, req->id ? 6 : 5) || wire_pack_envelope(pk, req->id) ||
	    wire_pack_kv_str(pk, "model", m->name) || wire_pack_cstr(pk, "version") ||
	    wire_pack_i64(pk, req->version) || wire_pack_cstr(pk, "passed") ||
	    (passed ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) ||
	    wire_pack_kv_str(pk, "report", report)) {
		snprintf(err, errlen, "out of memory");
		return CORRAL_E_INTERNAL;
	}
	return CORRAL_OK;
}
