// bench-speed: llama-bench's two numbers for our engine — prompt processing of N tokens in one
// pass (pp) and batch-1 generation of N tokens (tg) — as tokens/s, with a JSON line per test.
import ArgumentParser
import MiniTRTLLM
import TLLMCLI
import TLLMKernels
#if canImport(Glibc)
import Glibc
#endif

struct Options: ParsableArguments {
    @OptionGroup var model: ModelOptions
    @Option(help: "Prompt tokens processed in one pass (pp).") var pp = 512
    @Option(help: "Tokens generated one at a time (tg).") var tg = 128
    @Option(help: "Runs per test; the median is reported.") var repetitions = 3
    @Option(help: "Which tests, comma-separated: pp, tg.") var tests = "pp,tg"
    @Option(help: "Activations in the matrix products: float32 (the targets) or int8 (the opt-in W4A8 path).")
    var activation: ActivationPrecision = .float32
    @Option(help: """
        Two decode-prefetch settings "A,B" (column blocks ahead, 0 = off) to compare in tg: tokens \
        alternate between them within each run, so both see the same machine (this one is noisy \
        from minute to minute); prints each setting's median time per token.
        """)
    var abPrefetch: String?
    @Flag(name: .customLong("fuse-qkv"), inversion: .prefixedNo,
          help: "Fuse each attention's Q, K and V projections into one linear (the default build).")
    var fuseQKV = true
    @Flag(name: .customLong("ab-fuse-qkv"), help: """
        Compare Q, K and V as three linears (A) against one fused linear (B) in tg: two engines over \
        the same weights file, tokens alternating between them; prints each one's median time per token.
        """)
    var abFuseQKV = false
    @Option(help: """
        Two weight placements "A,B" (on: huge-page regions, the default; off: the heap) to compare \
        in tg like --ab-fuse-qkv: two engines, tokens alternating. The engine built second can be \
        faster, so run both orders (and off,off as the control).
        """)
    var abHugePages: String?

    func validate() throws {
        if let abPrefetch, Self.prefetchPair(abPrefetch) == nil {
            throw ValidationError("--ab-prefetch takes two column-block counts, 0 or more, e.g. 0,4 (got '\(abPrefetch)')")
        }
        if [abPrefetch != nil, abFuseQKV, abHugePages != nil].filter({ $0 }).count > 1 {
            throw ValidationError("--ab-prefetch, --ab-fuse-qkv and --ab-huge-pages are different comparisons; pick one")
        }
        if let abHugePages, Self.placementPair(abHugePages) == nil {
            throw ValidationError("--ab-huge-pages takes two of on and off, e.g. off,on (got '\(abHugePages)')")
        }
    }

    /// "A,B" as two settings, each read by `setting`, or nil.
    static func pair<T>(_ text: String, _ setting: (Substring) -> T?) -> [T]? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(setting)
        guard parts.count == 2, let a = parts[0], let b = parts[1] else { return nil }
        return [a, b]
    }

    /// --ab-prefetch's two column-block counts (0 or more), or nil.
    static func prefetchPair(_ text: String) -> [Int32]? { pair(text) { Int32($0).flatMap { $0 >= 0 ? $0 : nil } } }

    /// --ab-huge-pages's two placements (on or off), or nil.
    static func placementPair(_ text: String) -> [Bool]? { pair(text) { $0 == "on" ? true : $0 == "off" ? false : nil } }
}

/// MiB of this process's anonymous memory on transparent huge pages (the weights, when
/// HugePageArena got them), from /proc/self/smaps_rollup; nil where that is unreadable.
func hugePageMiB() -> Int? {
    guard let f = fopen("/proc/self/smaps_rollup", "r") else { return nil }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), f) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("AnonHugePages:") { return Int(text.split(separator: " ")[1]).map { $0 / 1024 } }
    }
    return nil
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

let options = Options.parseOrExit()
options.model.applyThreads()
/// Threads the kernels use (TLLM_NUM_THREADS, else every online CPU).
let threads = Int(getenv("TLLM_NUM_THREADS").map { String(cString: $0) } ?? "") ?? sysconf(Int32(_SC_NPROCESSORS_ONLN))
let gguf = try GGUFFile(path: options.model.model)
@MainActor func buildEngine(fuseQKV: Bool) throws -> ModelEngine {
    try ModelEngine(try Builder.build(try CheckpointLoader.load(gguf),
                                      BuildConfig(maxBatchSize: 1, maxNumTokens: max(options.pp, 1),
                                                  quantization: QuantConfig(activations: options.activation), fuseQKV: fuseQKV)))
}
let placements = options.abHugePages.flatMap(Options.placementPair)
let arenaSetting = HugePageArena.shared.isEnabled   // TLLM_HUGE_PAGES, restored after the A/B builds
if let placements { HugePageArena.shared.isEnabled = placements[0] }
let engine = try buildEngine(fuseQKV: options.fuseQKV && !options.abFuseQKV)
/// --ab-fuse-qkv or --ab-huge-pages: the engine each setting decodes with (A: three linears or
/// the first placement, B: fused or the second).
let abEngines: [ModelEngine]
if let placements {
    HugePageArena.shared.isEnabled = placements[1]
    abEngines = [engine, try buildEngine(fuseQKV: options.fuseQKV)]
    HugePageArena.shared.isEnabled = arenaSetting
} else {
    abEngines = options.abFuseQKV ? [engine, try buildEngine(fuseQKV: true)] : []
}
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

