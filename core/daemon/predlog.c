/* predlog.c - the prediction log (predlog.h), kept in SQLite. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "predlog.h"
#include "predlog_schema.h"

/* The writer does not wait for flush_ms once this many rows are queued. */
#define PREDLOG_BATCH 512
/* Rows one retention statement deletes: each is a transaction of its
 * own, so feedback is not kept waiting behind a huge delete. */
#define PREDLOG_DELETE_CHUNK 10000
/* How long feedback waits for its row to be committed, and for the
 * database's write lock. */
#define PREDLOG_WAIT_MS 5000
/* The writer thread's nice value (the request path's threads keep 0). */
#define PREDLOG_NICE 10
/* Ids are reserved in the database this many at a time, ahead of being
 * handed out: rows that a crash keeps from being written never see their
 * ids given again to other predictions after the restart (feedback
 * could meet the wrong one). A restart skips what its run left unused. */
#define PREDLOG_ID_BLOCK 100000

/* A queued row: the inputs, then the outputs, in data. */
typedef struct entry {
	struct entry *next;
	int64_t id, time_ms, version, rows;
	const char *model;
	size_t inputs_len, outputs_len;
	char data[];
} entry;

struct predlog {
	predlog_config cfg;   /* path not owned */
	uint64_t sample_below; /* a draw under this is logged (of 2^32) */
	sqlite3 *wdb;         /* the writer thread's connection */
	sqlite3 *rdb;         /* feedback's, under rlock */
	pthread_mutex_t rlock;
	pthread_mutex_t lock; /* the queue and the ids */
	pthread_cond_t wake;  /* the writer: work, or stop */
	pthread_cond_t committed_cv;
	entry *head, *tail;
	size_t pending, pending_bytes;
	bool urgent;          /* feedback waits for a queued row */
	bool stopping;
	int64_t last_id;      /* the last id handed out */
	int64_t reserved_id;  /* ids up to this are reserved in the database */
	int64_t committed_id; /* every id up to this is written (or failed) */
	pthread_t thread;
	predlog_counts counts; /* atomics */
	int64_t next_age_check_ms; /* writer thread */
	bool failing;         /* the last batch failed (writer thread) */
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_in(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void count(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

/* Run one SQL statement with no result; 0, or -1 with err. */
static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}

/* The first column of the first row of sql (with ?1 = arg), or dflt. */
static int64_t query_i64(sqlite3 *db, const char *sql, int64_t arg, int64_t dflt)
{
	sqlite3_stmt *st = NULL;
	int64_t v = dflt;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return dflt;
	sqlite3_bind_int64(st, 1, arg);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A connection to path with WAL on and a busy timeout. */
static sqlite3 *connect(const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "prediction log %s: %s", path,
		    db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, PREDLOG_WAIT_MS);
	/* WAL: readers (export-log, feedback) do not block the writer.
	 * synchronous=NORMAL: a power cut may lose the last transactions,
	 * never the database. */
	char why[256];
	if (exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", why,
		sizeof why) != 0) {
		snprintf(err, errlen, "prediction log %s: %s", path, why);
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

/* ------------------------------------------------------------ writer --- */

/* Record ids up to `upto` as used, in the table AUTOINCREMENT keeps
 * (SQLite lets it be written): the next start goes on from there. 0, or
 * -1 with why. Writer thread, or before it starts. */
static int reserve_ids(predlog *l, int64_t upto, char *why, size_t whylen)
{
	static const char sql[] =
	    "INSERT INTO sqlite_sequence (name, seq) SELECT 'predictions', 0 WHERE NOT EXISTS "
	    "(SELECT 1 FROM sqlite_sequence WHERE name = 'predictions');"
	    "UPDATE sqlite_sequence SET seq = max(seq, %lld) WHERE name = 'predictions';";
	char text[sizeof sql + 24];
	snprintf(text, sizeof text, sql, (long long)upto);
	return exec(l->wdb, text, why, whylen);
}

/* Insert the batch in one transaction; the rows written, or 0. */
static size_t write_batch(predlog *l, entry *batch, size_t n)
{
	static const char sql[] = "INSERT INTO predictions (id, time_ms, model, version, "
				  "rows, inputs, outputs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
	sqlite3_stmt *st = NULL;
	char why[256] = "";
	int rc = exec(l->wdb, "BEGIN", why, sizeof why) == 0 &&
		sqlite3_prepare_v2(l->wdb, sql, -1, &st, NULL) == SQLITE_OK
	    ? SQLITE_DONE : SQLITE_ERROR;
	for (entry *e = batch; e != NULL && rc == SQLITE_DONE; e = e->next) {
		sqlite3_bind_int64(st, 1, e->id);
		sqlite3_bind_int64(st, 2, e->time_ms);
		sqlite3_bind_text(st, 3, e->model, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, e->version);
		sqlite3_bind_int64(st, 5, e->rows);
		sqlite3_bind_blob(st, 6, e->data, (int)e->inputs_len, SQLITE_STATIC);
		sqlite3_bind_blob(st, 7, e->data + e->inputs_len, (int)e->outputs_len,
		    SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
	}
	if (rc == SQLITE_DONE && exec(l->wdb, "COMMIT", why, sizeof why) == 0) {
		sqlite3_finalize(st);
		if (l->failing)
			log_msg(LOG_INFO, "prediction log: rows are written again");
		l->failing = false;
		return n;
	}
	if (why[0] == '\0')
		snprintf(why, sizeof why, "%s", sqlite3_errmsg(l->wdb));
	sqlite3_finalize(st);
	exec(l->wdb, "ROLLBACK", (char[8]){0}, 8);
	/* once per failure spell, not once per batch */
	if (!l->failing)
		log_msg(LOG_ERROR, "prediction log: %zu rows not written (and later ones "
		    "until it works again): %s", n, why);
	l->failing = true;
	count(&l->counts.failed, n);
	return 0;
}

/* Delete with sql (?1 = arg) until it deletes no more, in chunks. */
static void delete_chunks(predlog *l, const char *sql, int64_t arg)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(l->wdb, sql, -1, &st, NULL) != SQLITE_OK)
		return;
	for (;;) {
		sqlite3_bind_int64(st, 1, arg);
		sqlite3_bind_int64(st, 2, PREDLOG_DELETE_CHUNK);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		int n = rc == SQLITE_DONE ? sqlite3_changes(l->wdb) : 0;
		if (rc != SQLITE_DONE)
			log_msg(LOG_WARN, "prediction log: retention: %s", sqlite3_errmsg(l->wdb));
		__atomic_sub_fetch(&l->counts.rows, n, __ATOMIC_RELAXED);
		count(&l->counts.deleted, (uint64_t)n);
		if (n < PREDLOG_DELETE_CHUNK)
			break;
	}
	sqlite3_finalize(st);
}

/*
 * The retention. Ids grow with time, so the oldest rows are the lowest
 * ids: both limits delete a prefix of the table, found from its head
 * (cost: the rows deleted, not the table).
 */
static void apply_retention(predlog *l)
{
	int64_t rows = __atomic_load_n(&l->counts.rows, __ATOMIC_RELAXED);
	if (l->cfg.max_rows > 0 && rows > l->cfg.max_rows) {
		int64_t first_kept = query_i64(l->wdb,
		    "SELECT id FROM predictions ORDER BY id LIMIT 1 OFFSET ?1",
		    rows - l->cfg.max_rows, 0);
		if (first_kept > 0)
			delete_chunks(l, "DELETE FROM predictions WHERE id IN (SELECT id FROM "
					 "predictions WHERE id < ?1 ORDER BY id LIMIT ?2)",
			    first_kept);
	}
	if (l->cfg.max_age_s > 0 && mono_ms() >= l->next_age_check_ms) {
		l->next_age_check_ms = mono_ms() + 1000;
		int64_t cutoff = wall_ms() - l->cfg.max_age_s * 1000;
		int64_t first_kept = query_i64(l->wdb,
		    "SELECT id FROM predictions WHERE time_ms >= ?1 ORDER BY id LIMIT 1", cutoff,
		    INT64_MAX);
		delete_chunks(l, "DELETE FROM predictions WHERE id IN (SELECT id FROM "
				 "predictions WHERE id < ?1 ORDER BY id LIMIT ?2)",
		    first_kept);
	}
}

static void *writer_main(void *arg)
{
	predlog *l = arg;
	/* When the CPUs are all busy, replies come first: the writer falls
	 * behind (its queue is bounded: PREDLOG_QUEUE_BYTES), not the
	 * requests. Linux's nice is per thread. */
	setpriority(PRIO_PROCESS, (id_t)gettid(), PREDLOG_NICE);
	pthread_mutex_lock(&l->lock);
	for (;;) {
		struct timespec until;
		deadline_in(&until, l->cfg.flush_ms);
		while (!l->stopping && !l->urgent && l->pending < PREDLOG_BATCH &&
		       pthread_cond_timedwait(&l->wake, &l->lock, &until) != ETIMEDOUT)
			;
		entry *batch = l->head;
		size_t n = l->pending;
		int64_t last = l->last_id, reserved = l->reserved_id;
		bool stop = l->stopping;
		l->head = l->tail = NULL;
		l->pending = l->pending_bytes = 0;
		l->urgent = false;
		pthread_mutex_unlock(&l->lock);

		if (n > 0) {
			size_t written = write_batch(l, batch, n);
			count(&l->counts.written, written);
			__atomic_add_fetch(&l->counts.rows, (int64_t)written, __ATOMIC_RELAXED);
		}
		while (batch != NULL) {
			entry *next = batch->next;
			free(batch);
			batch = next;
		}
		apply_retention(l);
		char why[256];
		bool extend = reserved - last < PREDLOG_ID_BLOCK / 2;
		if (extend && reserve_ids(l, last + PREDLOG_ID_BLOCK, why, sizeof why) != 0) {
			log_msg(LOG_ERROR, "prediction log: cannot reserve ids: %s", why);
			extend = false;
		}

		pthread_mutex_lock(&l->lock);
		if (extend)
			l->reserved_id = last + PREDLOG_ID_BLOCK;
		l->committed_id = last;
		pthread_cond_broadcast(&l->committed_cv);
		if (stop && l->head == NULL)
			break;
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* ------------------------------------------------------------- set-up --- */

predlog *predlog_open(const predlog_config *cfg, const char *path, char *err,
    size_t errlen)
{
	/* created private: the rows hold clients' inputs */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "prediction log %s: %s", path, strerror(errno));
		return NULL;
	}
	close(fd);
	predlog *l = calloc(1, sizeof *l);
	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->cfg = *cfg;
	l->cfg.path = NULL;
	l->sample_below = (uint64_t)(cfg->sample_rate * 4294967296.0);
	char why[256];
	if ((l->wdb = connect(path, err, errlen)) == NULL ||
	    (l->rdb = connect(path, err, errlen)) == NULL)
		goto fail;
	if (exec(l->wdb, PREDLOG_SCHEMA, why, sizeof why) != 0) {
		snprintf(err, errlen, "prediction log %s: %s", path, why);
		goto fail;
	}
	/* ids go on from the highest ever reserved (reserve_ids) */
	l->last_id = query_i64(l->wdb,
	    "SELECT max(seq) FROM (SELECT seq FROM sqlite_sequence WHERE name = "
	    "'predictions' UNION ALL SELECT max(id) FROM predictions)",
	    0, 0);
	l->committed_id = l->last_id;
	l->reserved_id = l->last_id + PREDLOG_ID_BLOCK;
	if (reserve_ids(l, l->reserved_id, why, sizeof why) != 0) {
		snprintf(err, errlen, "prediction log %s: %s", path, why);
		goto fail;
	}
	l->counts.rows = query_i64(l->wdb, "SELECT count(*) FROM predictions", 0, 0);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&l->lock, NULL);
	pthread_mutex_init(&l->rlock, NULL);
	pthread_cond_init(&l->wake, &ca);
	pthread_cond_init(&l->committed_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&l->thread, NULL, writer_main, l) != 0) {
		snprintf(err, errlen, "prediction log: cannot start its thread");
		pthread_mutex_destroy(&l->lock);
		pthread_mutex_destroy(&l->rlock);
		pthread_cond_destroy(&l->wake);
		pthread_cond_destroy(&l->committed_cv);
		goto fail;
	}
	return l;
fail:
	sqlite3_close(l->wdb);
	sqlite3_close(l->rdb);
	free(l);
	return NULL;
}

