/*
 * corral/status.h - the stable error codes of corral's wire protocol.
 *
 * Each code has a number (this enum, used by the C client) and a name (the
 * string sent on the wire as error.code). Both are stable forever: a code is
 * never renumbered, renamed or reused; new codes are appended.
 * docs/protocol.md has the table with the meaning of each.
 */
#ifndef CORRAL_STATUS_H
#define CORRAL_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum corral_status {
	CORRAL_OK = 0,
	/* Sent by the server (error.code on the wire). */
	CORRAL_E_MALFORMED = 1,           /* not a msgpack map, or truncated */
	CORRAL_E_UNSUPPORTED_VERSION = 2, /* `v` is not a version we speak */
	CORRAL_E_UNKNOWN_OP = 3,
	CORRAL_E_INVALID_ARGUMENT = 4, /* a field has the wrong type or value */
	CORRAL_E_MODEL_NOT_FOUND = 5,
	CORRAL_E_VERSION_NOT_FOUND = 6,
	CORRAL_E_SHAPE_MISMATCH = 7, /* shape vs data, or vs the signature */
	CORRAL_E_TYPE_MISMATCH = 8,  /* datatype vs the model's signature */
	CORRAL_E_PAYLOAD_TOO_LARGE = 9,
	CORRAL_E_UNAVAILABLE = 10,    /* no READY worker for that version */
	CORRAL_E_WORKER_CRASHED = 11, /* the worker died with the request */
	CORRAL_E_DEADLINE_EXCEEDED = 12,
	CORRAL_E_MODEL_ERROR = 13, /* the plugin's infer reported an error */
	CORRAL_E_UNAUTHENTICATED = 14, /* reserved for tenant tokens */
	CORRAL_E_OVERLOADED = 15,
	CORRAL_E_INTERNAL = 16,
	CORRAL_E_FAILED_PRECONDITION = 17, /* the op does not fit the current
					      state (e.g. unloading a version
					      the routing names) */
	CORRAL_E_NON_FINITE_INPUT = 18, /* a NaN or infinite input value, for a
					   model whose config rejects them */
	CORRAL_E_RANK_MISMATCH = 19,    /* an input's number of dimensions is
					   not the signature's */
	CORRAL_E_FEATURE_COUNT_MISMATCH = 20, /* an input's last dimension (its
						 features) is not the
						 signature's */
	CORRAL_E_PREDICTION_NOT_FOUND = 21, /* feedback names a prediction
					       the log never had or no
					       longer holds */
	/* Only produced by the client library, never sent on the wire. */
	CORRAL_E_CONNECT = 100,  /* could not dial the server */
	CORRAL_E_TRANSPORT = 101, /* send/receive failed or timed out */
	CORRAL_E_PROTOCOL = 102, /* the reply is not what the protocol says */
	CORRAL_E_NOMEM = 103,
} corral_status;

/* The wire name of a status ("MODEL_NOT_FOUND"); a static string, never
 * NULL ("UNKNOWN" for values outside the enum). Thread-safe. */
const char *corral_status_name(corral_status st);

/* The status whose wire name is the `len` bytes at `s`;
 * CORRAL_E_PROTOCOL when the name is not one we know. Thread-safe. */
corral_status corral_status_parse(const char *s, unsigned len);

#ifdef __cplusplus
}
#endif
#endif /* CORRAL_STATUS_H */
