/*
 * feedback.h - the `feedback` op (docs/protocol.md): the ground truth of a
 * logged prediction. corrald finds the prediction in the prediction log
 * (predlog.h) by the id its infer reply carried, stores the truth there
 * for retraining (`corral export-log`), and counts the rows in the
 * answering version's accuracy or error figures (perf.h), which /metrics
 * exports.
 */
#ifndef CORRAL_FEEDBACK_H
#define CORRAL_FEEDBACK_H

#include "models.h"

/*
 * {prediction_id, truth: a number or an array of one per row} -> {
 * prediction_id, model, version, rows, counted}. No token: any client
 * that may infer may give feedback. It may block on the database for a
 * few seconds: front.c runs it on a thread of its own, never on nng's.
 */
corral_status op_feedback(corrald *d, const wire_request *req, msgpack_packer *pk,
    char *err, size_t errlen);

#endif
