/*
 * corral/client.h - libcorral, the C client of corral's wire protocol.
 *
 * Threading: a corral_client serialises its own calls with a mutex, so one
 * handle may be shared by threads, but calls on it run one at a time. For
 * parallel requests open one client per thread (they are cheap).
 *
 * Errors: every call returns a corral_status (0 = CORRAL_OK). When `err` is
 * not NULL, a failing call fills it with the code and a message: the
 * server's message for server errors, a local description otherwise.
 *
 * Ownership: results are allocated by the library and owned by the caller
 * until freed with the matching *_free function; pointers inside a result
 * stay valid until then. Inputs are only read during the call.
 */
#ifndef CORRAL_CLIENT_H
#define CORRAL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CORRAL_DEFAULT_URL "ipc:///run/corral/corral.sock"

typedef struct corral_client corral_client;

typedef struct corral_error {
	corral_status code;
	char message[512];
} corral_error;

/* Dial `url` (ipc:// or tcp://; NULL for CORRAL_DEFAULT_URL). On success
 * *out is a new client the caller closes with corral_client_close. */
corral_status corral_client_open(corral_client **out, const char *url,
    corral_error *err);

/* Close the connection and free the client. NULL is allowed. */
void corral_client_close(corral_client *c);

/* The deadline of each call, in milliseconds (default 30000). An infer
 * sends it as the request's timeout_ms, so the daemon stops waiting for a
 * worker then and answers DEADLINE_EXCEEDED (the model's own
 * request_timeout_ms still caps it); the client waits a second longer for
 * that answer before it reports TRANSPORT. */
void corral_client_set_timeout(corral_client *c, int timeout_ms);

/* Whether this client's infers may go to the daemon's prediction log
 * (default true; false sends `log: false` with each, for traffic that is
 * not production's: validation sets, tests, backfills). */
void corral_client_set_logging(corral_client *c, bool log);

/* ------------------------------------------------------------- infer --- */

typedef struct corral_result corral_result;

/*
 * Run `model` (version 0 = the default version) on n_inputs tensors. When
 * output_names is not NULL, only those n_outputs outputs are returned.
 * On success *out is a result the caller frees with corral_result_free.
 */
corral_status corral_infer(corral_client *c, const char *model,
    int64_t version, const corral_tensor *inputs, size_t n_inputs,
    const char *const *output_names, size_t n_outputs, corral_result **out,
    corral_error *err);

/* The model version that answered. */
int64_t corral_result_model_version(const corral_result *r);
/* The id under which the daemon logged this prediction, for
 * corral_feedback; 0 when it was not logged (the log is off, the request
 * was not sampled or asked not to be, or the log's queue was full). */
int64_t corral_result_prediction_id(const corral_result *r);
size_t corral_result_output_count(const corral_result *r);
/* The i-th output; its pointers are valid until corral_result_free. */
const corral_tensor *corral_result_output(const corral_result *r, size_t i);
/* The output called `name`, or NULL. */
const corral_tensor *corral_result_find(const corral_result *r,
    const char *name);
void corral_result_free(corral_result *r);

/* ---------------------------------------------------------- metadata --- */

typedef struct corral_metadata {
	char *name;
	int64_t version;
	char *plugin;         /* plugin name */
	char *plugin_version; /* plugin's own version */
	size_t n_inputs;
	struct corral_meta_tensor {
		char *name;
		corral_dtype dtype;
		uint32_t ndim;
		int64_t shape[CORRAL_MAX_DIMS]; /* -1 = dynamic */
		char **labels;    /* names along the last dimension, or NULL */
		size_t n_labels;
	} *inputs, *outputs;
	size_t n_outputs;
} corral_metadata;

/* The signature of `model` (version 0 = default). Free with
 * corral_metadata_free. */
corral_status corral_get_metadata(corral_client *c, const char *model,
    int64_t version, corral_metadata **out, corral_error *err);
void corral_metadata_free(corral_metadata *m);

/* ------------------------------------------------------------ models --- */

typedef struct corral_model_list {
	size_t count;
	struct corral_model_entry {
		char *name;
		int64_t version;
		char *state;      /* "STARTING", "READY", "CRASHED", "FAILED" */
		bool is_default;  /* served when a request names no version */
		char *last_error; /* why its last worker ended; NULL if none */
	} *entries;
} corral_model_list;

corral_status corral_list_models(corral_client *c, corral_model_list **out,
    corral_error *err);
