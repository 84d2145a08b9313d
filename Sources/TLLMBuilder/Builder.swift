// The Builder: model → engine in TensorRT-LLM's steps (trace, quantize, plugins, plan).
import TLLMBackend
import TLLMEngine
import TLLMModel
import TLLMPlugin
import TLLMQuantization

/// Builds an ``Engine`` from a model and a ``BuildConfig``.
public enum Builder {
    /// Traces `model`, quantizes its weights, replaces matched subgraphs with plugins and returns the engine.
    /// - Throws: ``EngineError`` (`.invalidBuildConfig`) naming the setting to fix.
    public static func build(_ model: any CausalLM, _ config: BuildConfig = BuildConfig(),
                             plugins: PluginRegistry = .shared) throws(EngineError) -> Engine {
        let maxSeqLen = try validate(config, model: model.config)
        var log = ["Model: \(model.config.architecture.rawValue), \(model.config.numHiddenLayers) layers, hidden \(model.config.hiddenSize), vocab \(model.config.vocabSize)"]

        // 1. Trace the module tree into a graph.
        var graph = model.graph()
        if let problem = graph.validationError() { throw EngineError(.invalidBuildConfig, "traced graph is malformed: \(problem)") }
        log.append("Traced graph: \(graph.ops.count) ops over \(graph.values.count) values")

        // 2. Quantize the weights the graph reads.
        let used = Dictionary(uniqueKeysWithValues: graph.weightNames.compactMap { name in model.weights[name].map { (name, $0) } })
        let (weights, quantLog) = Quantizer.apply(config.quantization, to: used)
        log += quantLog

        // 3. Replace matched subgraphs with plugins.
        let (rewritten, pluginNames, pluginLog) = PluginPass.run(graph, registry: plugins, config: config)
        graph = rewritten
        log += pluginLog

        // 4. Plan: weights stay where they are (mmap'd or packed by quantization); activations are planned at load.
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
        return maxSeqLen
    }
}
