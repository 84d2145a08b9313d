#!/usr/bin/env bash
# Runs the whole test suite: installs system packages, fetches the default model and NVRTC (so
# every CUDA kernel is compiled even without a GPU), runs swift test, then the trtllm-serve suite
# (pytest + the openai client against the debug trtllm-serve just built).
# Model-backed and NVRTC tests find what they need through these scripts; under CI=true they never skip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/setup.sh
TLLM_MODEL=$(bash Scripts/fetch-model.sh)
export TLLM_MODEL
if nvrtc=$(bash Scripts/fetch-nvrtc.sh); then
  export TLLM_CUDA_LIB_DIRS="$nvrtc${TLLM_CUDA_LIB_DIRS:+:$TLLM_CUDA_LIB_DIRS}"
elif [ "${CI:-}" = "true" ]; then
  echo "test: could not fetch NVRTC; CUDA kernel compile tests cannot run" >&2
  exit 1
fi
swift build --build-tests "$@"
swift test --skip-build "$@"
TRTLLM_SERVE="$(swift build --show-bin-path "$@")/trtllm-serve" bash Scripts/test-server.sh --load-seconds "${TRTLLM_LOAD_SECONDS:-20}"
