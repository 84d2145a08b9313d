// The Builder: model → engine in TensorRT-LLM's steps (trace, quantize, plugins, plan).
import TLLMBackend
import TLLMEngine
import TLLMModel
import TLLMPlugin
import TLLMQuantization

/// Builds an ``Engine`` from a model and a ``BuildConfig``.
public enum Builder {
    /// Traces `model`, quantizes its weights, replaces matched subgraphs with plugins and returns the engine.
    ///
    /// A ``PrebuiltEngine`` is returned as it is: an engine file already went through these steps.
    /// - Parameters:
    ///   - progress: Called during calibration and quantization (the long steps).
    /// - Throws: ``EngineError`` (`.invalidBuildConfig`, `.quantization`) naming the setting to fix.
    public static func build(_ model: any CausalLM, _ config: BuildConfig = BuildConfig(),
                             plugins: PluginRegistry = .shared, progress: ProgressHandler? = nil) throws(EngineError) -> Engine {
        if let prebuilt = model as? PrebuiltEngine { return prebuilt.engine }
        let maxSeqLen = try validate(config, model: model.config)
        var log = ["Model: \(model.config.architecture.rawValue), \(model.config.numHiddenLayers) layers, hidden \(model.config.hiddenSize), vocab \(model.config.vocabSize)"]

        // 1. Trace the module tree into a graph.
        var graph = model.graph()
        if let problem = graph.validationError() { throw EngineError(.invalidBuildConfig, "traced graph is malformed: \(problem)") }
        log.append("Traced graph: \(graph.ops.count) ops over \(graph.values.count) values")

        // 2. Quantize the weights the graph reads (calibrating first for activation-aware scaling).
        let used = Dictionary(uniqueKeysWithValues: graph.weightNames.compactMap { name in model.weights[name].map { (name, $0) } })
        let quant = config.quantization
        var activations: CalibrationActivations?
        let targets = Quantizer.calibrationTargets(graph, weights: used, config: quant)
        if !targets.isEmpty {
            for id in quant.calibration.joined() where id < 0 || Int(id) >= model.config.vocabSize {
                throw EngineError(.quantization, "calibration token id \(id) is outside the vocabulary 0..<\(model.config.vocabSize)")
            }
            activations = try Calibration.capture(graph: graph, weights: used, model: model.config, maxSeqLen: maxSeqLen,
                                                  prompts: quant.calibration, targets: targets, progress: progress)
        }
        var weights: [String: Tensor]
        do {
            let (quantized, quantLog) = try Quantizer.apply(quant, to: used, graph: graph, activations: activations, progress: progress)
            weights = quantized
            log += quantLog
        } catch {
            throw EngineError(.quantization, error.message)
        }
        if quant.activations == .int8 {
            log.append("Activations: int8 per 32 values into the Q4_0/Q4_1/Q8_0 linears (W4A8; other matrices keep float32)")
        }
        if config.kvCacheDType != .float32 { log.append("KV cache: \(config.kvCacheDType.rawValue) (scale per 32 values of each token)") }

        // 3. Replace matched subgraphs with plugins.
        let limits = PluginLimits(vocabSize: model.config.vocabSize, maxSeqLen: maxSeqLen,
                                  numLayers: model.config.numHiddenLayers, kvDim: model.config.kvDim)
        let (rewritten, pluginNames, pluginLog) = PluginPass.run(graph, registry: plugins, config: config, weights: weights, limits: limits)
        graph = rewritten
        log += pluginLog

        // 4. Fuse, then plan: weights stay where they are (mmap'd or packed by quantization) but
        //    for the stacked QKV ones; activations are planned at load.
        if config.fuseQKV {
            let fused = QKVFusionPass.run(graph, weights: weights)
            (graph, weights) = (fused.graph, fused.weights)
            log += fused.log
        }
        // 5. Place: the weights this build allocated (repacked, quantized, stacked) move onto huge
        //    pages, where decode streams them faster; those borrowed from the checkpoint stay.
        weights = weights.mapValues { $0.storage.isAllocated ? $0.onHugePages() : $0 }
        log.append("Engine: \(graph.ops.count) ops, \(Quantizer.modelBytes(weights) / 1_048_576) MiB of weights, max_seq_len \(maxSeqLen), max_num_tokens \(config.maxNumTokens), max_batch_size \(config.maxBatchSize)")
        return Engine(config: model.config, buildConfig: config, maxSeqLen: maxSeqLen, graph: graph,
                      weights: weights, pluginNames: pluginNames, buildLog: log)
    }

    /// Checks the limits against each other and the model; returns the resolved max_seq_len.
    static func validate(_ c: BuildConfig, model: ModelConfig) throws(EngineError) -> Int {
        func check(_ ok: Bool, _ message: String) throws(EngineError) {
            if !ok { throw EngineError(.invalidBuildConfig, message) }
        }
        let maxSeqLen = c.maxSeqLen ?? model.maxPositionEmbeddings
        try check(c.maxBatchSize >= 1 && c.maxBatchSize <= 4096, "max_batch_size \(c.maxBatchSize) must be in 1...4096")
        try check(c.maxNumTokens >= 1 && c.maxNumTokens <= 1 << 20, "max_num_tokens \(c.maxNumTokens) must be in 1...\(1 << 20)")
        try check(maxSeqLen >= 2, "max_seq_len \(maxSeqLen) must be at least 2")
        try check(maxSeqLen <= model.maxPositionEmbeddings || model.architecture == .llama,
                  "max_seq_len \(maxSeqLen) exceeds the model's \(model.maxPositionEmbeddings) learned positions")
        if let input = c.maxInputLen {
            try check(input >= 1 && input < maxSeqLen, "max_input_len \(input) must be in 1..<max_seq_len (\(maxSeqLen))")
        }
        try check(maxSeqLen <= 1 << 24, "max_seq_len \(maxSeqLen) must be at most \(1 << 24)")
        try check(c.kvCacheDType == .float32 || model.kvDim % 32 == 0,
                  "kv_cache_dtype int8 needs the KV width (kv_heads × head_dim = \(model.kvDim)) to be a multiple of 32; use float32")
        if let problem = c.quantization.problems().first { try check(false, problem) }
        return maxSeqLen
    }
}
