// The built-in plugins: what each replaces, that results do not change with plugins on or off,
// and that plugin ops are checked before they run.
import Testing
import TLLMBackend
import TLLMBuilder
import TLLMEngine
import TLLMModel
import TLLMPlugin
import TLLMQuantization
import TLLMRuntime

/// Logits for several sequences packed in one batch, every position, over a fresh cache.
func packedLogits(_ engine: ModelEngine, _ sequences: [[Int32]], kv: KVCacheDType? = nil) throws -> Logits {
    let c = engine.engine.config
    let blocksPer = 8
    let cache = PagedKVCache(numLayers: c.numHiddenLayers, numBlocks: blocksPer * sequences.count, tokensPerBlock: 8,
                             kvDim: c.kvDim, dtype: kv ?? engine.engine.buildConfig.kvCacheDType)
    let batch = ForwardBatch(sequences: sequences.enumerated().map { i, tokens in
        .init(tokens: tokens, startPosition: 0, blockTable: (0..<blocksPer).map { Int32(i * blocksPer + $0) }, logits: .all)
    })
    return try engine.forward(batch, cache: cache)
}

func worstDifference(_ a: Logits, _ b: Logits) -> Float {
    zip(a.values, b.values).map { abs($0 - $1) }.max() ?? .infinity
}

let pluginTestSequences: [[Int32]] = [[4, 8, 15, 16, 23, 42, 7, 1, 99], [2, 71, 82, 81, 8], [300, 5]]

@Suite("Plugins")
struct PluginTests {
    @Test("Every built-in fires on the Llama graph, leaving only plugin ops and the row gather, and the log says where")
    func builtInsReplaceTheLlamaGraph() throws {
        let engine = try Builder.build(try TestModels.llama())
        #expect(Set(engine.pluginNames) == ["GPTAttentionPlugin", "EmbeddingPlugin", "SwiGLUPlugin", "GemmPlugin", "RMSNormPlugin"])
        for line in ["Plugin replaced: GPTAttentionPlugin at blk.0.attn", "Plugin replaced: SwiGLUPlugin at blk.1.ffn",
                     "Plugin replaced: EmbeddingPlugin at model", "Plugin replaced: GemmPlugin at blk.0.ffn",
                     "Plugin replaced: RMSNormPlugin at blk.1.attn"] {
            #expect(engine.buildLog.contains(line), "missing: \(line)")
        }
        for op in engine.graph.ops {
            switch op.kind {
            case .plugin, .gatherOutputRows: continue
            default: Issue.record("op \(op.kind.name) at \(op.scope) was not replaced")
            }
        }
        // The gated MLP took its two GEMMs with it; the residual adds went into GEMM epilogues.
        let swiglu = engine.graph.ops.first { if case .plugin("SwiGLUPlugin", _) = $0.kind { true } else { false } }!
        guard case .plugin(_, let fields) = swiglu.kind else { return }
        #expect(fields.ints["fused_gemm"] == 1 && fields.weights == ["blk.0.ffn_gate.weight", "blk.0.ffn_up.weight"])
        let residualGemms = engine.graph.ops.filter { if case .plugin("GemmPlugin", let f) = $0.kind { f.ints["residual"] == 1 } else { false } }
        #expect(residualGemms.count == 4)   // attn_output and ffn_down in each of 2 layers
    }

    @Test("GPT-2 fuses token and position embeddings, and GELU into its up GEMM; with GEMM off GeluPlugin takes GELU")
    func gptFusions() throws {
        let model = try TestModels.gpt()
        let engine = try Builder.build(model)
        let embedding = engine.graph.ops.compactMap { if case .plugin("EmbeddingPlugin", let f) = $0.kind { f } else { nil } }
        #expect(embedding.map(\.weights) == [["token_embd.weight", "position_embd.weight"]])
        let gelus = engine.graph.ops.filter { if case .plugin("GemmPlugin", let f) = $0.kind { f.ints["activation"] == Activation.gelu.rawValue } else { false } }
        #expect(gelus.count == model.config.numHiddenLayers)
        let noGemm = try Builder.build(model, BuildConfig(plugins: ["GemmPlugin": false]))
        #expect(noGemm.pluginNames.contains("GeluPlugin"))
        #expect(noGemm.buildLog.contains("Plugin disabled: GemmPlugin"))
        #expect(noGemm.buildLog.contains("Plugin replaced: GeluPlugin at blk.0.ffn"))
    }

