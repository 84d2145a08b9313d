#!/usr/bin/env bash
# Measures every quantization mode of the default model: perplexity with trtllm-eval on the first
# 4096 tokens of /usr/share/common-licenses/GPL-3 (windows of 512), weight bytes and batch-1
# decode speed with trtllm-microbench, and prints the rows of the table in Docs/Quantization.md.
# Usage: bash Scripts/quant-table.sh [build-dir]   (default .build/release; run swift build -c release first)
# Decode runs on DECODE_THREADS kernel threads (default 1: on a shared machine a busy core stalls
# the whole pool, so one thread gives the steadiest comparison between modes).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release}
MODEL=$(bash Scripts/fetch-model.sh)
TEXT=/usr/share/common-licenses/GPL-3
echo "| mode | flags | weights (MiB) | perplexity | vs float32 | decode tok/s |"
echo "| --- | --- | --- | --- | --- | --- |"
base=""
while IFS='|' read -r name flags; do
    # shellcheck disable=SC2086
    if [[ "$flags" == *kv-cache-dtype* ]]; then
        ppl=$("$BIN/trtllm-microbench" perplexity --model "$MODEL" --text-file "$TEXT" --ctx 512 --max-tokens 4096 $flags)
    else
        ppl=$("$BIN/trtllm-eval" perplexity --model "$MODEL" --text-file "$TEXT" --ctx 512 --max-tokens 4096 $flags)
    fi
    dec=$("$BIN/trtllm-microbench" decode --model "$MODEL" --tokens 128 --threads "${DECODE_THREADS:-1}" $flags)
    p=$(echo "$ppl" | sed -E 's/.*"perplexity": ([0-9.]+).*/\1/')
    bytes=$(echo "$dec" | sed -E 's/.*"weight_bytes": ([0-9]+).*/\1/')
    tps=$(echo "$dec" | sed -E 's/.*"decode_tokens_per_s": ([0-9.]+).*/\1/')
    [[ -z "$base" ]] && base=$p
    printf '| %s | `%s` | %.1f | %.3f | %+.2f%% | %.1f |\n' "$name" "$flags" "$(echo "$bytes / 1048576" | bc -l)" "$p" \
        "$(echo "($p - $base) / $base * 100" | bc -l)" "$tps"
done <<'MODES'
float32 (none)|--quant none
GGUF-native (Q4_1 + Q8_0 as stored)|--quant gguf_native
W8A16 (int8 per channel)|--quant w8a16
FP8 E4M3 (per channel)|--quant fp8
W4A16 group 64|--quant w4a16 --group-size 64
W4A16 group 64 + AWQ|--quant w4a16 --group-size 64 --awq
W4A16 group 32|--quant w4a16 --group-size 32
W4A16 group 32 + AWQ|--quant w4a16 --group-size 32 --awq
GGUF-native + int8 KV cache|--quant gguf_native --kv-cache-dtype int8
GGUF-native, int8 activations (W4A8)|--quant gguf_native --activation int8
MODES
