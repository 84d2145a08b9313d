#!/usr/bin/env bash
# Runs the whole test suite: installs system packages, fetches the default model, runs swift test.
# Model-backed tests find the model through Scripts/fetch-model.sh; under CI=true they never skip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/setup.sh
TLLM_MODEL=$(bash Scripts/fetch-model.sh)
export TLLM_MODEL
swift build --build-tests "$@"
swift test --skip-build "$@"
