/*
 * export_log_test.c - `corral export-log` on a prediction log written here.
 *
 * The test plays corrald: it creates a log with PREDLOG_SCHEMA in WAL mode
 * in a temporary folder, inserts logged requests packed by the wire codec
 * (and a few broken ones), and runs the real `corral` (argv[1]) on it,
 * keeping its own connection open as corrald does. It checks the CSV byte
 * for byte, the filters, what is left out and why, and the exit statuses.
 */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#include <msgpack.h>
#include <sqlite3.h>

#include "predlog_schema.h"
#include "test.h"
#include "wire.h"

/* 2026-11-26T21:50:01.123Z */
#define T0_MS 1795729801123LL
#define T0_TEXT "2026-11-26T21:50:01.123Z"

static const char *cli;
static char dir[PATH_MAX], db_path[PATH_MAX + 32], out_path[PATH_MAX + 32];
static char stdout_path[PATH_MAX + 32], stderr_path[PATH_MAX + 32];
static sqlite3 *db;
static char *out_text, *err_text, *stdout_text; /* of the last run */

/* ------------------------------------------------------- the log --- */

typedef struct blob {
	msgpack_sbuffer sb;
	msgpack_packer pk;
} blob;

/* A blob that is an array of n values, packed next. */
static void blob_array(blob *b, uint32_t n)
{
	msgpack_sbuffer_init(&b->sb);
	msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
	msgpack_pack_array(&b->pk, n);
}

static void blob_tensor(blob *b, const char *name, corral_dtype dt,
    uint32_t ndim, const int64_t *shape, const void *data, size_t nbytes)
{
	corral_tensor t = {name, dt, ndim, shape, data, nbytes};

	REQUIRE(wire_pack_tensor_view(&b->pk, &t) == 0);
}

/* Insert a logged request; in, out and truth (may be NULL) are freed. */
static void insert(int64_t id, const char *model, int64_t version,
    int64_t rows, blob *in, blob *out, blob *truth)
{
	sqlite3_stmt *st;

	REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO predictions (id, time_ms, "
	    "model, version, rows, inputs, outputs, truth) VALUES (?, ?, ?, ?, "
	    "?, ?, ?, ?)", -1, &st, NULL) == SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, T0_MS + (id - 1) * 1000);
	sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, version);
	sqlite3_bind_int64(st, 5, rows);
	sqlite3_bind_blob(st, 6, in->sb.data, (int)in->sb.size, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, out->sb.data, (int)out->sb.size, SQLITE_STATIC);
	if (truth)
		sqlite3_bind_blob(st, 8, truth->sb.data, (int)truth->sb.size,
		    SQLITE_STATIC);
	REQUIRE(sqlite3_step(st) == SQLITE_DONE);
	sqlite3_finalize(st);
	msgpack_sbuffer_destroy(&in->sb);
	msgpack_sbuffer_destroy(&out->sb);
	if (truth)
		msgpack_sbuffer_destroy(&truth->sb);
}

/* Model "m": input x FP64 [rows, width], output y FP32 [rows]. */
static void insert_m(int64_t id, const char *model, int64_t version,
    int64_t rows, int64_t width, const double *x, const float *y,
    const double *truth)
{
	int64_t xs[2] = {rows, width}, ys[1] = {rows};
	blob in, out, t;

	blob_array(&in, 1);
	blob_tensor(&in, "x", CORRAL_DT_FP64, 2, xs, x,
	    (size_t)(rows * width) * sizeof *x);
	blob_array(&out, 1);
	blob_tensor(&out, "y", CORRAL_DT_FP32, 1, ys, y, (size_t)rows * sizeof *y);
	if (truth) {
		blob_array(&t, (uint32_t)rows);
		for (int64_t r = 0; r < rows; r++)
			msgpack_pack_double(&t.pk, truth[r]);
	}
	insert(id, model, version, rows, &in, &out, truth ? &t : NULL);
}

