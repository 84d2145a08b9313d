#!/usr/bin/env bash
# Runs trtllm-demo on the default model: installs system packages, fetches the model, builds, runs.
# Extra arguments go to trtllm-demo (e.g. --prompt "Once upon a time" --max-tokens 64).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/setup.sh
model=$(bash Scripts/fetch-model.sh)
swift build -c release --product trtllm-demo >&2
.build/release/trtllm-demo --model "$model" "$@"
