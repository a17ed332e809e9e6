/*
 * info_ops.h - the ops the daemon answers itself, from its model table:
 * metadata, models, health, status (status_op.c). Each packs a whole reply (envelope included)
 * into pk, or returns a status with a message in err for an error reply.
 * Called on nng's threads; each takes corrald.lock for its read.
 */
#ifndef CORRAL_INFO_OPS_H
#define CORRAL_INFO_OPS_H

#include "models.h"

corral_status op_metadata(corrald *d, const wire_request *req,
    msgpack_packer *pk, char *err, size_t errlen);
corral_status op_models(corrald *d, const wire_request *req,
    msgpack_packer *pk, char *err, size_t errlen);
corral_status op_health(corrald *d, const wire_request *req,
    msgpack_packer *pk, char *err, size_t errlen);

/* Is every served version (of model `name` only, when name.len > 0)
 * READY, and the daemon not shutting down? Versions being unloaded do not
 * count. *found: the model exists
 * (always true without a name). Any thread; takes the lock. */
bool daemon_ready(corrald *d, wire_str name, bool *found);
/* "ready_at" and "provenance" (provenance.h, or nil), two key/value pairs
 * of an enclosing map, for metadata and status. Lock held. */
#define PROVENANCE_PAIRS 2
int pack_provenance(msgpack_packer *pk, const model_version *mv);

corral_status op_status(corrald *d, const wire_request *req,
    msgpack_packer *pk, char *err, size_t errlen);

#endif