/* Model "rich": every kind of column. ids INT64 [2, 2] gives ids_0 and
 * ids_1; text BYTES [2] one text per line; scale, a scalar, and bf, whose
 * first dimension is not the rows, every line the same; the output `ids`
 * is named like an input (out_ids). Truth: row 0 only (row 1 nil). */
static void insert_rich(int64_t id)
{
	static const int64_t ids[4] = {INT64_MIN, INT64_MAX, 0, -1};
	static const unsigned char text[] = "\x04\x00\x00\x00" "a,\"b"
	    "\x05\x00\x00\x00" "hello";
	static const float scale = 2.5f;
	static const int64_t out_ids[2] = {5, -5};
	static const uint8_t flag[2] = {1, 0};
	static const uint16_t h[2] = {0x3C00, 0xC000};  /* FP16 1, -2 */
	static const uint16_t bf[1] = {0x3FC0};         /* BF16 1.5 */
	int64_t s22[2] = {2, 2}, s2[1] = {2}, s21[2] = {2, 1}, s1[1] = {1};
	blob in, out, t;

	blob_array(&in, 3);
	blob_tensor(&in, "ids", CORRAL_DT_INT64, 2, s22, ids, sizeof ids);
	blob_tensor(&in, "text", CORRAL_DT_BYTES, 1, s2, text, sizeof text - 1);
	blob_tensor(&in, "scale", CORRAL_DT_FP32, 0, NULL, &scale, sizeof scale);
	blob_array(&out, 4);
	blob_tensor(&out, "ids", CORRAL_DT_INT64, 1, s2, out_ids, sizeof out_ids);
	blob_tensor(&out, "flag", CORRAL_DT_BOOL, 2, s21, flag, sizeof flag);
	blob_tensor(&out, "h", CORRAL_DT_FP16, 1, s2, h, sizeof h);
	blob_tensor(&out, "bf", CORRAL_DT_BF16, 1, s1, bf, sizeof bf);
	blob_array(&t, 2);
	msgpack_pack_int64(&t.pk, 3);
	msgpack_pack_nil(&t.pk);
	insert(id, "rich", 1, 2, &in, &out, &t);
}

/* A request whose inputs blob ends in the middle of a map. */
static void insert_corrupt(int64_t id)
{
	static const float y = 1;
	int64_t ys[1] = {1};
	blob in, out;

	msgpack_sbuffer_init(&in.sb);
	msgpack_sbuffer_write(&in.sb, "\x91\x84\xa4name", 6);
	blob_array(&out, 1);
	blob_tensor(&out, "y", CORRAL_DT_FP32, 1, ys, &y, sizeof y);
	insert(id, "m", 1, 1, &in, &out, NULL);
}

