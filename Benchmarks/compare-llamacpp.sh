#!/usr/bin/env bash
# Measures llama.cpp (llama-cpp-python 0.3.36, built natively) and MiniTRTLLM on the same GGUF in
# one run, alternating engines, several rounds, with 1 and 2 threads; prints medians, ratios and
# each figure's fraction of this machine's ceilings (DRAM read bandwidth for batch-1 decode, FMA
# peak for prefill), measured by bench-kernels in the same run; then 16 concurrent requests
# through the executor (llama.cpp's own server is not part of llama-cpp-python). The targets are
# for float32 activations; the opt-in W4A8 engine (--activation int8, llama.cpp's own arithmetic)
# is measured alongside in extra columns.
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
for product in bench-speed bench-kernels bench-inflight; do swift build -c release --product "$product" >&2; done
results=$(mktemp)
echo "compare: load before: $(uptime)" >&2
# The machine's ceilings at each thread count, measured in this run: DRAM read GB/s, FMA GFLOP/s.
for threads in 2 1; do TLLM_NUM_THREADS=$threads .build/release/bench-kernels --ceilings >> "$results"; done
for round in $(seq "$rounds"); do
  for threads in 2 1; do
    "$venv/bin/python" Benchmarks/llamacpp_bench.py --model "$model" --threads "$threads" --repetitions 1 >> "$results"
    TLLM_NUM_THREADS=$threads .build/release/bench-speed --model "$model" --threads "$threads" --repetitions 1 >> "$results"
    TLLM_NUM_THREADS=$threads .build/release/bench-speed --model "$model" --threads "$threads" --repetitions 1 --activation int8 >> "$results"
  done
  echo "compare: round $round/$rounds done" >&2
done
# 16 concurrent requests (32-token prompts, exactly 128 output tokens each) through the executor.
TLLM_NUM_THREADS=2 .build/release/bench-inflight --model "$model" --threads 2 --repetitions "$rounds" | grep '^{' >> "$results"
TLLM_NUM_THREADS=2 .build/release/bench-inflight --model "$model" --threads 2 --repetitions "$rounds" --activation int8 | grep '^{' >> "$results"
echo "compare: load after: $(uptime)" >&2
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ceil = {(r["kernel"], r["threads"]): r for r in rows if "kernel" in r}
runs = [r for r in rows if "engine" in r]
keys = sorted({(r["test"], r["threads"]) for r in runs}, key=lambda k: (k[0], -k[1]))
print("| test | threads | llama.cpp tok/s | MiniTRTLLM tok/s | ratio | MiniTRTLLM vs this machine's ceiling | W4A8 (int8 activations) tok/s | ratio |")
print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
for test, threads in keys:
    pick = lambda e: [r for r in runs if r["engine"] == e and r["test"] == test and r["threads"] == threads]
    l = statistics.median(r["tokens_per_s"] for r in pick("llama.cpp"))
    ours = pick("minitrtllm")
    m = statistics.median(r["tokens_per_s"] for r in ours)
    if test.startswith("tg"):
        gbs = statistics.median(r["weight_GB_per_s"] for r in ours)
        bw = ceil[("dram_read", threads)]["GB_per_s"]
        frac = f"{gbs:.1f} GB/s of weights = {gbs / bw:.0%} of {bw:.1f} GB/s DRAM read"
    else:
        gf = statistics.median(r["GFLOP_per_s"] for r in ours)
        peak = ceil[("fma_peak", threads)]["GFLOP_per_s"]
        frac = f"{gf:.0f} GFLOP/s = {gf / peak:.0%} of {peak:.0f} GFLOP/s FMA peak"
    w = [r["tokens_per_s"] for r in pick("minitrtllm-int8")]
    extra = f" {statistics.median(w):.1f} | {statistics.median(w) / l:.2f}x |" if w else " – | – |"
    print(f"| {test} | {threads} | {l:.1f} | {m:.1f} | {m / l:.2f}x | {frac} |{extra}")
for r in rows:
    if "concurrent_tps" in r:
        peak = ceil[("fma_peak", 2)]["GFLOP_per_s"]
        print(f"\n16 concurrent requests, 2 threads, {r.get('activation', 'float32')} activations (bench-inflight, medians): decode {r['concurrent_tps']:.1f} tok/s "
              f"aggregate ({r['concurrent_linear_GFLOP_per_s']:.0f} GFLOP/s in the linears = "
              f"{r['concurrent_linear_GFLOP_per_s'] / peak:.0%} of the FMA peak), {r['concurrent_end_to_end_tps']:.1f} tok/s "
              f"end to end with prefill; one request alone {r['single_tps']:.1f} tok/s.")
PY
