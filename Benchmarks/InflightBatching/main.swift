// bench-inflight: aggregate decode throughput with N concurrent requests vs one request alone,
// same build, same run, on the default model (or --model). Prints a table and a JSON line.
import ArgumentParser
import MiniTRTLLM
import TLLMCLI

func seconds(_ d: Duration) -> Double { Double(d.components.attoseconds) / 1e18 + Double(d.components.seconds) }

/// Runs `prompts` to completion on `executor`; returns generated tokens, seconds from the first
/// pure decode step to the end (prefill excluded: decode throughput), and seconds from enqueueing
/// to the end (end to end, prefill included).
func measure(_ executor: Executor, _ prompts: [[Int32]], outputTokens: Int) throws
    -> (tokens: Int, seconds: Double, allTokens: Int, wallSeconds: Double) {
    var params = SamplingParams.greedy(maxTokens: outputTokens)
    params.ignoreEOS = true
    let start = ContinuousClock.now
    for p in prompts { try executor.enqueue(Request(promptIDs: p, params: params)) }
    var generated = 0
    var decodeStart: ContinuousClock.Instant?
    var decodeTokens = 0
    while executor.hasWork {
        let responses = try executor.step()
        let count = responses.reduce(0) { $0 + $1.newTokens.count }
        generated += count
        if let s = executor.lastIteration, s.contextTokens == 0 {
            if decodeStart == nil { decodeStart = .now - s.stepTime }
            decodeTokens += count
        }
    }
    precondition(generated == prompts.count * outputTokens)
    let end = ContinuousClock.now
    return (decodeTokens, seconds(end - decodeStart!), generated, seconds(end - start))
}

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

struct Options: ParsableArguments {
    @OptionGroup var model: ModelOptions
    @Option(help: "Concurrent requests.") var concurrency = 16
    @Option(help: "Tokens each request generates.") var outputTokens = 128
    @Option(help: "Prompt length of each request.") var promptTokens = 32
    @Option(help: "Alternating rounds; medians are reported.") var repetitions = 3
    @Option(help: "Activations in the matrix products: float32 (the targets) or int8 (the opt-in W4A8 path).")
    var activation: ActivationPrecision = .float32
}

let options = Options.parseOrExit()
options.model.applyThreads()
let gguf = try GGUFFile(path: options.model.model)
let tokenizer = try Tokenizer(gguf: gguf)
let engine = try Builder.build(try CheckpointLoader.load(gguf), BuildConfig(maxBatchSize: max(options.concurrency, 1),
                                                                                  quantization: QuantConfig(activations: options.activation)))
let modelEngine = try ModelEngine(engine)
let text = String(repeating: "The quick brown fox jumps over the lazy dog while the cat watches from the warm window sill. ", count: 20)
let base = tokenizer.encode(text, parseSpecial: false)
/// Distinct prompts of the same length (no prefix sharing between them).
let prompts = (0..<options.concurrency).map { i in Array(base[(i * 7) % 50 ..< (i * 7) % 50 + options.promptTokens]) }

var single: [Double] = [], batched: [Double] = [], batchedEndToEnd: [Double] = []
for _ in 0..<options.repetitions {
    // Alternate the two measurements so machine noise hits both alike.
    let e1 = try Executor(engine: modelEngine, kvCacheConfig: KvCacheConfig(maxTokens: 8192, enableBlockReuse: false))
    let one = try measure(e1, [prompts[0]], outputTokens: options.outputTokens)
    single.append(Double(one.tokens) / one.seconds)
    let e2 = try Executor(engine: modelEngine, kvCacheConfig: KvCacheConfig(maxTokens: 8192, enableBlockReuse: false))
    let many = try measure(e2, prompts, outputTokens: options.outputTokens)
    batched.append(Double(many.tokens) / many.seconds)
    batchedEndToEnd.append(Double(many.allTokens) / many.wallSeconds)
}
let s = median(single), b = median(batched), e2e = median(batchedEndToEnd)
/// FLOPs per decoded token in the linears (LM head included; attention excluded): 2 per weight.
let flopsPerToken = 2.0 * Double(engine.weights.values.filter { $0.shape.count == 2 }.reduce(0) { $0 + $1.elementCount })
print("bench-inflight: \(CPUBackend().description), \(options.activation.rawValue) activations, prompt \(options.promptTokens) tokens, \(options.outputTokens) output tokens, \(options.repetitions) repetitions (medians)")
print("| requests | decode tokens/s (aggregate) | per request |")
print("| ---: | ---: | ---: |")
print("| 1 | \(round1(s)) | \(round1(s)) |")
print("| \(options.concurrency) | \(round1(b)) | \(round1(b / Double(options.concurrency))) |")
print("ratio \(options.concurrency) concurrent / single: \(round1(b / s))×")
print("end to end (prefill of every prompt included): \(round1(e2e)) tokens/s aggregate")
print("{\"activation\": \"\(options.activation.rawValue)\", \"single_tps\": \(round1(s)), \"concurrent_tps\": \(round1(b)), \"concurrent_end_to_end_tps\": \(round1(e2e)), "
      + "\"concurrency\": \(options.concurrency), \"ratio\": \(round1(b / s)), \"concurrent_linear_GFLOP_per_s\": \(round1(b * flopsPerToken / 1e9))}")

func round1(_ x: Double) -> Double { (x * 10).rounded() / 10 }
