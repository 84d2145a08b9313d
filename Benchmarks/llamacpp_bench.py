"""llama.cpp's pp and tg through llama-cpp-python, printed as JSON lines like bench-speed.

pp: the whole prompt in one llama_decode (n_batch = n_ubatch = prompt length); tg: one token at
a time after a 1-token start, as llama-bench does."""
import argparse, json, time
import llama_cpp

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--pp", type=int, default=512)
p.add_argument("--tg", type=int, default=128)
p.add_argument("--repetitions", type=int, default=3)
p.add_argument("--tests", default="pp,tg")
a = p.parse_args()

llm = llama_cpp.Llama(model_path=a.model, n_ctx=a.pp + a.tg + 64, n_batch=a.pp, n_ubatch=a.pp,
                      n_threads=a.threads, n_threads_batch=a.threads, verbose=False, logits_all=False)
vocab = llm.n_vocab()
prompt = [100 + (i * 7919) % (vocab - 200) for i in range(a.pp)]

def pp():
    llm.reset(); llm._ctx.kv_cache_clear() if hasattr(llm._ctx, "kv_cache_clear") else None
    t = time.perf_counter(); llm.eval(prompt); return a.pp / (time.perf_counter() - t)

def tg():
    llm.reset(); llm._ctx.kv_cache_clear() if hasattr(llm._ctx, "kv_cache_clear") else None
    t = time.perf_counter()
    for i in range(a.tg): llm.eval([1 if i == 0 else 100 + i])
    return a.tg / (time.perf_counter() - t)

pp() if "pp" in a.tests else tg()  # warm-up
for test in a.tests.split(","):
    rates = sorted((pp if test == "pp" else tg)() for _ in range(a.repetitions))
    n = a.pp if test == "pp" else a.tg
    print(json.dumps({"engine": "llama.cpp", "test": f"{test}{n}", "threads": a.threads,
                      "tokens_per_s": rates[len(rates) // 2], "all": rates}), flush=True)
