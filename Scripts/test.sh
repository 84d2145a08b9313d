#!/usr/bin/env bash
# Runs the whole test suite: installs system packages, fetches the default model, runs swift test,
# then the trtllm-serve suite (pytest + the openai client against the debug trtllm-serve just built).
# Model-backed tests find the model through Scripts/fetch-model.sh; under CI=true they never skip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/setup.sh
TLLM_MODEL=$(bash Scripts/fetch-model.sh)
export TLLM_MODEL
swift build --build-tests "$@"
swift test --skip-build "$@"
TRTLLM_SERVE="$(swift build --show-bin-path "$@")/trtllm-serve" bash Scripts/test-server.sh --load-seconds "${TRTLLM_LOAD_SECONDS:-20}"
