// bench-speed: llama-bench's two numbers for our engine — prompt processing of N tokens in one
// pass (pp) and batch-1 generation of N tokens (tg) — as tokens/s, with a JSON line per test.
import ArgumentParser
import MiniTRTLLM
import TLLMCLI
#if canImport(Glibc)
import Glibc
#endif

struct Options: ParsableArguments {
    @OptionGroup var model: ModelOptions
    @Option(help: "Prompt tokens processed in one pass (pp).") var pp = 512
    @Option(help: "Tokens generated one at a time (tg).") var tg = 128
    @Option(help: "Runs per test; the median is reported.") var repetitions = 3
    @Option(help: "Which tests, comma-separated: pp, tg.") var tests = "pp,tg"
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

let options = Options.parseOrExit()
options.model.applyThreads()
/// Threads the kernels use (TLLM_NUM_THREADS, else every online CPU).
let threads = Int(getenv("TLLM_NUM_THREADS").map { String(cString: $0) } ?? "") ?? sysconf(Int32(_SC_NPROCESSORS_ONLN))
let gguf = try GGUFFile(path: options.model.model)
let engine = try ModelEngine(try Builder.build(try CheckpointLoader.load(gguf),
                                               BuildConfig(maxBatchSize: 1, maxNumTokens: max(options.pp, 1))))
var kv = try KVCacheManager(config: KvCacheConfig(maxTokens: options.pp + options.tg + 64, enableBlockReuse: false),
                            numLayers: engine.engine.config.numHiddenLayers, kvDim: engine.engine.config.kvDim)
let vocab = Int32(engine.engine.config.vocabSize)
let promptIDs = (0..<options.pp).map { Int32(100 + ($0 * 7919) % Int(vocab - 200)) }
_ = kv.reserve(0, tokens: options.pp + options.tg + 1)
let table = kv.blockTable(0)

/// One prompt of `n` tokens in a single forward pass.
@MainActor func prefill(_ n: Int) throws -> Double {
    let start = ContinuousClock.now
    _ = try engine.forward(ForwardBatch(sequences: [.init(tokens: Array(promptIDs.prefix(n)), startPosition: 0, blockTable: table)]),
                           cache: kv.cache)
    return Double(n) / seconds(ContinuousClock.now - start)
}

/// `n` tokens one at a time after a 1-token start (llama-bench's tg: no prompt).
@MainActor func generate(_ n: Int) throws -> Double {
    var token: Int32 = 1
    let start = ContinuousClock.now
    for position in 0..<n {
        let logits = try engine.forward(ForwardBatch(sequences: [.init(tokens: [token], startPosition: position, blockTable: table)]),
                                        cache: kv.cache)
        token = Sampler.argmax(logits.row(0))
    }
    return Double(n) / seconds(ContinuousClock.now - start)
}

_ = try prefill(min(16, options.pp))      // warm-up: page in the weights, start the pool
for test in options.tests.split(separator: ",").map(String.init) {
    var rates: [Double] = []
    for _ in 0..<options.repetitions { rates.append(test == "pp" ? try prefill(options.pp) : try generate(options.tg)) }
    rates.sort()
    let n = test == "pp" ? options.pp : options.tg
    print("{\"engine\": \"minitrtllm\", \"test\": \"\(test)\(n)\", \"threads\": \(threads), \"backend\": \"\(CPUBackend().description)\", \"tokens_per_s\": \(rates[rates.count / 2]), \"all\": \(rates)}")
}
