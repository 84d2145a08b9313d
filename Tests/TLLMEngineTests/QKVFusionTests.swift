// Build step 4's QKV fusion: which ops and weights it rewrites, that the logits keep their bits,
// where it stands aside, and that engine files from before it load as they were built.
import Foundation
import Testing
import TLLMBackend
@testable import TLLMBuilder
import TLLMEngine
import TLLMModel
import TLLMPlugin
import TLLMQuantization

@Suite("QKV fusion")
struct QKVFusionTests {
    /// The attention plugin ops of `graph` and, for each, the op producing its first input.
    static func attentionOps(_ graph: Graph) -> [(attention: GraphOp, producer: GraphOp)] {
        graph.ops.compactMap { op in
            guard case .plugin("GPTAttentionPlugin", _) = op.kind else { return nil }
            return (op, graph.ops.first { $0.output == op.inputs[0] }!)
        }
    }

    @Test("Each layer's Q, K and V become one linear over their stacked weights that the attention plugin reads packed",
          arguments: ["llama", "gpt"])
    func projectionsAreStacked(model name: String) throws {
        let model: any CausalLM = name == "llama" ? try TestModels.llama() : try TestModels.gpt()
        let c = model.config
        let fused = try Builder.build(model), separate = try Builder.build(model, BuildConfig(fuseQKV: false))
        #expect(fused.graph.ops.count == separate.graph.ops.count - 2 * c.numHiddenLayers)
        #expect(fused.buildLog.contains("Fused QKV: \(c.numHiddenLayers) attention projections into one linear each"))
        for (layer, (attention, producer)) in Self.attentionOps(fused.graph).enumerated() {
            #expect(attention.inputs.count == 1)
            #expect(fused.graph.values[attention.inputs[0]].width == c.qDim + 2 * c.kvDim)
            let bias: String? = name == "gpt" ? "blk.\(layer).attn_qkv.bias" : nil
            // GemmPlugin had taken each projection; the stacked one is a GemmPlugin op too.
            #expect(producer.kind == QKVFusionPass.Projection.kind(weight: "blk.\(layer).attn_qkv.weight", bias: bias, gemmPlugin: true))
            #expect(fused.weights["blk.\(layer).attn_qkv.weight"]?.shape == [c.qDim + 2 * c.kvDim, c.hiddenSize])
            for part in ["q", "k", "v"] { #expect(fused.weights["blk.\(layer).attn_\(part).weight"] == nil) }
            if let bias { #expect(fused.weights[bias]?.floats() == ["q", "k", "v"].flatMap { separate.weights["blk.\(layer).attn_\($0).bias"]!.floats() }) }
        }
        #expect(fused.graph.validationError() == nil)
        #expect(Set(fused.graph.values.indices) == Set(fused.graph.ops.map(\.output)), "a value no op produces was left behind")
        #expect(Self.attentionOps(separate.graph).allSatisfy { $0.attention.inputs.count == 3 })
    }

    @Test("Fused and separate projections give bit-identical logits: packed prefill, chunked prefill and decode steps",
          arguments: ["llama", "llama-f16", "gpt"])
    func fusionKeepsTheBits(model name: String) throws {
        let model: any CausalLM = switch name {
        case "gpt": try TestModels.gpt()
        case "llama-f16": try TestModels.llama(matrixType: .f16)
        default: try TestModels.llama()
        }
        let fused = try ModelEngine(try Builder.build(model))
        let separate = try ModelEngine(try Builder.build(model, BuildConfig(fuseQKV: false)))
        #expect(try packedLogits(fused, pluginTestSequences).values == packedLogits(separate, pluginTestSequences).values)
        // 5 prompt tokens, then one token a step, each engine over its own cache.
        func steps(_ engine: ModelEngine) throws -> [Float] {
            let c = engine.engine.config, tokens = pluginTestSequences[0]
            let cache = PagedKVCache(numLayers: c.numHiddenLayers, numBlocks: 2, tokensPerBlock: 8, kvDim: c.kvDim)
            var all = try engine.forward(ForwardBatch(sequences: [.init(tokens: Array(tokens[..<5]), startPosition: 0, blockTable: [0, 1])]), cache: cache).values
            for position in 5..<tokens.count {
                all += try engine.forward(ForwardBatch(sequences: [.init(tokens: [tokens[position]], startPosition: position, blockTable: [0, 1])]), cache: cache).values
            }
            return all
        }
        #expect(try steps(fused) == steps(separate))
    }

    @Test("Without GemmPlugin the stacked projection is a plain linear op, with the same logits")
    func plainLinearsStack() throws {
        let model = try TestModels.gpt()
        let config = BuildConfig(plugins: ["GemmPlugin": false])
        let fused = try Builder.build(model, config)
        var separateConfig = config
        separateConfig.fuseQKV = false
        #expect(Self.attentionOps(fused.graph).first?.producer.kind == .linear(weight: "blk.0.attn_qkv.weight", bias: "blk.0.attn_qkv.bias"))
        #expect(try packedLogits(ModelEngine(fused), pluginTestSequences).values
                == packedLogits(ModelEngine(try Builder.build(model, separateConfig)), pluginTestSequences).values)
    }

    @Test("Without the attention plugin, or over weights that do not stack, the projections stay three linears")
    func fusionStandsAside() throws {
        let model = try TestModels.llama()
        let noPlugin = try Builder.build(model, BuildConfig(plugins: ["GPTAttentionPlugin": false]))
        #expect(!noPlugin.buildLog.contains { $0.hasPrefix("Fused QKV") })
        #expect(noPlugin.weights["blk.0.attn_q.weight"] != nil && noPlugin.weights["blk.0.attn_qkv.weight"] == nil)
        // Grouped Q4_1 Q, K and V: K's 32 rows are half a group, so V's rows cannot be appended.
        let built = try Builder.build(model, BuildConfig(fuseQKV: false))
        var weights = built.weights
        for part in ["q", "k", "v"] {
            let name = "blk.0.attn_\(part).weight", shape = weights[name]!.shape
            weights[name] = Tensor(shape: shape, dtype: .q4_1x8g,
                                   storage: TensorStorage(byteCount: DType.q4_1x8g.byteCount(shape: shape)!) { _ in })
        }
        let result = QKVFusionPass.run(built.graph, weights: weights)
        #expect(result.log.contains("QKV not fused at blk.0.attn (q4_1_x8g, q4_1_x8g, q4_1_x8g weights do not stack)"))
        #expect(result.log.contains("Fused QKV: 1 attention projections into one linear each"))
        #expect(result.weights["blk.0.attn_q.weight"] != nil && result.weights["blk.1.attn_qkv.weight"] != nil)
        // A weight already holding the stacked name is never overwritten.
        var clash = built.weights
        clash["blk.1.attn_qkv.weight"] = Tensor(shape: [1], floats: [0])
        #expect(QKVFusionPass.run(built.graph, weights: clash).log
                    .contains("QKV not fused at blk.1.attn (the stacked name blk.1.attn_qkv.weight is taken)"))
    }

    @Test("The stacked weight is named by the parts' common prefix and suffix around their joined middles")
    func stackedNames() {
        #expect(QKVFusionPass.stackedName(["blk.3.attn_q.weight", "blk.3.attn_k.weight", "blk.3.attn_v.weight"]) == "blk.3.attn_qkv.weight")
        #expect(QKVFusionPass.stackedName(["h.0.q_proj.bias", "h.0.k_proj.bias", "h.0.v_proj.bias"]) == "h.0.qkv_proj.bias")
        #expect(QKVFusionPass.stackedName(["wq", "wkey", "wv"]) == "wqkeyv")
    }

    @Test("A build configuration stored before fuseQKV existed decodes with fusion off, as it was built")
    func oldConfigurationsDecodeUnfused() throws {
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(BuildConfig())) as! [String: Any]
        #expect(json["fuseQKV"] as? Bool == true)
        json["fuseQKV"] = nil
        let old = try JSONDecoder().decode(BuildConfig.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(old == BuildConfig(fuseQKV: false))
    }
}
