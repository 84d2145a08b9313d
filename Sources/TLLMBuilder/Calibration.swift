// Calibration for activation-aware quantization: run the unquantized graph on a few prompts and
// keep a sample of the rows that feed the linears AWQ will rescale.
import TLLMBackend
import TLLMEngine
import TLLMModel
import TLLMPlugin
import TLLMQuantization

enum Calibration {
    /// Runs `graph` over `weights` on each prompt and samples the input rows of `targets`.
    /// - Throws: ``EngineError`` if a prompt has ids outside the vocabulary or the graph cannot run.
    static func capture(graph: Graph, weights: [String: Tensor], model: ModelConfig, maxSeqLen: Int,
                        prompts: [[Int32]], targets: Set<ValueID>, progress: ProgressHandler?) throws(EngineError) -> CalibrationActivations {
        let prompts = prompts.map { Array($0.prefix(min(maxSeqLen, 512))) }.filter { !$0.isEmpty }
        let tokens = prompts.reduce(0) { $0 + $1.count }
        let config = BuildConfig(maxBatchSize: 1, maxSeqLen: maxSeqLen, maxNumTokens: max(tokens, 1), pluginDefault: false)
        let engine = Engine(config: model, buildConfig: config, maxSeqLen: maxSeqLen, graph: graph, weights: weights,
                            pluginNames: [], buildLog: [])
        let runner = try ModelEngine(engine, plugins: PluginRegistry(builtIns: false))
        var rows: [ValueID: [Float]] = [:]
        for (i, prompt) in prompts.enumerated() {
            progress?(BuildProgress(phase: "calibrating", completed: i, total: prompts.count, item: "prompt \(i + 1) (\(prompt.count) tokens)"))
            let blockSize = 16, blocks = (prompt.count + blockSize - 1) / blockSize
            let cache = PagedKVCache(numLayers: model.numHiddenLayers, numBlocks: blocks, tokensPerBlock: blockSize, kvDim: model.kvDim)
            let batch = ForwardBatch(sequences: [.init(tokens: prompt, startPosition: 0, blockTable: (0..<blocks).map(Int32.init))])
            var seen = Set<ValueID>()
            _ = try runner.forward(batch, cache: cache) { index, inputs in
                let op = graph.ops[index]
                guard case .linear = op.kind, let v = op.inputs.first, targets.contains(v), seen.insert(v).inserted else { return }
                let m = inputs[0]
                for r in 0..<m.rows { rows[v, default: []] += UnsafeBufferPointer(start: m.data + r * m.stride, count: m.columns) }
            }
        }
        progress?(BuildProgress(phase: "calibrating", completed: prompts.count, total: prompts.count, item: "done"))
        // Keep at most maxSamples rows per value, evenly spaced over all calibration tokens.
        var samples: [ValueID: [Float]] = [:]
        for (v, all) in rows {
            let width = graph.values[v].width, count = all.count / width
            let keep = min(count, CalibrationActivations.maxSamples)
            var picked: [Float] = []
            picked.reserveCapacity(keep * width)
            for i in 0..<keep {
                let r = i * count / keep
                picked += all[r * width ..< (r + 1) * width]
            }
            samples[v] = picked
        }
        return CalibrationActivations(samples: samples, tokens: tokens)
    }
}