void predlog_close(predlog *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	sqlite3_close(l->wdb);
	sqlite3_close(l->rdb);
	pthread_mutex_destroy(&l->lock);
	pthread_mutex_destroy(&l->rlock);
	pthread_cond_destroy(&l->wake);
	pthread_cond_destroy(&l->committed_cv);
	free(l);
}

/* -------------------------------------------------------- request path --- */

bool predlog_sampled(const predlog *l, uint32_t *seed)
{
	if (l->sample_below >= 4294967296ull)
		return true;
	/* xorshift32: a cheap draw from the caller's own state */
	uint32_t x = *seed ? *seed : 2463534242u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*seed = x;
	return x < l->sample_below;
}

int64_t predlog_submit(predlog *l, const char *model, int64_t version, int64_t rows,
    const void *inputs, size_t inputs_len, const void *outputs, size_t outputs_len)
{
	size_t size = inputs_len + outputs_len;
	if ((l->cfg.max_bytes > 0 && size > (uint64_t)l->cfg.max_bytes) ||
	    size > PREDLOG_QUEUE_BYTES) {
		count(&l->counts.skipped_large, 1);
		return 0;
	}
	entry *e = malloc(sizeof *e + size);
	if (e == NULL) {
		count(&l->counts.skipped_full, 1);
		return 0;
	}
	*e = (entry){.time_ms = wall_ms(), .version = version, .rows = rows, .model = model,
	    .inputs_len = inputs_len, .outputs_len = outputs_len};
	memcpy(e->data, inputs, inputs_len);
	memcpy(e->data + inputs_len, outputs, outputs_len);
	pthread_mutex_lock(&l->lock);
	if (l->pending_bytes + size > PREDLOG_QUEUE_BYTES || l->stopping ||
	    l->last_id >= l->reserved_id) {
		pthread_mutex_unlock(&l->lock);
		free(e);
		count(&l->counts.skipped_full, 1);
		return 0;
	}
	e->id = ++l->last_id;
	if (l->tail != NULL)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
	l->pending_bytes += size;
	if (++l->pending == PREDLOG_BATCH)
		pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
	return e->id;
}

