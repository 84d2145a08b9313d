// Small random models for engine tests: no checkpoint needed.
import TLLMBackend
import TLLMModel

enum TestModels {
    static func gpt() throws -> GPTForCausalLM { try GPTForCausalLM.random(seed: 7) }

    /// A small Llama (grouped-query attention, tied head) with random f32 weights, or with
    /// matrices stored as `matrixType` (f16) to exercise the dequantizing kernels.
    /// With `outlierChannels`, a few channels of every norm weight are 8× larger, so the linears
    /// after them see activation outliers (what activation-aware quantization protects).
    static func llama(matrixType: DType = .f32, seed: UInt64 = 11, outlierChannels: Bool = false) throws -> LlamaForCausalLM {
        let c = try ModelConfig(architecture: .llama, vocabSize: 320, hiddenSize: 64, intermediateSize: 160,
                                numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
                                maxPositionEmbeddings: 512, normEpsilon: 1e-5, ropeTheta: 10_000, tieWordEmbeddings: true)
        var rng = SplitMix64(seed: seed)
        var weights: [String: Tensor] = [:]
        func add(_ name: String, _ shape: [Int], scale: Float = 0.05, one: Bool = false) {
            let n = shape.reduce(1, *)
            let values = (0..<n).map { _ in one ? 1 + rng.normal() * 0.1 : rng.normal() * scale }
            let tensor = Tensor(shape: shape, floats: values)
            weights[name] = (shape.count == 2 && matrixType == .f16) ? f16(tensor) : tensor
        }
        add("token_embd.weight", [c.vocabSize, c.hiddenSize], scale: 0.5)
        add("output_norm.weight", [c.hiddenSize], one: true)
        for i in 0..<c.numHiddenLayers {
            add("blk.\(i).attn_norm.weight", [c.hiddenSize], one: true)
            add("blk.\(i).ffn_norm.weight", [c.hiddenSize], one: true)
            if outlierChannels {
                for name in ["blk.\(i).attn_norm.weight", "blk.\(i).ffn_norm.weight"] {
                    var v = weights[name]!.floats()
                    for ch in [3, 17, 40, 41] { v[ch] *= 8 }
                    weights[name] = Tensor(shape: [c.hiddenSize], floats: v)
                }
            }
            add("blk.\(i).attn_q.weight", [c.qDim, c.hiddenSize])
            add("blk.\(i).attn_k.weight", [c.kvDim, c.hiddenSize])
            add("blk.\(i).attn_v.weight", [c.kvDim, c.hiddenSize])
            add("blk.\(i).attn_output.weight", [c.hiddenSize, c.qDim])
            add("blk.\(i).ffn_gate.weight", [c.intermediateSize, c.hiddenSize])
            add("blk.\(i).ffn_up.weight", [c.intermediateSize, c.hiddenSize])
            add("blk.\(i).ffn_down.weight", [c.hiddenSize, c.intermediateSize])
        }
        return try LlamaForCausalLM(config: c, weights: weights)
    }

    /// A one-layer Llama small enough that its engine file is about 50 KB (for fuzzing).
    static func tiny() throws -> LlamaForCausalLM {
        let c = try ModelConfig(architecture: .llama, vocabSize: 64, hiddenSize: 32, intermediateSize: 64,
                                numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1,
                                maxPositionEmbeddings: 64, tieWordEmbeddings: true)
        var rng = SplitMix64(seed: 99)
        var weights: [String: Tensor] = [:]
        func add(_ name: String, _ shape: [Int], one: Bool = false) {
            weights[name] = Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in one ? 1 : rng.normal() * 0.1 })
        }
        add("token_embd.weight", [c.vocabSize, c.hiddenSize])
        add("output_norm.weight", [c.hiddenSize], one: true)
        add("blk.0.attn_norm.weight", [c.hiddenSize], one: true)
        add("blk.0.ffn_norm.weight", [c.hiddenSize], one: true)
        for (n, rows, cols) in [("attn_q", c.qDim, c.hiddenSize), ("attn_k", c.kvDim, c.hiddenSize), ("attn_v", c.kvDim, c.hiddenSize),
                                ("attn_output", c.hiddenSize, c.qDim), ("ffn_gate", c.intermediateSize, c.hiddenSize),
                                ("ffn_up", c.intermediateSize, c.hiddenSize), ("ffn_down", c.hiddenSize, c.intermediateSize)] {
            add("blk.0.\(n).weight", [rows, cols])
        }
        return try LlamaForCausalLM(config: c, weights: weights)
    }

    /// The same values stored as IEEE half precision.
    static func f16(_ t: Tensor) -> Tensor {
        let values = t.floats().map { Float16($0).bitPattern }
        let storage = TensorStorage(byteCount: values.count * 2) { buffer in
            values.withUnsafeBytes { buffer.copyMemory(from: $0) }
        }
        return Tensor(shape: t.shape, dtype: .f16, storage: storage)
    }
}
