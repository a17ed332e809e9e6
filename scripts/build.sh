#!/usr/bin/env bash
# Configure and build one build tree: scripts/build.sh DIR [cmake options...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1
shift
# The onnx plugin builds against ONNX Runtime, fetched into a cache outside
# the tree (quiet and instant once there).
ort_dir=$(scripts/fetch-onnxruntime.sh)
cmake -S . -B "$dir" -DCORRAL_WERROR=ON -DCORRAL_ORT_DIR="$ort_dir" "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" -- --no-print-directory
