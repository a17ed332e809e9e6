#!/usr/bin/env bash
# Fetch ONNX Runtime for the onnx plugin into a cache outside the source
# tree, and print that cache folder on stdout.
#
#   scripts/fetch-onnxruntime.sh
#
# The runtime is ONNX Runtime's official Linux x64 build, which the npm
# package onnxruntime-node ships; its C API headers (ORT_API_VERSION 29,
# which the 1.30 runtime serves) come from the npm package
# com.github.asus4.onnxruntime. Both are fetched with `npm pack` at pinned
# versions and checked against pinned sha256 sums before anything is
# unpacked. The cache holds
#
#   <dir>/lib/libonnxruntime.so.1       the runtime
#   <dir>/lib/libonnxruntime.so         a symlink to it, for the linker
#   <dir>/include/*.h                   the C API headers
#
# where <dir> is $CORRAL_ORT_DIR, or by default
# ${XDG_CACHE_HOME:-$HOME/.cache}/corral/onnxruntime-1.30.0 (the default of
# the CMake option CORRAL_ORT_DIR too). When the cache is already complete
# the script only prints <dir>: fast, silent, no network.
set -euo pipefail

ORT_VERSION=1.30.0
RUNTIME_PKG=onnxruntime-node@1.30.0
RUNTIME_SHA256=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
RUNTIME_FILE='package/bin/napi-v6/linux/x64/libonnxruntime.so.1'
HEADERS_PKG=com.github.asus4.onnxruntime@0.4.9
HEADERS_SHA256=e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d
HEADERS_DIR='package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64_x86_64-simulator/onnxruntime.framework/Headers'

dir=${CORRAL_ORT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/corral/onnxruntime-$ORT_VERSION}
stamp="$dir/.complete"
# What a complete cache records: a change of pins makes it incomplete.
want_stamp="$RUNTIME_PKG $RUNTIME_SHA256 $HEADERS_PKG $HEADERS_SHA256"

complete() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ] &&
    [ -f "$dir/lib/libonnxruntime.so.1" ] && [ -L "$dir/lib/libonnxruntime.so" ] &&
    [ -f "$dir/include/onnxruntime_c_api.h" ]
}

if complete; then
  echo "$dir"
  exit 0
fi

say() { echo "fetch-onnxruntime: $*" >&2; }

for tool in npm tar sha256sum; do
  command -v "$tool" >/dev/null ||
    { say "needs $tool (Debian: apt-get install npm tar coreutils)"; exit 1; }
done

parent=$(dirname "$dir")
mkdir -p "$parent"
# Everything is assembled in a temporary folder next to the cache and moved
# into place at the end, so an interrupted run never leaves a cache that
# looks complete.
tmp=$(mktemp -d "$parent/.onnxruntime-fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# npm pack <pkg>; check the tarball's sha256; print its path.
fetch() {
  local pkg=$1 sha=$2 name
  say "fetching $pkg"
  name=$(cd "$tmp" && npm pack --silent --ignore-scripts "$pkg" | tail -n 1)
  if [ -z "$name" ] || [ ! -f "$tmp/$name" ]; then
    say "npm pack $pkg produced no tarball"
    exit 1
  fi
  local got
  got=$(sha256sum "$tmp/$name" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    say "$pkg: sha256 $got, expected $sha: refusing to use it"
    exit 1
  fi
  echo "$tmp/$name"
}

runtime_tgz=$(fetch "$RUNTIME_PKG" "$RUNTIME_SHA256")
headers_tgz=$(fetch "$HEADERS_PKG" "$HEADERS_SHA256")

new="$tmp/cache"
mkdir -p "$new/lib" "$new/include"
tar -xzf "$runtime_tgz" --no-same-owner -C "$new/lib" --strip-components=5 "$RUNTIME_FILE"
tar -xzf "$headers_tgz" --no-same-owner -C "$new/include" --strip-components=7 \
  --wildcards "$HEADERS_DIR/*.h"
rm -f "$runtime_tgz" "$headers_tgz"
ln -s libonnxruntime.so.1 "$new/lib/libonnxruntime.so"

if ! grep -q '^#define ORT_API_VERSION 29$' "$new/include/onnxruntime_c_api.h"; then
  say "$HEADERS_PKG: onnxruntime_c_api.h does not define ORT_API_VERSION 29"
  exit 1
fi
echo "$want_stamp" >"$new/.complete"

rm -rf "$dir"
mv "$new" "$dir"
say "ONNX Runtime $ORT_VERSION is in $dir"
echo "$dir"
