/* status.c - wire names of corral_status (status.h). */
#include <string.h>

#include <corral/status.h>

static const struct {
	corral_status code;
	const char *name;
} status_names[] = {
	{CORRAL_OK, "OK"},
	{CORRAL_E_MALFORMED, "MALFORMED"},
	{CORRAL_E_UNSUPPORTED_VERSION, "UNSUPPORTED_VERSION"},
	{CORRAL_E_UNKNOWN_OP, "UNKNOWN_OP"},
	{CORRAL_E_INVALID_ARGUMENT, "INVALID_ARGUMENT"},
	{CORRAL_E_MODEL_NOT_FOUND, "MODEL_NOT_FOUND"},
	{CORRAL_E_VERSION_NOT_FOUND, "VERSION_NOT_FOUND"},
	{CORRAL_E_SHAPE_MISMATCH, "SHAPE_MISMATCH"},
	{CORRAL_E_TYPE_MISMATCH, "TYPE_MISMATCH"},
	{CORRAL_E_PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"},
	{CORRAL_E_UNAVAILABLE, "UNAVAILABLE"},
	{CORRAL_E_WORKER_CRASHED, "WORKER_CRASHED"},
	{CORRAL_E_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
	{CORRAL_E_MODEL_ERROR, "MODEL_ERROR"},
	{CORRAL_E_UNAUTHENTICATED, "UNAUTHENTICATED"},
	{CORRAL_E_OVERLOADED, "OVERLOADED"},
	{CORRAL_E_INTERNAL, "INTERNAL"},
	{CORRAL_E_FAILED_PRECONDITION, "FAILED_PRECONDITION"},
	{CORRAL_E_NON_FINITE_INPUT, "NON_FINITE_INPUT"},
	{CORRAL_E_RANK_MISMATCH, "RANK_MISMATCH"},
	{CORRAL_E_FEATURE_COUNT_MISMATCH, "FEATURE_COUNT_MISMATCH"},
	{CORRAL_E_PREDICTION_NOT_FOUND, "PREDICTION_NOT_FOUND"},
	{CORRAL_E_CONNECT, "CONNECT"},
	{CORRAL_E_TRANSPORT, "TRANSPORT"},
	{CORRAL_E_PROTOCOL, "PROTOCOL"},
	{CORRAL_E_NOMEM, "NOMEM"},
};

#define N_STATUS (sizeof status_names / sizeof status_names[0])

/* Exported: part of libcorral's public API (status.h). */
__attribute__((visibility("default"))) const char *corral_status_name(corral_status st)
{
	for (size_t i = 0; i < N_STATUS; i++)
		if (status_names[i].code == st)
			return status_names[i].name;
	return "UNKNOWN";
}

__attribute__((visibility("default"))) corral_status corral_status_parse(const char *s, unsigned len)
{
	for (size_t i = 0; i < N_STATUS; i++)
		if (strlen(status_names[i].name) == len &&
		    memcmp(status_names[i].name, s, len) == 0)
			return status_names[i].code;
	return CORRAL_E_PROTOCOL;
}