    @Test("Logits agree within 1e-4 with all plugins off and with each one off alone", arguments: ["llama", "gpt"])
    func pluginsOnOffAgree(model name: String) throws {
        let model: any CausalLM = name == "llama" ? try TestModels.llama() : try TestModels.gpt()
        let on = try packedLogits(try ModelEngine(try Builder.build(model)), pluginTestSequences)
        let allOff = try ModelEngine(try Builder.build(model, BuildConfig(pluginDefault: false)))
        #expect(allOff.engine.pluginNames.isEmpty)
        #expect(worstDifference(on, try packedLogits(allOff, pluginTestSequences)) <= 1e-4)
        for plugin in PluginRegistry.shared.names {
            let off = try ModelEngine(try Builder.build(model, BuildConfig(plugins: [plugin: false])))
            #expect(!off.engine.pluginNames.contains(plugin))
            #expect(worstDifference(on, try packedLogits(off, pluginTestSequences)) <= 1e-4, "\(plugin) off")
        }
    }

    @Test("With an int8 KV cache too, the fused attention plugin and the unfused ops give the same logits")
    func int8CachePluginsAgree() throws {
        let model = try TestModels.llama()
        let on = try ModelEngine(try Builder.build(model, BuildConfig(kvCacheDType: .int8)))
        let off = try ModelEngine(try Builder.build(model, BuildConfig(pluginDefault: false, kvCacheDType: .int8)))
        #expect(worstDifference(try packedLogits(on, pluginTestSequences), try packedLogits(off, pluginTestSequences)) <= 1e-4)
    }

    @Test("With every plugin on, a sequence's logits are bit-identical alone, packed, and prefilled in chunks")
    func pluginsKeepBatchInvariance() throws {
        let engine = try ModelEngine(try Builder.build(try TestModels.llama()))
        let packed = try packedLogits(engine, pluginTestSequences)
        var row = 0
        for sequence in pluginTestSequences {
            let alone = try packedLogits(engine, [sequence])
            #expect(alone.values[...] == packed.values[row * alone.vocabSize ..< (row + alone.rowCount) * alone.vocabSize])
            row += alone.rowCount
        }
        // Chunked prefill: 5 tokens, then 4, over the same cache.
        let c = engine.engine.config, tokens = pluginTestSequences[0]
        let cache = PagedKVCache(numLayers: c.numHiddenLayers, numBlocks: 2, tokensPerBlock: 8, kvDim: c.kvDim)
        let first = try engine.forward(ForwardBatch(sequences: [.init(tokens: Array(tokens[..<5]), startPosition: 0, blockTable: [0, 1], logits: .all)]), cache: cache)
        let second = try engine.forward(ForwardBatch(sequences: [.init(tokens: Array(tokens[5...]), startPosition: 5, blockTable: [0, 1], logits: .all)]), cache: cache)
        let whole = try packedLogits(engine, [tokens])
        #expect(first.values + second.values == whole.values)
    }

    @Test("A plugin op whose fields do not fit its inputs is refused when the engine loads")
    func badPluginFieldsAreRefused() throws {
        let engine = try Builder.build(try TestModels.llama())
        var graph = engine.graph
        let index = graph.ops.firstIndex { if case .plugin("GPTAttentionPlugin", _) = $0.kind { true } else { false } }!
        guard case .plugin(let name, var fields) = graph.ops[index].kind else { return }
        fields.ints["layer"] = 7
        graph.ops[index].kind = .plugin(name: name, fields: fields)
        let broken = Engine(config: engine.config, buildConfig: engine.buildConfig, maxSeqLen: engine.maxSeqLen, graph: graph,
                            weights: engine.weights, pluginNames: engine.pluginNames, buildLog: [])
        #expect {
            _ = try ModelEngine(broken)
        } throws: { error in
            guard let e = error as? EngineError else { return false }
            return e.code == .invalidGraph && e.message.contains("layer 7")
        }
    }

    @Test("Registering before another plugin changes matching order; registering a name again replaces it in place")
    func registryOrder() {
        let registry = PluginRegistry()
        #expect(registry.names == ["GPTAttentionPlugin", "EmbeddingPlugin", "SwiGLUPlugin", "GemmPlugin", "RMSNormPlugin", "GeluPlugin"])
        registry.register(GeluPlugin(), before: "SwiGLUPlugin")
        #expect(registry.names == ["GPTAttentionPlugin", "EmbeddingPlugin", "GeluPlugin", "SwiGLUPlugin", "GemmPlugin", "RMSNormPlugin"])
        registry.register(RMSNormPlugin())
        #expect(registry.names.count == 6)
    }
}
