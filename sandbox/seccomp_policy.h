/*
 * seccomp_policy.h - the serving filter a worker applies to itself after
 * its plugin has loaded the model.
 *
 * The policy is an allowlist: what a confined worker needs to receive a
 * request over its already-connected nng socket, run the plugin's infer()
 * and reply. Anything else kills the whole process (SIGSYS), except
 * file-system calls, which fail with EACCES because libraries probe files
 * and must see an error, not die.
 */
#ifndef CORRAL_SECCOMP_POLICY_H
#define CORRAL_SECCOMP_POLICY_H

#include <stddef.h>

/*
 * Set PR_SET_NO_NEW_PRIVS and load the serving filter on every thread of
 * the process (SECCOMP_FILTER_FLAG_TSYNC), adding the syscall names in
 * `extra` (NULL-terminated, may be NULL). Returns 0, or -1 with the reason
 * in err; on failure the caller must not serve.
 */
int sandbox_apply_serving_policy(const char *const *extra, char *err,
    size_t errlen);

#endif