/* ----------------------------------------------------------- feedback --- */

void predlog_row_free(predlog_row *r)
{
	free(r->model);
	free(r->outputs);
	memset(r, 0, sizeof *r);
}

/* Wait until id is committed (the lock held). false: it is not, in time. */
static bool wait_committed(predlog *l, int64_t id)
{
	struct timespec until;
	deadline_in(&until, PREDLOG_WAIT_MS);
	while (l->committed_id < id) {
		l->urgent = true;
		pthread_cond_signal(&l->wake);
		if (pthread_cond_timedwait(&l->committed_cv, &l->lock, &until) == ETIMEDOUT)
			return l->committed_id >= id;
	}
	return true;
}

static corral_status gone(const predlog *l, int64_t id, char *err, size_t errlen)
{
	snprintf(err, errlen, "prediction %lld is not in the prediction log: the retention "
	    "removed it (max_rows %lld, max_age_s %lld), it could not be written, or corrald "
	    "stopped before writing it", (long long)id, (long long)l->cfg.max_rows,
	    (long long)l->cfg.max_age_s);
	return CORRAL_E_PREDICTION_NOT_FOUND;
}

corral_status predlog_get(predlog *l, int64_t id, predlog_row *row, char *err,
    size_t errlen)
{
	memset(row, 0, sizeof *row);
	pthread_mutex_lock(&l->lock);
	bool known = id > 0 && id <= l->last_id;
	bool committed = known && wait_committed(l, id);
	pthread_mutex_unlock(&l->lock);
	if (!known) {
		snprintf(err, errlen, "no prediction %lld was logged (prediction ids come from "
		    "infer replies' prediction_id)", (long long)id);
		return CORRAL_E_PREDICTION_NOT_FOUND;
	}
	if (!committed) {
		snprintf(err, errlen, "prediction %lld is not written to the log yet; try again",
		    (long long)id);
		return CORRAL_E_UNAVAILABLE;
	}
	static const char sql[] = "SELECT model, version, rows, outputs, truth IS NOT NULL "
				  "FROM predictions WHERE id = ?1";
	corral_status st = CORRAL_E_INTERNAL;
	sqlite3_stmt *q = NULL;
	pthread_mutex_lock(&l->rlock);
	int rc = sqlite3_prepare_v2(l->rdb, sql, -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, id);
		rc = sqlite3_step(q);
	}
	if (rc == SQLITE_ROW) {
		const char *model = (const char *)sqlite3_column_text(q, 0);
		const void *out = sqlite3_column_blob(q, 3);
		row->outputs_len = (size_t)sqlite3_column_bytes(q, 3);
		row->version = sqlite3_column_int64(q, 1);
		row->rows = sqlite3_column_int64(q, 2);
		row->has_truth = sqlite3_column_int(q, 4) != 0;
		row->model = strdup(model ? model : "");
		row->outputs = malloc(row->outputs_len ? row->outputs_len : 1);
		if (row->model != NULL && row->outputs != NULL) {
			memcpy(row->outputs, out, row->outputs_len);
			st = CORRAL_OK;
		} else {
			predlog_row_free(row);
			snprintf(err, errlen, "out of memory");
		}
	} else if (rc == SQLITE_DONE) {
		st = gone(l, id, err, errlen);
	} else {
		snprintf(err, errlen, "prediction log: %s", sqlite3_errmsg(l->rdb));
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&l->rlock);
	return st;
}

