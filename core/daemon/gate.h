/*
 * gate.h - the validation gate (docs/monitoring.md): a version folder may
 * carry validation.yaml (the metric and its thresholds) and
 * validation.csv (rows of the model's input with the expected value in
 * the last column). When such a version is first READY, corrald scores the
 * set with it, through its own sandboxed worker (as a client of its own
 * socket), and with the current default version, and compares: a version
 * that misses its threshold, or does worse than the default by more than
 * max_regression, is kept out of traffic (routing.h), with the report in
 * status and the log. `validate` runs the same check on demand.
 */
#ifndef CORRAL_GATE_H
#define CORRAL_GATE_H

#include "models.h"

/* Does mv's folder carry a validation set? Any thread. */
bool gate_present(const char *version_dir);

/* May mv take traffic that names no version? (No gate, or passed.) Lock
 * held. */
bool gate_open(const model_version *mv);

/* Start the check of mv in a thread of its own (mv is READY and PENDING).
 * Lock held (it takes a reference on mv). */
void gate_start(corrald *d, model_version *mv);

/* Run the check of model m's version v now, on the calling thread, and
 * record its outcome; the report in report (reportlen bytes). Returns
 * CORRAL_OK when it could run (passed or not: see *passed), else the
 * error (VERSION_NOT_FOUND, FAILED_PRECONDITION without a validation set
 * or not READY) with report saying why. Any thread but nng's own
 * callbacks'. Takes the lock. */
corral_status gate_run_now(corrald *d, model *m, int64_t v, bool *passed, char *report,
    size_t reportlen);

/* The validate op (docs/protocol.md): the admin token, model and version;
 * runs gate_run_now and replies {model, version, passed, report}. Blocks
 * while the set is scored: front.c runs it on a thread of its own, never
 * on nng's. */
corral_status op_validate(corrald *d, const wire_request *req, msgpack_packer *pk,
    char *err, size_t errlen);

/* Wait up to timeout_ms for the checks started by gate_start to end (at
 * shutdown, once the client side is stopped, so that their requests
 * fail fast, and before the model table is freed). false: some still run. */
bool gate_wait_all(corrald *d, int64_t timeout_ms);

/* "none", "pending", "passed", "failed". */
const char *gate_state_name(int state);

#endif
