"""Disconnects free their KV blocks, a full queue gets 429, SIGTERM drains and exits cleanly."""
import signal
import threading
import time

import openai
import pytest


def test_a_client_that_disconnects_mid_stream_cancels_its_request(server, client, model):
    before = server.wait_idle()
    stream = client.completions.create(model=model, prompt="Once upon a time", max_tokens=2000, stream=True,
                                       extra_body={"ignore_eos": True})
    for i, _ in enumerate(stream):
        if i == 3:
            break
    assert server.metrics()["trtllm_num_requests_running"] == 1
    stream.close()
    after = server.wait_idle(timeout=15)
    assert after["trtllm_num_requests_running"] == 0
    assert after["trtllm_kv_cache_blocks_used"] == 0
    assert after["trtllm_request_success_total:abort"] == before["trtllm_request_success_total:abort"] + 1
    assert after["trtllm_generation_tokens_total"] - before["trtllm_generation_tokens_total"] < 2000


def test_a_full_queue_gets_429(start_server):
    small = start_server("--max-batch-size", "1", "--max-queue", "0")
    c = small.client()
    stream = c.completions.create(model=small.model_name, prompt="Once upon a time", max_tokens=2000, stream=True,
                                  extra_body={"ignore_eos": True})
    next(iter(stream))
    with pytest.raises(openai.RateLimitError) as e:
        c.completions.create(model=small.model_name, prompt="Hello", max_tokens=4)
    assert e.value.status_code == 429 and e.value.body["code"] == "queue_full"
    stream.close()
    assert small.wait_idle()["trtllm_kv_cache_blocks_used"] == 0
    assert c.completions.create(model=small.model_name, prompt="Hello", max_tokens=2).choices[0].text is not None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_cancels_in_flight_requests_and_exits_cleanly(start_server, sig):
    s = start_server("--shutdown-grace-period", "1")
    c = s.client()
    result = {}

    def consume():
        chunks = list(c.completions.create(model=s.model_name, prompt="Once upon a time", max_tokens=4000, stream=True,
                                           extra_body={"ignore_eos": True}))
        result["finish"] = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]

    t = threading.Thread(target=consume)
    t.start()
    deadline = time.monotonic() + 30
    while s.metrics()["trtllm_generation_tokens_total"] < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    started = time.monotonic()
    assert s.stop(sig, timeout=30) == 0
    assert time.monotonic() - started < 15
    t.join(timeout=30)
    assert result.get("finish") == ["abort"]
