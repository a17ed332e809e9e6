/* metrics.c - counters and the Prometheus text exposition (metrics.h).
 *
 * The text format is written by hand: it is a few lines of plain text
 * per series (Prometheus's "exposition formats" page), and no Debian
 * package offers a C client library for it. */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "gate.h"
#include "metrics.h"
#include "models.h"
#include "predlog.h"

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0"
#endif

const double metrics_bucket_bounds[METRICS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static uint64_t unrouted[METRICS_MAX_CODE + 1];

static void add(uint64_t *counter, uint64_t n)
{
	__atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

static void observe(histogram *h, int64_t us)
{
	double s = (double)us / 1e6;
	size_t b = 0;
	while (b < METRICS_BUCKETS && s > metrics_bucket_bounds[b])
		b++;
	add(&h->buckets[b], 1);
	add(&h->sum_us, us > 0 ? (uint64_t)us : 0);
}

void metrics_observe(version_metrics *m, corral_status st, int64_t elapsed_us,
    int64_t queue_us, int64_t infer_us)
{
	add(&m->requests[st <= METRICS_MAX_CODE ? st : CORRAL_E_INTERNAL], 1);
	observe(&m->duration, elapsed_us);
	if (queue_us >= 0 && infer_us >= 0) {
		observe(&m->queue, queue_us);
		observe(&m->infer, infer_us);
	}
}

void metrics_observe_unrouted(corral_status st)
{
	add(&unrouted[st <= METRICS_MAX_CODE ? st : CORRAL_E_INTERNAL], 1);
}

/* A label value with \, " and newline escaped, as the format asks. */
static void put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

/* `name{model="M",version="V"` (the caller closes the braces). */
static void series(FILE *f, const char *name, const model_version *mv)
{
	fprintf(f, "%s{model=\"", name);
	put_label(f, mv->model->name);
	fprintf(f, "\",version=\"%lld\"", (long long)mv->version);
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Loop over every version in the table, as mv (lock held). */
#define FOR_EACH_VERSION(d, mv)                                              \
	for (size_t i_ = 0; i_ < (d)->n_models; i_++)                        \
		for (size_t j_ = 0; j_ < (d)->models[i_]->n_versions; j_++)  \
			for (model_version *mv = (d)->models[i_]->versions[j_]; mv; mv = NULL)

/* One histogram of every version: the one at `offset` in its metrics. */
static void render_histogram(FILE *f, corrald *d, const char *name, const char *help,
    size_t offset)
{
	char bucket[96], sum[96], count[96];
	snprintf(bucket, sizeof bucket, "%s_bucket", name);
	snprintf(sum, sizeof sum, "%s_sum", name);
	snprintf(count, sizeof count, "%s_count", name);
	header(f, name, "histogram", help);
	FOR_EACH_VERSION(d, mv)
	{
		const histogram *h = (const histogram *)((const char *)&mv->metrics + offset);
		uint64_t cumulative = 0;
		for (int b = 0; b <= METRICS_BUCKETS; b++) {
			cumulative += get(&h->buckets[b]);
			series(f, bucket, mv);
			if (b < METRICS_BUCKETS)
				fprintf(f, ",le=\"%g\"} %llu\n", metrics_bucket_bounds[b],
				    (unsigned long long)cumulative);
			else
				fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
		}
		series(f, sum, mv);
		fprintf(f, "} %.6f\n", (double)get(&h->sum_us) / 1e6);
		series(f, count, mv);
		fprintf(f, "} %llu\n", (unsigned long long)cumulative);
	}
}

static void render_requests(FILE *f, corrald *d)
{
	header(f, "corral_requests_total", "counter",
	    "Requests that reached a model version, by the status they were answered with.");
	FOR_EACH_VERSION(d, mv)
	for (int c = 0; c <= METRICS_MAX_CODE; c++) {
		/* every code, zeros too: a series that appears only at its
		 * first count would hide that count from rate() and increase() */
		uint64_t n = get(&mv->metrics.requests[c]);
		series(f, "corral_requests_total", mv);
		fprintf(f, ",code=\"%s\"} %llu\n", corral_status_name((corral_status)c),
		    (unsigned long long)n);
	}
	header(f, "corral_requests_unrouted_total", "counter",
	    "Requests answered before reaching a model version (malformed, unknown model "
	    "or version, refused control op...), by status.");
	for (int c = CORRAL_E_MALFORMED; c <= METRICS_MAX_CODE; c++)
		fprintf(f, "corral_requests_unrouted_total{code=\"%s\"} %llu\n",
		    corral_status_name((corral_status)c), (unsigned long long)get(&unrouted[c]));
	render_histogram(f, d, "corral_request_duration_seconds",
	    "Time from a request's arrival to its answer, for requests that reached a "
	    "model version.", offsetof(version_metrics, duration));
	render_histogram(f, d, "corral_request_queue_seconds",
	    "Time from a request's arrival until it was sent to a worker (waiting for a "
	    "READY worker, retries included), for requests a worker answered.",
	    offsetof(version_metrics, queue));
	render_histogram(f, d, "corral_request_infer_seconds",
	    "Time from sending a request to a worker to its reply (the worker's decoding, "
	    "the model's infer, the transport), for requests a worker answered.",
	    offsetof(version_metrics, infer));
}

static void render_workers(FILE *f, corrald *d)
{
	header(f, "corral_model_ready", "gauge",
	    "1 when the version has a READY worker, else 0.");
	FOR_EACH_VERSION(d, mv)
	{
		series(f, "corral_model_ready", mv);
		fprintf(f, "} %d\n", version_state_of(mv) == VERSION_READY);
	}
	header(f, "corral_queue_length", "gauge",
	    "Requests waiting for a READY worker, or sent to a busy one.");
	FOR_EACH_VERSION(d, mv)
	{
		series(f, "corral_queue_length", mv);
		fprintf(f, "} %zu\n", version_queue_length(mv));
	}
	header(f, "corral_workers", "gauge", "Worker slots by state.");
	FOR_EACH_VERSION(d, mv)
	for (int s = VERSION_STARTING; s <= VERSION_DRAINING; s++) {
		size_t n = 0;
		for (size_t k = 0; k < mv->n_inst; k++) {
			version_state st = mv->draining && mv->inst[k].state == VERSION_READY
			    ? VERSION_DRAINING : mv->inst[k].state;
			n += st == (version_state)s;
		}
		series(f, "corral_workers", mv);
		fprintf(f, ",state=\"%s\"} %zu\n", version_state_name((version_state)s), n);
	}
	header(f, "corral_worker_exits_total", "counter", "Worker ends, by cause.");
	FOR_EACH_VERSION(d, mv)
	for (int c = 0; c < EXIT_N_CAUSES; c++) {
		series(f, "corral_worker_exits_total", mv);
		fprintf(f, ",cause=\"%s\"} %llu\n", exit_cause_name((exit_cause)c),
		    (unsigned long long)mv->exits[c]);
	}
	header(f, "corral_sandbox_violations_total", "counter",
	    "Workers ended by the sandbox, by the syscall they tried (a series appears at "
	    "its first violation; corral_worker_exits_total{cause=\"sandbox_violation\"} "
	    "counts them all from 0).");
	FOR_EACH_VERSION(d, mv)
	for (size_t k = 0; k < mv->n_violations; k++) {
		series(f, "corral_sandbox_violations_total", mv);
		fprintf(f, ",syscall=\"");
		put_label(f, mv->violations[k].syscall);
		fprintf(f, "\"} %llu\n", (unsigned long long)mv->violations[k].n);
	}
	header(f, "corral_model_load_seconds", "gauge",
	    "How long the version's last worker took from start to READY.");
	FOR_EACH_VERSION(d, mv)
	if (mv->load_ms > 0) {
		series(f, "corral_model_load_seconds", mv);
		fprintf(f, "} %.3f\n", (double)mv->load_ms / 1000.0);
	}
	header(f, "corral_drift_psi", "gauge",
	    "Population stability index of each feature of the served inputs against the "
	    "version's baseline (drift_interval_ms window; appears once the window has "
	    "enough rows).");
	FOR_EACH_VERSION(d, mv)
	for (size_t k = 0; mv->drift && k < mv->drift->n_features; k++) {
		const drift_feature *df = &mv->drift->features[k];
		if (isnan(df->psi))
			continue;
		series(f, "corral_drift_psi", mv);
		fprintf(f, ",feature=\"");
		put_label(f, df->name);
		fprintf(f, "\"} %.6f\n", df->psi);
	}
	header(f, "corral_validation_passed", "gauge",
	    "1 when the version's validation gate passed, 0 when it failed (kept out of "
	    "traffic); absent without a validation set and while the check runs.");
	FOR_EACH_VERSION(d, mv)
	if (mv->gate == GATE_PASSED || mv->gate == GATE_FAILED) {
		series(f, "corral_validation_passed", mv);
		fprintf(f, "} %d\n", mv->gate == GATE_PASSED);
	}
	header(f, "corral_worker_starts_total", "counter", "Workers started.");
	FOR_EACH_VERSION(d, mv)
	{
		series(f, "corral_worker_starts_total", mv);
		fprintf(f, "} %llu\n", (unsigned long long)mv->starts);
	}
	header(f, "corral_worker_resident_memory_bytes", "gauge",
	    "Memory of each running worker: its cgroup's usage, else its resident set.");
	FOR_EACH_VERSION(d, mv)
	for (size_t k = 0; k < mv->n_inst; k++) {
		const worker *w = mv->inst[k].w;
		int64_t bytes = w != NULL && w->pid > 0 ? worker_memory(w) : -1;
		if (bytes < 0)
			continue;
		series(f, "corral_worker_resident_memory_bytes", mv);
		fprintf(f, ",slot=\"%zu\"} %lld\n", k, (long long)bytes);
	}
}

/* Each version's figures from feedback (perf.h), both windows. */
typedef struct perf_pair {
	const model_version *mv;
	perf_report w[2]; /* recent, total */
} perf_pair;

static void render_perf_family(FILE *f, const perf_pair *p, size_t n, const char *name,
    bool classification, size_t offset, const char *help)
{
	static const char *const windows[2] = {"recent", "total"};
	header(f, name, "gauge", help);
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			const perf_report *r = &p[i].w[k];
			if (r->rows == 0 || r->classification != classification)
				continue;
			series(f, name, p[i].mv);
			fprintf(f, ",window=\"%s\"} %.10g\n", windows[k],
			    *(const double *)((const char *)r + offset));
		}
}

static void render_feedback(FILE *f, corrald *d)
{
	header(f, "corral_feedback_rows_total", "counter",
	    "Rows of the version's predictions given their ground truth by feedback.");
	size_t n = 0;
	FOR_EACH_VERSION(d, mv)
	n++;
	perf_pair *p = calloc(n ? n : 1, sizeof *p);
	if (p == NULL)
		return;
	n = 0;
	FOR_EACH_VERSION(d, mv)
	{
		p[n].mv = mv;
		perf_report_of(mv->perf, true, &p[n].w[0]);
		perf_report_of(mv->perf, false, &p[n].w[1]);
		series(f, "corral_feedback_rows_total", mv);
		fprintf(f, "} %llu\n", (unsigned long long)p[n].w[1].rows);
		n++;
	}
	static const char tail[] = " from feedback, over the version's latest rows with "
				   "feedback (window=\"recent\", the model's feedback.window) "
				   "or all since the version was loaded (window=\"total\").";
	struct {
		const char *name;
		bool classification;
		size_t offset;
		const char *what;
	} families[] = {
	    {"corral_feedback_accuracy_ratio", true, offsetof(perf_report, accuracy),
		"A classifier's share of predictions that were right"},
	    {"corral_feedback_precision_ratio", true, offsetof(perf_report, precision),
		"A classifier's precision (of class 1 for two classes, else the mean over the "
		"classes met)"},
	    {"corral_feedback_recall_ratio", true, offsetof(perf_report, recall),
		"A classifier's recall (of class 1 for two classes, else the mean over the "
		"classes met)"},
	    {"corral_feedback_f1_ratio", true, offsetof(perf_report, f1),
		"A classifier's F1 score (of class 1 for two classes, else the mean over the "
		"classes met)"},
	    {"corral_feedback_mean_absolute_error", false, offsetof(perf_report, mae),
		"A regressor's mean absolute error"},
	    {"corral_feedback_root_mean_squared_error", false, offsetof(perf_report, rmse),
		"A regressor's root mean squared error"},
	};
	for (size_t k = 0; k < sizeof families / sizeof *families; k++) {
		char help[512];
		snprintf(help, sizeof help, "%s%s", families[k].what, tail);
		render_perf_family(f, p, n, families[k].name, families[k].classification,
		    families[k].offset, help);
	}
	free(p);
}

static void render_predlog(FILE *f, const predlog *l)
{
	predlog_counts c;
	predlog_stats(l, &c);
	header(f, "corral_prediction_log_rows", "gauge", "Predictions in the prediction log.");
	fprintf(f, "corral_prediction_log_rows %lld\n", (long long)c.rows);
	header(f, "corral_prediction_log_written_total", "counter",
	    "Predictions written to the prediction log.");
	fprintf(f, "corral_prediction_log_written_total %llu\n", (unsigned long long)c.written);
	header(f, "corral_prediction_log_skipped_total", "counter",
	    "Sampled predictions not logged: the queue to the database was full, or the "
	    "request was over prediction_log.max_bytes.");
	fprintf(f, "corral_prediction_log_skipped_total{reason=\"queue_full\"} %llu\n",
	    (unsigned long long)c.skipped_full);
	fprintf(f, "corral_prediction_log_skipped_total{reason=\"too_large\"} %llu\n",
	    (unsigned long long)c.skipped_large);
	header(f, "corral_prediction_log_failed_total", "counter",
	    "Predictions queued whose write to the database failed (see the log).");
	fprintf(f, "corral_prediction_log_failed_total %llu\n", (unsigned long long)c.failed);
	header(f, "corral_prediction_log_deleted_total", "counter",
	    "Predictions the retention (max_rows, max_age_s) deleted.");
	fprintf(f, "corral_prediction_log_deleted_total %llu\n", (unsigned long long)c.deleted);
}

char *metrics_render(corrald *d, int in_flight, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (f == NULL)
		return NULL;
	header(f, "corral_build_info", "gauge", "corrald's version; always 1.");
	fprintf(f, "corral_build_info{version=\"%s\"} 1\n", CORRAL_VERSION);
	header(f, "corral_inflight_requests", "gauge",
	    "Requests received and not yet answered.");
	fprintf(f, "corral_inflight_requests %d\n", in_flight);
	pthread_mutex_lock(&d->lock);
	render_requests(f, d);
	render_workers(f, d);
	render_feedback(f, d);
	pthread_mutex_unlock(&d->lock);
	if (d->predlog != NULL)
		render_predlog(f, d->predlog);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
