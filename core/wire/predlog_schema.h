/*
 * predlog_schema.h - the prediction log's SQLite schema, shared by corrald
 * (which writes it: core/daemon/predlog.c) and `corral export-log` (which
 * reads it). docs/monitoring.md documents it for other readers.
 *
 * One row per logged infer (a request of any number of rows):
 *   id         the prediction id, sent to the client in the infer reply
 *              as `prediction_id` and named by `feedback`; never reused
 *              (AUTOINCREMENT keeps ids of deleted rows retired)
 *   time_ms    when corrald answered, Unix time in milliseconds
 *   model, version  the version that answered
 *   rows       the request's rows: the first dimension of its first input
 *              (1 for an input of rank 0 or 1)
 *   inputs     the inputs as corrald sent them to the worker: a
 *              MessagePack array of canonical tensor maps {name, datatype,
 *              shape, data: bin} (docs/protocol.md section 4)
 *   outputs    the worker's outputs, the same encoding
 *   truth      NULL until `feedback` gives the ground truth: then a
 *              MessagePack array of one number per row
 *   truth_time_ms  when that feedback came
 *
 * No index beyond the id: each would cost every insert, on the writer
 * that keeps up with the request path, while an export that filters by
 * model reads the table once anyway.
 */
#ifndef CORRAL_PREDLOG_SCHEMA_H
#define CORRAL_PREDLOG_SCHEMA_H

#define PREDLOG_SCHEMA                                                        \
	"CREATE TABLE IF NOT EXISTS predictions ("                            \
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"                              \
	" time_ms INTEGER NOT NULL,"                                          \
	" model TEXT NOT NULL,"                                               \
	" version INTEGER NOT NULL,"                                          \
	" rows INTEGER NOT NULL,"                                             \
	" inputs BLOB NOT NULL,"                                              \
	" outputs BLOB NOT NULL,"                                             \
	" truth BLOB,"                                                        \
	" truth_time_ms INTEGER);"

#endif