corral_status predlog_set_truth(predlog *l, int64_t id, const void *truth, size_t len,
    char *err, size_t errlen)
{
	static const char sql[] = "UPDATE predictions SET truth = ?1, truth_time_ms = ?2 "
				  "WHERE id = ?3 AND truth IS NULL";
	corral_status st = CORRAL_E_INTERNAL;
	sqlite3_stmt *q = NULL;
	pthread_mutex_lock(&l->rlock);
	int rc = sqlite3_prepare_v2(l->rdb, sql, -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_blob(q, 1, truth, (int)len, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, wall_ms());
		sqlite3_bind_int64(q, 3, id);
		rc = sqlite3_step(q);
	}
	if (rc == SQLITE_DONE && sqlite3_changes(l->rdb) == 1)
		st = CORRAL_OK;
	else if (rc == SQLITE_DONE &&
		 query_i64(l->rdb, "SELECT count(*) FROM predictions WHERE id = ?1", id, 0) == 0)
		st = gone(l, id, err, errlen);
	else if (rc == SQLITE_DONE) {
		snprintf(err, errlen, "prediction %lld already has its ground truth",
		    (long long)id);
		st = CORRAL_E_FAILED_PRECONDITION;
	} else
		snprintf(err, errlen, "prediction log: %s", sqlite3_errmsg(l->rdb));
	sqlite3_finalize(q);
	pthread_mutex_unlock(&l->rlock);
	return st;
}

void predlog_stats(const predlog *l, predlog_counts *out)
{
	out->written = __atomic_load_n(&l->counts.written, __ATOMIC_RELAXED);
	out->skipped_full = __atomic_load_n(&l->counts.skipped_full, __ATOMIC_RELAXED);
	out->skipped_large = __atomic_load_n(&l->counts.skipped_large, __ATOMIC_RELAXED);
	out->failed = __atomic_load_n(&l->counts.failed, __ATOMIC_RELAXED);
	out->deleted = __atomic_load_n(&l->counts.deleted, __ATOMIC_RELAXED);
	out->rows = __atomic_load_n(&l->counts.rows, __ATOMIC_RELAXED);
}
