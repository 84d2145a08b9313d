// trtllm-microbench: measurements recorded in Docs/Performance.md and Docs/Quantization.md —
// engine file load time, decode speed and perplexity per quantization mode (KV int8 included,
// which runs here on the engine directly with its own cache).
import ArgumentParser
import MiniTRTLLM
import TLLMCLI
#if canImport(Glibc)
import Glibc
#endif

@main
struct Microbench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trtllm-microbench",
        abstract: "Micro-benchmarks: engine load time, decode speed, perplexity by quantization mode.",
        subcommands: [Load.self, Decode.self, Perplexity.self])
}

func now() -> ContinuousClock.Instant { ContinuousClock.now }
func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Time Engine.deserialize(from:) of an engine file (min and median of N runs).")
    @Argument(help: "The engine file.") var file: String
    @Option(name: .long, help: "Runs.") var runs = 20

    func run() throws {
        for verify in [true, false] {
            var times: [Double] = []
            for _ in 0..<runs {
                let start = now()
                let engine = try Engine.deserialize(from: file, verifyChecksums: verify)
                times.append(ms(now() - start))
                precondition(!engine.weights.isEmpty)
            }
            times.sort()
            print("{\"verify_checksums\": \(verify), \"runs\": \(runs), \"min_ms\": \(times[0]), \"median_ms\": \(times[runs / 2])}")
        }
    }
}

/// Opens a checkpoint or engine file and builds (or takes) its engine with `options`.
func loadEngine(_ path: String, _ options: EngineOptions, maxSeqLen: Int, maxNumTokens: Int) throws -> (ModelEngine, Tokenizer) {
    let source = try ModelSource.open(path)
    let config = source.preparing(try options.buildConfig(maxSeqLen: maxSeqLen, maxNumTokens: maxNumTokens))
    let engine = try Builder.build(source.model, config)
    return (try ModelEngine(engine), source.tokenizer)
}

/// A cache for one sequence of up to `tokens` positions, in the engine's KV dtype.
func cache(for engine: ModelEngine, tokens: Int) -> (PagedKVCache, [Int32]) {
    let c = engine.engine.config, blocks = (tokens + 15) / 16
    let cache = PagedKVCache(numLayers: c.numHiddenLayers, numBlocks: blocks, tokensPerBlock: 16, kvDim: c.kvDim,
                             dtype: engine.engine.buildConfig.kvCacheDType)
    return (cache, (0..<blocks).map(Int32.init))
}

func argmax(_ row: ArraySlice<Float>) -> Int32 { Int32(row.indices.max { row[$0] < row[$1] }! - row.startIndex) }

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Greedy decode speed, batch 1, after a short prompt (decode steps only).")
    @OptionGroup var model: ModelOptions
    @OptionGroup var options: EngineOptions
    @Option(name: .long, help: "Tokens to decode.") var tokens = 128
    @Option(name: .long, help: "The prompt.") var prompt = "Once upon a time"
    @Option(name: .long, help: "Runs; the fastest is reported (the machine may be shared).") var repeats = 3

    func run() throws {
        model.applyThreads()
        let (engine, tokenizer) = try loadEngine(model.model, options, maxSeqLen: 1024, maxNumTokens: 512)
        let ids = tokenizer.encode(prompt)
        var best = 0.0
        for _ in 0..<repeats {
            let (kv, table) = cache(for: engine, tokens: ids.count + tokens)
            var logits = try engine.forward(ForwardBatch(sequences: [.init(tokens: ids, startPosition: 0, blockTable: table)]), cache: kv)
            var next = argmax(logits.row(0))
            let start = now()
            for i in 0..<tokens {
                logits = try engine.forward(ForwardBatch(sequences: [.init(tokens: [next], startPosition: ids.count + i, blockTable: table)]), cache: kv)
                next = argmax(logits.row(0))
            }
            best = max(best, Double(tokens) / (ms(now() - start) / 1000))
        }
        print("{\"quant\": \"\(options.quant)\", \"activation\": \"\(options.activation)\", \"kv\": \"\(options.kvCacheDtype)\", \"weight_bytes\": \(engine.engine.weightBytes), \"decode_tokens_per_s\": \(best)}")
    }
}

struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Perplexity in windows of --ctx tokens (each scored on its own), as trtllm-eval perplexity, on the engine directly.")
    @OptionGroup var model: ModelOptions
    @OptionGroup var options: EngineOptions
    @Option(name: .long, help: "The text file.") var textFile: String
    @Option(name: .long, help: "Window length.") var ctx = 512
    @Option(name: .long, help: "Score only the first N tokens.") var maxTokens: Int?

    func run() throws {
        model.applyThreads()
        let (engine, tokenizer) = try loadEngine(model.model, options, maxSeqLen: ctx, maxNumTokens: ctx)
        var ids = tokenizer.encode(try readTextFile(textFile), parseSpecial: false)
        if let maxTokens { ids = Array(ids.prefix(maxTokens)) }
        let (kv, table) = cache(for: engine, tokens: ctx)
        var nll = 0.0, scored = 0, start = 0
        while start + 1 < ids.count {
            let window = Array(ids[start ..< min(start + ctx, ids.count)])
            let logits = try engine.forward(ForwardBatch(sequences: [.init(tokens: window, startPosition: 0, blockTable: table, logits: .all)]), cache: kv)
            for j in 1..<window.count {
                let row = logits.row(j - 1), top = Double(row.max()!)
                var sum = 0.0
                for v in row { sum += exp(Double(v) - top) }
                nll -= Double(row[row.startIndex + Int(window[j])]) - top - log(sum)
                scored += 1
            }
            start += ctx
        }
        print("{\"quant\": \"\(options.quant)\", \"activation\": \"\(options.activation)\", \"kv\": \"\(options.kvCacheDtype)\", \"perplexity\": \(exp(nll / Double(scored))), \"tokens\": \(scored), \"weight_bytes\": \(engine.engine.weightBytes)}")
    }
}
