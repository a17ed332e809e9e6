#!/usr/bin/env bash
# check_policy.sh WORKER STAGE EXPECTED [PLUGIN]
#
# Print a seccomp stage as corral-worker compiles it (with PLUGIN's extra
# syscalls for stage 2) and compare it with the reviewed dump EXPECTED.
# A policy change must come with its new dump, so it is reviewed:
#   CORRAL_UPDATE_POLICY=1 ctest -R policy_   # rewrites the dumps
set -euo pipefail
worker=$1 stage=$2 expected=$3 plugin=${4:-}
args=(--print-policy "$stage")
[[ -n $plugin ]] && args+=(--plugin "$plugin")
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
"$worker" "${args[@]}" >"$actual"
if [[ ${CORRAL_UPDATE_POLICY:-} == 1 ]]; then
  cp "$actual" "$expected"
  echo "updated $expected"
  exit 0
fi
if ! diff -u "$expected" "$actual"; then
  echo "the compiled seccomp policy differs from $expected: review the change," >&2
  echo "then update the dump with CORRAL_UPDATE_POLICY=1" >&2
  exit 1
fi
echo "policy matches $expected"
