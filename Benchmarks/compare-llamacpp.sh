#!/usr/bin/env bash
# Measures llama.cpp (llama-cpp-python 0.3.36, built natively) and MiniTRTLLM on the same GGUF in
# one run, alternating engines, several rounds, with 1 and 2 threads; prints medians and ratios.
#   Usage: Benchmarks/compare-llamacpp.sh [rounds]       (run it on a quiet machine)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
bash Scripts/setup.sh
model=$(bash Scripts/fetch-model.sh)
venv=.build-bench-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
  python3 -m venv "$venv"
  echo "compare: building llama-cpp-python==0.3.36 natively (several minutes)" >&2
  CMAKE_ARGS="-DGGML_NATIVE=ON" "$venv/bin/pip" install --quiet --no-cache-dir "llama-cpp-python==0.3.36" >&2
fi
swift build -c release --product bench-speed >&2
results=$(mktemp)
echo "compare: load before: $(uptime)" >&2
for round in $(seq "$rounds"); do
  for threads in 2 1; do
    "$venv/bin/python" Benchmarks/llamacpp_bench.py --model "$model" --threads "$threads" --repetitions 1 >> "$results"
    TLLM_NUM_THREADS=$threads .build/release/bench-speed --model "$model" --threads "$threads" --repetitions 1 >> "$results"
  done
  echo "compare: round $round/$rounds done" >&2
done
echo "compare: load after: $(uptime)" >&2
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
keys = sorted({(r["test"], r["threads"]) for r in rows}, key=lambda k: (k[0], -k[1]))
print("| test | threads | llama.cpp tok/s | MiniTRTLLM tok/s | ratio |")
print("| --- | ---: | ---: | ---: | ---: |")
for test, threads in keys:
    med = lambda e: statistics.median(r["tokens_per_s"] for r in rows if r["engine"] == e and r["test"] == test and r["threads"] == threads)
    l, m = med("llama.cpp"), med("minitrtllm")
    print(f"| {test} | {threads} | {l:.1f} | {m:.1f} | {m / l:.2f}x |")
PY