/// The two settings of --ab-prefetch, and the time of every token each setting (of --ab-prefetch,
/// --ab-fuse-qkv or --ab-huge-pages) decoded.
let abSettings = options.abPrefetch.flatMap(Options.prefetchPair)
var abTimes: [[Double]] = [[], []]
let comparing = abSettings != nil || !abEngines.isEmpty

/// `n` tokens one at a time after a 1-token start (llama-bench's tg: no prompt). With
/// --ab-prefetch, --ab-fuse-qkv or --ab-huge-pages, token i decodes with setting i mod 2 (the two
/// engines give the same bits, so they can share the cache).
@MainActor func generate(_ n: Int) throws -> Double {
    var token: Int32 = 1
    // One logits buffer for every step, as the Runtime and Executor keep one (no allocation per token).
    var logits = Logits()
    let defaultPrefetch = tllm_decode_prefetch()
    defer { tllm_set_decode_prefetch(defaultPrefetch) }
    let start = ContinuousClock.now
    for position in 0..<n {
        let setting = position % 2
        if let abSettings { tllm_set_decode_prefetch(abSettings[setting]) }
        let tokenStart = ContinuousClock.now
        try (abEngines.isEmpty ? engine : abEngines[setting])
            .forward(ForwardBatch(sequences: [.init(tokens: [token], startPosition: position, blockTable: table)]),
                     cache: kv.cache, into: &logits)
        token = Sampler.argmax(logits.row(0))
        if comparing { abTimes[setting].append(seconds(ContinuousClock.now - tokenStart)) }
    }
    return Double(n) / seconds(ContinuousClock.now - start)
}

/// Work per token, for the fraction-of-ceiling columns: batch-1 decode streams every weight byte
/// once per token; prefill does 2 FLOPs per linear weight per token (the LM head only for the last
/// token) plus causal attention, 4 · heads · headDim FLOPs per (query, key) pair.
let config = engine.engine.config
let weightBytes = engine.engine.weightBytes
let linearParams = engine.engine.weights.values.filter { $0.shape.count == 2 }.reduce(0) { $0 + $1.elementCount }
    - config.vocabSize * config.hiddenSize
func prefillFLOPs(_ n: Int) -> Double {
    Double(n) * 2 * Double(linearParams) + 2 * Double(config.vocabSize * config.hiddenSize)
        + Double(config.numHiddenLayers * config.numAttentionHeads * config.headDim) * 4 * Double(n * (n + 1) / 2)
}

_ = try prefill(min(16, options.pp))      // warm-up: page in the weights, start the pool
for test in options.tests.split(separator: ",").map(String.init) {
    var rates: [Double] = []
    for _ in 0..<options.repetitions { rates.append(test == "pp" ? try prefill(options.pp) : try generate(options.tg)) }
    rates.sort()
    let n = test == "pp" ? options.pp : options.tg
    let rate = rates[rates.count / 2]
    let work = test == "pp" ? "\"GFLOP_per_s\": \(prefillFLOPs(n) / Double(n) * rate / 1e9)"
                            : "\"weight_GB_per_s\": \(Double(weightBytes) * rate / 1e9)"
    let label = options.activation == .float32 ? "minitrtllm" : "minitrtllm-\(options.activation.rawValue)"
    print("{\"engine\": \"\(label)\", \"test\": \"\(test)\(n)\", \"threads\": \(threads), \"backend\": \"\(CPUBackend().description)\", \"tokens_per_s\": \(rate), \(work), \"huge_page_MiB\": \(hugePageMiB().map(String.init) ?? "null"), \"all\": \(rates)}")
}
if comparing, !abTimes[0].isEmpty, !abTimes[1].isEmpty {
    let medians = abTimes.map { $0.sorted()[$0.count / 2] * 1e3 }
    let (name, a, b) = abSettings.map { ("prefetch", "\($0[0])", "\($0[1])") }
        ?? placements.map { ("huge-pages", "\"\($0[0] ? "on" : "off")\"", "\"\($0[1] ? "on" : "off")\"") }
        ?? ("fuse-qkv", "\"separate\"", "\"fused\"")
    print("{\"test\": \"tg\(options.tg)-ab-\(name)\", \"threads\": \(threads), \"a\": \(a), \"b\": \(b), "
          + "\"tokens_each\": \(abTimes[0].count), \"a_ms_per_token\": \(medians[0]), \"b_ms_per_token\": \(medians[1]), "
          + "\"b_over_a\": \(medians[1] / medians[0])}")
}