static void make_log(void)
{
	static const double x1[6] = {1.5, 2, 3, 4, 5.25, -6};
	static const float y1[2] = {0.5f, 0.1f};
	static const double t1[2] = {1, 0.25};
	static const double x2[3] = {7, 8, 9}, x7[3] = {10, 11, 12};
	static const double x4[4] = {1, 2, 3, 4}, x8[3] = {1, 2, 3};
	static const float y2[1] = {2}, y4[1] = {3}, y7[1] = {4}, y8[1] = {5};
	static const double t7[1] = {2};

	REQUIRE(sqlite3_open(db_path, &db) == SQLITE_OK);
	REQUIRE(sqlite3_exec(db, "PRAGMA journal_mode=WAL;" PREDLOG_SCHEMA,
	    NULL, NULL, NULL) == SQLITE_OK);
	insert_m(1, "m", 1, 2, 3, x1, y1, t1);
	insert_m(2, "m", 1, 1, 3, x2, y2, NULL);
	insert_m(3, "other", 1, 1, 3, x2, y2, NULL);
	insert_m(4, "m", 2, 1, 4, x4, y4, NULL); /* another signature */
	insert_corrupt(5);
	insert_rich(6);
	insert_m(7, "m", 1, 1, 3, x7, y7, t7);
	/* model "t": a truth of 2 values for 1 row; then 5 rows in tensors
	 * of 1; then a good one */
	for (int64_t id = 10; id <= 11; id++) {
		int64_t xs[2] = {1, 3}, ys[1] = {1};
		blob in, out, t;

		blob_array(&in, 1);
		blob_tensor(&in, "x", CORRAL_DT_FP64, 2, xs, x2, sizeof x2);
		blob_array(&out, 1);
		blob_tensor(&out, "y", CORRAL_DT_FP32, 1, ys, y2, sizeof y2);
		blob_array(&t, 2);
		msgpack_pack_double(&t.pk, 1);
		msgpack_pack_double(&t.pk, 2);
		if (id == 10)
			insert(id, "t", 1, 1, &in, &out, &t);
		else
			insert(id, "t", 1, 5, &in, &out, NULL);
		if (id == 11)
			msgpack_sbuffer_destroy(&t.sb);
	}
	insert_m(12, "t", 1, 1, 3, x2, y2, NULL);
	/* x of rank 1 ([3], first dimension not the 1 row): all of it on
	 * the line; and a model name that needs quoting. */
	{
		int64_t xs[1] = {3}, ys[1] = {1};
		blob in, out;

		blob_array(&in, 1);
		blob_tensor(&in, "x", CORRAL_DT_FP64, 1, xs, x8, sizeof x8);
		blob_array(&out, 1);
		blob_tensor(&out, "y", CORRAL_DT_FP32, 1, ys, y8, sizeof y8);
		insert(8, "m,q", 1, 1, &in, &out, NULL);
	}
}

/* ------------------------------------------------------ running it --- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (f == NULL)
		return NULL;
	REQUIRE(fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0);
	rewind(f);
	REQUIRE((s = malloc((size_t)n + 1)) != NULL);
	REQUIRE(fread(s, 1, (size_t)n, f) == (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* Run `corral export-log ARGS...` (NULL-terminated). Its standard output
 * and error are kept in stdout_text and err_text, OUT's text in out_text
 * (NULL when there is none). Returns the exit status, -1 if it was killed. */