void corral_model_list_free(corral_model_list *l);

/* ------------------------------------------------------------ health --- */

/* live: the daemon answers; ready: every served model version has a READY
 * worker. */
corral_status corral_health(corral_client *c, bool *live, bool *ready,
    corral_error *err);

/* The same for one model's versions only (MODEL_NOT_FOUND if it is not
 * served); model NULL is corral_health. */
corral_status corral_model_health(corral_client *c, const char *model, bool *live,
    bool *ready, corral_error *err);

/* ----------------------------------------------------------- control --- */

/* The admin token sent with control ops (a copy is kept; NULL clears). */
void corral_client_set_token(corral_client *c, const char *token);

/*
 * Change how requests that name no version are routed (docs/protocol.md);
 * each needs the admin token. promote makes `version` the default (the
 * old one becomes the rollback target) and ends any canary; rollback goes
 * back to the previous default; set_traffic splits those requests over n
 * versions by weight (n == 0 ends the canary). A version must be READY to
 * take traffic. When routing is not NULL it receives the model's routing
 * as JSON, freed by the caller with free().
 */
corral_status corral_promote(corral_client *c, const char *model, int64_t version,
    char **routing, corral_error *err);
corral_status corral_rollback(corral_client *c, const char *model, char **routing,
    corral_error *err);
corral_status corral_set_traffic(corral_client *c, const char *model,
    const int64_t *versions, const int64_t *weights, size_t n, char **routing,
    corral_error *err);

/* Mirror `percent` (0..100) of the requests the default version answers
 * to `version` (READY), whose answers are compared, never returned; the
 * counts are in `status`. version 0 or percent 0 stops it. */
corral_status corral_shadow(corral_client *c, const char *model, int64_t version,
    int percent, char **routing, corral_error *err);

/*
 * Change which versions are served (docs/protocol.md, docs/operations.md);
 * each needs the admin token. load serves `version` of `model` (0: read
 * the model's folder again and serve what its policy picks), on top of
 * the version policy and across restarts; unload stops serving it (0: the
 * whole model) after draining; reload reads the repository again (model
 * NULL: every model). The daemon answers once the change is under way:
 * new versions are STARTING (watch `status` for READY). When changes is
 * not NULL it receives {"changes": [{"model", "version", "change"}...]} as
 * JSON, freed by the caller with free().
 */
corral_status corral_load(corral_client *c, const char *model, int64_t version,
    char **changes, corral_error *err);
corral_status corral_unload(corral_client *c, const char *model, int64_t version,
    char **changes, corral_error *err);
corral_status corral_reload(corral_client *c, const char *model, char **changes,
    corral_error *err);

/*
 * Give the ground truth of a logged prediction (docs/monitoring.md): its
 * id (corral_result_prediction_id) and n values, one per row of that
 * request (a class index for a classifier). The daemon stores it in the
 * prediction log and counts it in the version's accuracy (or error)
 * metrics. PREDICTION_NOT_FOUND for an id the log never had or no longer
 * holds; FAILED_PRECONDITION when the prediction already has its truth or
 * the log is off. When reply is not NULL it receives {"prediction_id",
 * "model", "version", "rows", "counted"} as JSON, freed by the caller.
 */
corral_status corral_feedback(corral_client *c, int64_t prediction_id,
    const double *truth, size_t n, char **reply, corral_error *err);

/* Run the validation gate of `version` of `model` now (docs/monitoring.md;
 * admin token): score its validation set and compare with the default.
 * *passed says whether it passed; when report is not NULL it receives
 * {"model", "version", "passed", "report"} as JSON, freed by the caller. */
corral_status corral_validate(corral_client *c, const char *model, int64_t version,
    bool *passed, char **report, corral_error *err);

/* ------------------------------------------------------------ status --- */

/*
 * The daemon's `status` reply (docs/protocol.md) for every model, or for
 * `model` only (NULL: all), as JSON text in *json: per version its state,
 * routing, waiting requests, each worker (state, restarts, pid, uptime,
 * served, outstanding, memory, last exit), starts, exits counted by cause,
 * limits, and the sandbox layers its worker reported. The caller frees *json with
 * free(). Same threading as every call on c.
 */
corral_status corral_get_status(corral_client *c, const char *model, char **json,
    corral_error *err);

#ifdef __cplusplus
}
#endif
#endif /* CORRAL_CLIENT_H */
