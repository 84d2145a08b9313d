#!/usr/bin/env bash
# Fetches NVRTC (NVIDIA's run-time CUDA compiler, no GPU needed) from the PyPI wheel
# nvidia-cuda-nvrtc-cu12 and prints the directory holding libnvrtc.so.12, for TLLM_CUDA_LIB_DIRS.
set -euo pipefail
version="12.9.86"
cache="${TLLM_CACHE_DIR:-$HOME/.cache/minitrtllm}/nvrtc-$version"
if [ -f "$cache/libnvrtc.so.12" ]; then echo "$cache"; exit 0; fi
python=$(command -v python3 || command -v python)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch-nvrtc: downloading nvidia-cuda-nvrtc-cu12==$version from PyPI" >&2
"$python" -m pip download --quiet --no-deps --disable-pip-version-check --only-binary=:all: \
  --platform manylinux_2_12_x86_64 --platform manylinux2010_x86_64 -d "$work" "nvidia-cuda-nvrtc-cu12==$version" >&2
mkdir -p "$cache.tmp"
"$python" - "$work"/*.whl "$cache.tmp" <<'PY'
import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        name = os.path.basename(info.filename)
        if info.filename.startswith("nvidia/cuda_nvrtc/lib/") and name.startswith("libnvrtc") and ".alt." not in name:
            with z.open(info) as src, open(os.path.join(sys.argv[2], name), "wb") as dst:
                dst.write(src.read())
PY
rm -rf "$cache" && mv "$cache.tmp" "$cache"
echo "$cache"
