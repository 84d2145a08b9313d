// bench-alloc: heap allocations per decode step in steady state, counted by the interposed
// allocator (TLLMAllocCounter) over a window of decode steps, as a JSON line per batch size.
import ArgumentParser
import MiniTRTLLM
import TLLMAllocCounter
import TLLMCLI

struct Options: ParsableArguments {
    @OptionGroup var model: ModelOptions
    @Option(help: "Prompt tokens each sequence prefills before decoding.") var prompt = 32
    @Option(help: "Decode steps run before counting (they reach the steady state).") var warmup = 8
    @Option(help: "Decode steps counted.") var steps = 64
    @Option(help: "Sequences decoding together, comma-separated; one JSON line each.") var batch = "1,16"
    @Option(help: "Write a backtrace of the first N allocations in the counted window to stderr (Scripts/alloc-sites.py groups them).")
    var trace = 0
    @Flag(help: "Take each step's logits as a new value from forward(_:cache:) instead of reusing one with forward(_:cache:into:).")
    var freshLogits = false
    @Option(help: "Build without this plugin (repeatable), e.g. GPTAttentionPlugin to run the unfused attention ops.")
    var disablePlugin: [String] = []
    @Option(help: "Activations in the matrix products: float32, or int8 (the opt-in W4A8 path).")
    var activation: ActivationPrecision = .float32
}

let options = Options.parseOrExit()
options.model.applyThreads()
let batchSizes = options.batch.split(separator: ",").compactMap { Int($0) }

// The counter must see Swift's allocations (swift_allocObject → swift_slowAlloc → malloc).
let probeBefore = tllm_alloc_count()
let probe = [Int](repeating: 7, count: 1000 + Int(probeBefore % 2))
guard tllm_alloc_count() > probeBefore, probe.count > 0 else {
    fatalError("the allocation counter saw no allocation for a new array: malloc is not interposed")
}

let gguf = try GGUFFile(path: options.model.model)
let maxBatch = batchSizes.max() ?? 1
let engine = try ModelEngine(try Builder.build(try CheckpointLoader.load(gguf),
                                               BuildConfig(maxBatchSize: maxBatch, maxNumTokens: max(options.prompt, maxBatch),
                                                           plugins: Dictionary(uniqueKeysWithValues: options.disablePlugin.map { ($0, false) }),
                                                           quantization: QuantConfig(activations: options.activation))))
let config = engine.engine.config
let perSequence = options.prompt + options.warmup + options.steps + 1
var kv = try KVCacheManager(config: KvCacheConfig(maxTokens: maxBatch * (perSequence + 32), enableBlockReuse: false),
                            numLayers: config.numHiddenLayers, kvDim: config.kvDim)
for s in 0..<maxBatch { guard kv.reserve(s, tokens: perSequence) else { fatalError("KV cache too small") } }

/// Allocations counted over `options.steps` decode steps of `n` sequences after prefill and warm-up.
@MainActor func measure(sequences n: Int) throws -> (process: UInt64, thread: UInt64, bytes: UInt64) {
    let vocab = config.vocabSize
    var batch = ForwardBatch(sequences: [])
    for s in 0..<n {
        let promptIDs = (0..<options.prompt).map { Int32(100 + (($0 + 31 * s) * 7919) % (vocab - 200)) }
        let logits = try engine.forward(ForwardBatch(sequences: [.init(tokens: promptIDs, startPosition: 0, blockTable: kv.blockTable(s))]),
                                        cache: kv.cache)
        batch.sequences.append(.init(tokens: [Sampler.argmax(logits.row(0))], startPosition: options.prompt, blockTable: kv.blockTable(s)))
    }
    var logits = Logits()
    /// One decode step, the way a caller that keeps its batch and logits does it: same engine
    /// path as bench-speed's tg test (ModelEngine.forward, then argmax per row).
    func step() throws {
        if options.freshLogits {
            logits = try engine.forward(batch, cache: kv.cache)
        } else {
            try engine.forward(batch, cache: kv.cache, into: &logits)
        }
        for s in 0..<n {
            batch.sequences[s].tokens[0] = Sampler.argmax(logits.row(s))
            batch.sequences[s].startPosition += 1
        }
    }
    for _ in 0..<options.warmup { try step() }
    if options.trace > 0 { tllm_alloc_trace(Int32(options.trace)) }
    let (process, thread, bytes) = (tllm_alloc_count(), tllm_alloc_thread_count(), tllm_alloc_bytes())
    for _ in 0..<options.steps { try step() }
    let counted = (tllm_alloc_count() - process, tllm_alloc_thread_count() - thread, tllm_alloc_bytes() - bytes)
    tllm_alloc_trace(0)
    return counted
}

for n in batchSizes {
    let (process, thread, bytes) = try measure(sequences: n)
    let steps = Double(options.steps)
    print("{\"engine\": \"minitrtllm\", \"activation\": \"\(options.activation.rawValue)\", \"test\": \"alloc\", \"sequences\": \(n), \"steps\": \(options.steps), "
          + "\"allocations_per_step\": \(Double(process) / steps), \"caller_thread_allocations_per_step\": \(Double(thread) / steps), "
          + "\"bytes_per_step\": \(Double(bytes) / steps), \"plugins\": \(engine.engine.pluginNames.sorted()), \"fresh_logits\": \(options.freshLogits), \"backend\": \"\(CPUBackend().description)\"}")
}