static int run(const char *arg, ...)
{
	const char *argv[24] = {cli, "export-log"};
	int n = 2, status;
	va_list ap;
	pid_t pid;

	va_start(ap, arg);
	for (; arg && n < 23; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;
	unlink(out_path);
	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int o = open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		execv(cli, (char *const *)argv);
		_exit(127);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	free(out_text);
	free(err_text);
	free(stdout_text);
	out_text = slurp(out_path);
	err_text = slurp(stderr_path);
	stdout_text = slurp(stdout_path);
	REQUIRE(err_text && stdout_text);
	/* Under the sanitizers, a report would otherwise pass for exit 1. */
	CHECK_MSG(strstr(err_text, "Sanitizer") == NULL &&
	    strstr(err_text, "runtime error") == NULL, "%s", err_text);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define CHECK_ERR(needle) \
	CHECK_MSG(strstr(err_text, needle) != NULL, "stderr has \"%s\": %s", \
	    needle, err_text)

/* ------------------------------------------------------------- tests --- */

#define M_HEADER "prediction_id,time,model,version,row,x_0,x_1,x_2,y,truth\n"
#define M_LINES_1                                                  \
	"1," T0_TEXT ",m,1,0,1.5,2,3,0.5,1\n"                      \
	"1," T0_TEXT ",m,1,1,4,5.25,-6,0.100000001,0.25\n"
#define M_LINE_2 "2,2026-11-26T21:50:02.123Z,m,1,0,7,8,9,2,\n"
#define M_LINE_7 "7,2026-11-26T21:50:07.123Z,m,1,0,10,11,12,4,2\n"

/* Every version: version 2's row and the corrupt one are left out. */
static void test_all_versions(void)
{
	CHECK_INT(run("m", "--db", db_path, "-o", out_path, NULL), 1);
	CHECK_STR(out_text, M_HEADER M_LINES_1 M_LINE_2 M_LINE_7);
	CHECK_ERR("prediction 4 (version 2) left out: its columns differ from "
	    "the first row's (column 'x_3' where the first row's has 'y'); "
	    "export one version with --version");
	CHECK_ERR("prediction 5 (version 1) left out: inputs: ");
	CHECK_ERR("exported 4 rows of 3 predictions to ");
	CHECK_ERR("; 2 predictions left out (listed above)");
	CHECK_STR(stdout_text, "");
}

static void test_filters(void)
{
	/* --labelled drops 2 and the corrupt 5 (no truth) in the query */
	CHECK_INT(run("m", "--db", db_path, "--version", "1", "--labelled", "-o",
	    out_path, NULL), 0);
	CHECK_STR(out_text, M_HEADER M_LINES_1 M_LINE_7);
	CHECK_ERR("exported 3 rows of 2 predictions to ");

	/* standard output by default; the summary stays on stderr */
	CHECK_INT(run("m", "--db", db_path, "--version", "2", NULL), 0);
	CHECK_STR(stdout_text, "prediction_id,time,model,version,row,x_0,x_1,x_2,"
	    "x_3,y,truth\n4,2026-11-26T21:50:04.123Z,m,2,0,1,2,3,4,3,\n");
	CHECK_ERR("exported 1 row of 1 prediction to standard output");
	CHECK(out_text == NULL);

	CHECK_INT(run("m", "--db", db_path, "--version", "1", "--after", "5",
	    "-o", out_path, NULL), 0);
	CHECK_STR(out_text, M_HEADER M_LINE_7);

	/* nothing to export: no header either */
	CHECK_INT(run("m", "--db", db_path, "--after", "7", "-o", out_path, NULL), 0);
	CHECK_STR(out_text, "");
	CHECK_ERR("exported 0 rows of 0 predictions");
	CHECK_INT(run("nope", "--db", db_path, "-o", out_path, NULL), 0);
	CHECK_STR(out_text, "");
}

/* A write transaction open in the log (corrald between commits) neither
 * blocks the export nor shows in it. */
static void test_while_written(void)
{
	static const double x[3] = {0, 0, 0};
	static const float y[1] = {0};

	REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	insert_m(9, "m", 1, 1, 3, x, y, NULL);
	CHECK_INT(run("m", "--db", db_path, "--version", "1", "--after", "5",
	    "-o", out_path, NULL), 0);
	CHECK_STR(out_text, M_HEADER M_LINE_7);
	REQUIRE(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
}

static void test_types(void)
{
	static const char header[] = "prediction_id,time,model,version,row,"
	    "ids_0,ids_1,text,scale,out_ids,flag,h,bf,truth\n";
	static const char row0[] = "6,2026-11-26T21:50:06.123Z,rich,1,0,"
	    "-9223372036854775808,9223372036854775807,\"a,\"\"b\",2.5,5,1,1,1.5,3\n";
	static const char row1[] = "6,2026-11-26T21:50:06.123Z,rich,1,1,"
	    "0,-1,hello,2.5,-5,0,-2,1.5,\n";
	char both[512];

	snprintf(both, sizeof both, "%s%s%s", header, row0, row1);
	CHECK_INT(run("rich", "--db", db_path, "-o", out_path, NULL), 0);
	CHECK_STR(out_text, both);
	CHECK_ERR("exported 2 rows of 1 prediction to ");

	/* --labelled keeps only the rows that have their truth */
	snprintf(both, sizeof both, "%s%s", header, row0);
	CHECK_INT(run("rich", "--labelled", "--db", db_path, "-o", out_path, NULL), 0);
	CHECK_STR(out_text, both);

	CHECK_INT(run("m,q", "--db", db_path, "-o", out_path, NULL), 0);
	CHECK_STR(out_text, "prediction_id,time,model,version,row,x_0,x_1,x_2,y,"
	    "truth\n8,2026-11-26T21:50:08.123Z,\"m,q\",1,0,1,2,3,5,\n");
}

/* Entries that do not agree with themselves are left out. */
static void test_bad_entries(void)
{
	CHECK_INT(run("t", "--db", db_path, "-o", out_path, NULL), 1);
	CHECK_STR(out_text, "prediction_id,time,model,version,row,x_0,x_1,x_2,y,"
	    "truth\n12,2026-11-26T21:50:12.123Z,t,1,0,7,8,9,2,\n");
	CHECK_ERR("prediction 10 (version 1) left out: truth: not an array of "
	    "one number per row (1 rows)");
	CHECK_ERR("prediction 11 (version 1) left out: rows is 5, the first "
	    "dimension of none of its tensors");
	CHECK_ERR("exported 1 row of 1 prediction to ");
	CHECK_ERR("; 2 predictions left out (listed above)");
}

static void test_bad_logs(void)
{
	char path[PATH_MAX + 64];
	sqlite3 *other;
	FILE *f;

	snprintf(path, sizeof path, "%s/missing.db", dir);
	CHECK_INT(run("m", "--db", path, "-o", out_path, NULL), 1);
	CHECK_ERR(path);
	CHECK_ERR("prediction_log");
	CHECK(out_text == NULL); /* OUT is not created */

	snprintf(path, sizeof path, "%s/other.db", dir);
	REQUIRE(sqlite3_open(path, &other) == SQLITE_OK);
	REQUIRE(sqlite3_exec(other, "CREATE TABLE t (a)", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(other);
	CHECK_INT(run("m", "--db", path, NULL), 1);
	CHECK_ERR("not a prediction log");

	snprintf(path, sizeof path, "%s/text.db", dir);
	REQUIRE((f = fopen(path, "w")) != NULL);
	fputs("prediction_id,time\n", f);
	fclose(f);
	CHECK_INT(run("m", "--db", path, NULL), 1);
	CHECK_ERR(path);
}

static void test_usage(void)
{
	CHECK_INT(run("--db", db_path, NULL), 2);
	CHECK_ERR("MODEL");
	CHECK_ERR("Try 'corral export-log --help'.");
	CHECK_INT(run("m", "n", "--db", db_path, NULL), 2);
	CHECK_INT(run("m", "--after", "x", "--db", db_path, NULL), 2);
	CHECK_ERR("--after");
	CHECK_INT(run("m", "--version", "0", "--db", db_path, NULL), 2);
	CHECK_INT(run("m", "--db", NULL), 2);
	CHECK_INT(run("m", "--bogus", NULL), 2);
	CHECK_INT(run("--help", NULL), 0);
	CHECK_MSG(strstr(stdout_text, "Usage: corral export-log") != NULL, "%s",
	    stdout_text);
}

static int remove_entry(const char *path, const struct stat *sb, int type,
    struct FTW *ftw)
{
	return remove(path);
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");

	REQUIRE(argc == 2);
	cli = argv[1];
	snprintf(dir, sizeof dir, "%s/corral-export-log-XXXXXX",
	    tmp && tmp[0] ? tmp : "/tmp");
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(db_path, sizeof db_path, "%s/predictions.db", dir);
	snprintf(out_path, sizeof out_path, "%s/out.csv", dir);
	snprintf(stdout_path, sizeof stdout_path, "%s/stdout", dir);
	snprintf(stderr_path, sizeof stderr_path, "%s/stderr", dir);

	make_log();
	test_all_versions();
	test_filters();
	test_while_written();
	test_types();
	test_bad_entries();
	test_bad_logs();
	test_usage();

	CHECK_INT(sqlite3_close(db), SQLITE_OK);
	free(out_text);
	free(err_text);
	free(stdout_text);
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	TEST_MAIN_END();
}
