"""trtllm-bench's serve mode end to end: a few requests against our server on 127.0.0.1, its JSON
report and its SVG chart."""
import json
import os
import subprocess
import xml.etree.ElementTree as ET

import pytest


def bench_binary(request):
    path = os.path.join(os.path.dirname(request.config.getoption("--server-binary")), "trtllm-bench")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not built; run `swift build --product trtllm-bench` first")
    return path


def run_bench(binary, server, tmp_path, name, *extra):
    report, plot = tmp_path / f"{name}.json", tmp_path / f"{name}.svg"
    dataset = tmp_path / "dataset.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in [
        {"prompt": "The capital of France is", "output_tokens": 6},
        {"input_ids": [504, 3575, 282, 4649, 314], "output_tokens": 5},
        {"prompt": "Once upon a time", "output_tokens": 8},
        {"prompt": "1, 2, 3,", "output_tokens": 4},
    ]) + "\n")
    out = subprocess.run([binary, "serve", "--url", server.base_url, "--served-model-name", server.model_name,
                          "--dataset", str(dataset), "--report-json", str(report), "--plot", str(plot),
                          "--no-progress", *extra], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr + out.stdout
    return json.loads(report.read_text()), plot.read_text(), out.stdout


def test_serve_mode_reports_every_metric(request, server, tmp_path):
    binary = bench_binary(request)
    report, svg, stdout = run_bench(binary, server, tmp_path, "single", "--concurrency", "2", "--slo", "ttft:600000")
    [run] = report["runs"]
    assert run["mode"] == "serve" and run["completed"] == 4 and run["failed"] == 0
    assert run["output_tokens"] == 6 + 5 + 8 + 4
    assert run["prompt_tokens"] > 0 and run["concurrency"] == 2
    for metric in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"):
        assert set(run[metric]) == {"count", "mean", "median", "p90", "p95", "p99", "min", "max"}
        assert run[metric]["count"] > 0 and run[metric]["min"] <= run[metric]["median"] <= run[metric]["max"]
    assert run["ttft_ms"]["max"] <= run["e2e_ms"]["max"]
    assert run["request_throughput"] > 0 and run["output_token_throughput"] > 0
    assert run["goodput"] == pytest.approx(run["request_throughput"])
    assert run["output_hash_of"] == "text" and len(run["output_hash"]) == 64
    assert ET.fromstring(svg).tag.endswith("svg")
    assert "TTFT" in stdout and "Output token throughput" in stdout
    server.wait_idle()


def test_serve_mode_sweep_is_reproducible(request, server, tmp_path):
    binary = bench_binary(request)
    report, svg, _ = run_bench(binary, server, tmp_path, "sweep", "--concurrency", "1,3", "--request-rate", "50", "--burstiness", "0.5")
    runs = report["runs"]
    assert [r["concurrency"] for r in runs] == [1, 3]
    assert runs[0]["output_hash"] == runs[1]["output_hash"], "greedy output must not depend on concurrency"
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and "concurrency" in svg
    server.wait_idle()


def test_bad_dataset_fails_with_the_line(request, server, tmp_path):
    binary = bench_binary(request)
    dataset = tmp_path / "bad.jsonl"
    dataset.write_text('{"prompt": "ok", "output_tokens": 2}\n{"prompt": "x", "output_tokens": -1}\n')
    out = subprocess.run([binary, "serve", "--url", server.base_url, "--dataset", str(dataset), "--no-progress"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "line 2" in out.stderr
