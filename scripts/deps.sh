#!/usr/bin/env bash
# Install the Debian packages corral needs to build, run and test, when any
# is missing. Quick and silent when everything is already there.
set -euo pipefail

packages=(
  # build
  gcc make cmake pkg-config
  # libraries corral links
  libnng-dev libmsgpack-dev libseccomp-dev libyaml-dev libjansson-dev libcsv-dev
  libssl-dev libsqlite3-dev
  libxgboost-dev
  # tests: a client we did not write, golden outputs, msgpack from Python
  nng-utils python3 python3-numpy python3-msgpack python3-xgboost
  python3-onnx libonnx-testdata
  # tests: a real Prometheus scrapes corrald, promtool checks the format
  prometheus
)
# npm fetches ONNX Runtime (scripts/fetch-onnxruntime.sh); any npm will do,
# so Debian's is installed only when none is on PATH.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "corral: missing packages: ${missing[*]}" >&2
  echo "corral: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "corral: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
