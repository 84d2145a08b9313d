"""Load: 64 concurrent streaming clients with random disconnects for --load-seconds (120 for the
acceptance run): no 5xx, every request not cancelled completes, and afterwards nothing runs or waits
and every KV block is free. Bounded in time (the deadline) and size (max_tokens ≤ 48); 127.0.0.1 only."""
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai

CLIENTS = 64
PROMPTS = ["The capital of France is", "Once upon a time", "def fibonacci(n):", "List three fruits:", "日本の首都は",
           "The quick brown fox", "In 1492,", "Explain gravity in one sentence."]


def test_64_streaming_clients_with_random_disconnects(server, load_seconds):
    client = server.client(timeout=120)
    model = server.model_name
    deadline = time.monotonic() + load_seconds
    lock = threading.Lock()
    counts = {"completed": 0, "cancelled": 0, "tokens": 0}
    failures = []

    def worker(n):
        rng = random.Random(n)
        while time.monotonic() < deadline:
            disconnect_after = rng.randint(1, 6) if rng.random() < 0.3 else None
            max_tokens = rng.randint(4, 48)
            try:
                if rng.random() < 0.5:
                    stream = client.completions.create(model=model, prompt=rng.choice(PROMPTS), max_tokens=max_tokens, stream=True,
                                                       temperature=rng.choice([0, 0.8]), seed=rng.randint(0, 1000))
                    texts = lambda c: c.choices[0].text if c.choices else ""
                else:
                    stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": rng.choice(PROMPTS)}],
                                                            max_tokens=max_tokens, stream=True, temperature=0.7)
                    texts = lambda c: (c.choices[0].delta.content or "") if c.choices else ""
                finish, chunks = None, 0
                for chunk in stream:
                    chunks += 1
                    if chunk.choices and chunk.choices[0].finish_reason:
                        finish = chunk.choices[0].finish_reason
                    if disconnect_after is not None and chunks >= disconnect_after:
                        break
                stream.close()
                with lock:
                    if disconnect_after is not None and finish is None:
                        counts["cancelled"] += 1
                    elif finish in ("stop", "length"):
                        counts["completed"] += 1
                    else:
                        failures.append(f"stream ended without a finish reason (got {finish!r})")
            except openai.APIStatusError as e:
                with lock:
                    failures.append(f"HTTP {e.status_code}: {e.message}")
            except Exception as e:  # connection errors, timeouts
                with lock:
                    failures.append(f"{type(e).__name__}: {e}")

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(worker, range(CLIENTS)))
    elapsed = time.monotonic() - started
    m = server.wait_idle(timeout=60)
    print(f"\nload: {load_seconds:.0f} s target, {elapsed:.1f} s elapsed, {counts['completed']} completed, "
          f"{counts['cancelled']} cancelled, {len(failures)} failures; generated {m['trtllm_generation_tokens_total']:.0f} tokens in total")
    assert not failures, failures[:10]
    assert counts["completed"] > 0 and counts["cancelled"] > 0
    assert counts["completed"] + counts["cancelled"] >= CLIENTS   # every client finished at least one request
    assert m["trtllm_num_requests_running"] == 0 and m["trtllm_num_requests_waiting"] == 0
    assert m["trtllm_kv_cache_blocks_used"] == 0
    assert m["trtllm_kv_cache_blocks_free"] == m["trtllm_kv_cache_blocks_total"] > 0
    assert server.get("/health")[0] == 200
