/*
 * control_ops.h - promote, rollback, set-traffic and shadow (control_ops.c). Same
 * contract as info_ops.h: packs a whole reply into pk or returns a status
 * with a message in err. Called on nng's threads; takes corrald.lock.
 */
#ifndef CORRAL_CONTROL_OPS_H
#define CORRAL_CONTROL_OPS_H

#include "models.h"

corral_status op_control(corrald *d, const wire_request *req, msgpack_packer *pk,
    char *err, size_t errlen);

/* CORRAL_OK when req carries the admin token; else UNAUTHENTICATED with
 * err (also when no token is configured: control ops are then off). */
corral_status control_check_admin(const corrald *d, const wire_request *req,
    char *err, size_t errlen);

#endif
