// Examples/CustomPlugin: a user's plugin registered ahead of a built-in takes over its ops and runs.
import CustomPluginExample
import Testing
import TLLMBackend
import TLLMBuilder
import TLLMEngine
import TLLMModel
import TLLMPlugin

/// A two-layer Llama with random float32 weights (grouped-query attention, tied head).
func randomLlama(seed: UInt64 = 5) throws -> LlamaForCausalLM {
    let c = try ModelConfig(architecture: .llama, vocabSize: 96, hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 2,
                            numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 128, tieWordEmbeddings: true)
    var rng = SplitMix64(seed: seed)
    var weights: [String: Tensor] = [:]
    func add(_ name: String, _ shape: [Int], norm: Bool = false) {
        let values = (0..<shape.reduce(1, *)).map { _ in norm ? 1 + rng.normal() * 0.1 : rng.normal() * 0.08 }
        weights[name] = Tensor(shape: shape, floats: values)
    }
    add("token_embd.weight", [c.vocabSize, c.hiddenSize])
    add("output_norm.weight", [c.hiddenSize], norm: true)
    for i in 0..<c.numHiddenLayers {
        add("blk.\(i).attn_norm.weight", [c.hiddenSize], norm: true)
        add("blk.\(i).ffn_norm.weight", [c.hiddenSize], norm: true)
        for (n, rows, cols) in [("attn_q", c.qDim, c.hiddenSize), ("attn_k", c.kvDim, c.hiddenSize), ("attn_v", c.kvDim, c.hiddenSize),
                                ("attn_output", c.hiddenSize, c.qDim), ("ffn_gate", c.intermediateSize, c.hiddenSize),
                                ("ffn_up", c.intermediateSize, c.hiddenSize), ("ffn_down", c.hiddenSize, c.intermediateSize)] {
            add("blk.\(i).\(n).weight", [rows, cols])
        }
    }
    return try LlamaForCausalLM(config: c, weights: weights)
}

func logits(_ engine: ModelEngine, _ tokens: [Int32]) throws -> [Float] {
    let c = engine.engine.config
    let cache = PagedKVCache(numLayers: c.numHiddenLayers, numBlocks: 4, tokensPerBlock: 16, kvDim: c.kvDim)
    let batch = ForwardBatch(sequences: [.init(tokens: tokens, startPosition: 0, blockTable: [0, 1, 2, 3], logits: .all)])
    return try engine.forward(batch, cache: cache).values
}

@Suite("Custom plugin example")
struct CustomPluginTests {
    @Test("A user's plugin registered before the built-in replaces every RMSNorm, runs, and keeps the logits")
    func userPluginReplacesBuiltIn() throws {
        let model = try randomLlama()
        let counter = CallCounter()
        let registry = PluginRegistry()
        registry.register(ScalarRMSNormPlugin(counter: counter), before: "RMSNormPlugin")
        #expect(registry.names.firstIndex(of: "ScalarRMSNormPlugin")! < registry.names.firstIndex(of: "RMSNormPlugin")!)

        let engine = try Builder.build(model, plugins: registry)
        #expect(engine.pluginNames.contains("ScalarRMSNormPlugin"))
        #expect(!engine.pluginNames.contains("RMSNormPlugin"))
        #expect(engine.buildLog.contains("Plugin replaced: ScalarRMSNormPlugin at blk.0.attn"))
        #expect(engine.buildLog.contains("Plugin replaced: ScalarRMSNormPlugin at blk.1.ffn"))

        let tokens: [Int32] = [3, 1, 4, 1, 5, 9, 2, 6]
        let custom = try logits(try ModelEngine(engine, plugins: registry), tokens)
        // 2 layers × 2 norms + the final norm, once per forward.
        #expect(counter.count == 5)
        let builtIn = try logits(try ModelEngine(try Builder.build(model)), tokens)
        let worst = zip(custom, builtIn).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-4, "worst |Δlogit| \(worst)")
    }

    @Test("An engine built with the user's plugin does not load where it is not registered")
    func unregisteredPluginIsNamed() throws {
        let registry = PluginRegistry()
        registry.register(ScalarRMSNormPlugin(), before: "RMSNormPlugin")
        let engine = try Builder.build(try randomLlama(), plugins: registry)
        #expect {
            _ = try ModelEngine(engine, plugins: PluginRegistry())
        } throws: { error in
            guard let e = error as? EngineError else { return false }
            return e.code == .unknownPlugin && e.message.contains("ScalarRMSNormPlugin")
        }
    }
}
