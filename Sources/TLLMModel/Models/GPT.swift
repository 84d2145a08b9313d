// The GPT-2 family, top to bottom: learned positions, LayerNorm, GELU MLP. Its random-weight
// variant (fixed seed) drives fast tests and the demo's offline mode.
import TLLMBackend
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Attention

/// Multi-head self-attention with biases, no rotary positions.
struct GPTAttention: Sendable {
    let layer: Int
    let config: ModelConfig
    let wq, wk, wv, wo: Linear

    init(layer: Int, config: ModelConfig) {
        let p = "blk.\(layer)"
        self.layer = layer
        self.config = config
        wq = Linear("\(p).attn_q.weight", bias: "\(p).attn_q.bias", outFeatures: config.qDim)
        wk = Linear("\(p).attn_k.weight", bias: "\(p).attn_k.bias", outFeatures: config.kvDim)
        wv = Linear("\(p).attn_v.weight", bias: "\(p).attn_v.bias", outFeatures: config.kvDim)
        wo = Linear("\(p).attn_output.weight", bias: "\(p).attn_output.bias", outFeatures: config.hiddenSize)
    }

    func callAsFunction(_ g: inout GraphBuilder, _ x: ValueID) -> ValueID {
        let q = wq(&g, x, name: "q")                                  // (T, heads * headDim)
        let k = wk(&g, x, name: "k")                                  // (T, kvHeads * headDim)
        let v = wv(&g, x, name: "v")                                  // (T, kvHeads * headDim)
        let o = g.attention(q, k, v, layer: layer, heads: config.numAttentionHeads,
                            kvHeads: config.numKeyValueHeads, headDim: config.headDim)   // (T, heads * headDim)
        return wo(&g, o, name: "out")                                 // (T, hidden)
    }
}

// MARK: - MLP

/// up → GELU → down, with biases.
struct GPTMLP: Sendable {
    let up, down: Linear

    init(layer: Int, config: ModelConfig) {
        up = Linear("blk.\(layer).ffn_up.weight", bias: "blk.\(layer).ffn_up.bias", outFeatures: config.intermediateSize)
        down = Linear("blk.\(layer).ffn_down.weight", bias: "blk.\(layer).ffn_down.bias", outFeatures: config.hiddenSize)
    }

    func callAsFunction(_ g: inout GraphBuilder, _ x: ValueID) -> ValueID {
        let h = g.gelu(up(&g, x, name: "up"))                         // (T, intermediate)
        return down(&g, h, name: "down")                              // (T, hidden)
    }
}

// MARK: - Block

/// Pre-LayerNorm residual block.
struct GPTBlock: Sendable {
    let norm1, norm2: LayerNorm
    let attention: GPTAttention
    let mlp: GPTMLP

    init(layer: Int, config: ModelConfig) {
        let p = "blk.\(layer)"
        norm1 = LayerNorm(weight: "\(p).attn_norm.weight", bias: "\(p).attn_norm.bias", epsilon: config.normEpsilon)
        norm2 = LayerNorm(weight: "\(p).ffn_norm.weight", bias: "\(p).ffn_norm.bias", epsilon: config.normEpsilon)
        attention = GPTAttention(layer: layer, config: config)
        mlp = GPTMLP(layer: layer, config: config)
    }

    func callAsFunction(_ g: inout GraphBuilder, _ x: ValueID) -> ValueID {
        let a = g.scoped("attn") { g in attention(&g, norm1(&g, x)) }  // (T, hidden)
        let h = g.add(x, a)                                             // (T, hidden)
        let m = g.scoped("ffn") { g in mlp(&g, norm2(&g, h)) }         // (T, hidden)
        return g.add(h, m)                                              // (T, hidden)
    }
}

// MARK: - Model

/// GPT-2 style causal LM: token + position embeddings → blocks → final LayerNorm → LM head.
public struct GPTForCausalLM: CausalLM {
    public let config: ModelConfig
    public let weights: [String: Tensor]
    let tokens: Embedding
    let blocks: [GPTBlock]
    let norm: LayerNorm
    let lmHead: Linear

    public init(config: ModelConfig, weights: [String: Tensor]) throws(ModelError) {
        self.config = config
        self.weights = weights
        tokens = Embedding(weight: "token_embd.weight", width: config.hiddenSize)
        blocks = (0..<config.numHiddenLayers).map { GPTBlock(layer: $0, config: config) }
        norm = LayerNorm(weight: "output_norm.weight", bias: "output_norm.bias", epsilon: config.normEpsilon)
        lmHead = Linear(config.tieWordEmbeddings ? "token_embd.weight" : "output.weight", outFeatures: config.vocabSize)
        try WeightCheck(weights).verify(Self.shapes(config))
    }

    public func trace(_ g: inout GraphBuilder) -> ValueID {
        let t = tokens(&g)                                                           // (T, hidden)
        let p = g.add(.positionEmbedding(weight: "position_embd.weight"), [], width: config.hiddenSize,
                      name: "positions")                                             // (T, hidden)
        var x = g.add(t, p)                                                          // (T, hidden)
        for (i, block) in blocks.enumerated() {
            x = g.scoped("blk.\(i)") { g in block(&g, x) }                           // (T, hidden)
        }
        let last = g.gatherOutputRows(norm(&g, x))                                   // (outputs, hidden)
        return lmHead(&g, last, name: "logits")                                      // (outputs, vocab)
    }

    /// Every weight the tree reads, with its (rows, columns) shape.
    static func shapes(_ c: ModelConfig) -> [String: [Int]] {
        let h = c.hiddenSize
        var s: [String: [Int]] = [
            "token_embd.weight": [c.vocabSize, h], "position_embd.weight": [c.maxPositionEmbeddings, h],
            "output_norm.weight": [h], "output_norm.bias": [h],
        ]
        if !c.tieWordEmbeddings { s["output.weight"] = [c.vocabSize, h] }
        for i in 0..<c.numHiddenLayers {
            let p = "blk.\(i)"
            for n in ["attn_norm", "ffn_norm"] { s["\(p).\(n).weight"] = [h]; s["\(p).\(n).bias"] = [h] }
            for (n, rows) in [("attn_q", c.qDim), ("attn_k", c.kvDim), ("attn_v", c.kvDim)] {
                s["\(p).\(n).weight"] = [rows, h]
                s["\(p).\(n).bias"] = [rows]
            }
            s["\(p).attn_output.weight"] = [h, c.qDim]; s["\(p).attn_output.bias"] = [h]
            s["\(p).ffn_up.weight"] = [c.intermediateSize, h]; s["\(p).ffn_up.bias"] = [c.intermediateSize]
            s["\(p).ffn_down.weight"] = [h, c.intermediateSize]; s["\(p).ffn_down.bias"] = [h]
        }
        return s
    }

    // MARK: Random weights

    /// The small GPT of the seed: fixed shapes, weights drawn from N(0, 0.02²) with a fixed seed.
    public static func random(config: ModelConfig? = nil, seed: UInt64 = 42) throws(ModelError) -> GPTForCausalLM {
        let c: ModelConfig
        if let config { c = config } else {
            c = try ModelConfig(architecture: .gpt, vocabSize: 512, hiddenSize: 64, intermediateSize: 256,
                                numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 4,
                                maxPositionEmbeddings: 256, normEpsilon: 1e-5, tieWordEmbeddings: true)
        }
        var rng = SplitMix64(seed: seed)
        var weights: [String: Tensor] = [:]
        for (name, shape) in shapes(c).sorted(by: { $0.key < $1.key }) {
            let count = shape.reduce(1, *)
            let values: [Float]
            if name.hasSuffix("norm.weight") { values = [Float](repeating: 1, count: count) }
            else if name.hasSuffix(".bias") { values = (0..<count).map { _ in rng.normal() * 0.01 } }
            else { values = (0..<count).map { _ in rng.normal() * 0.02 } }
            weights[name] = Tensor(shape: shape, floats: values)
        }
        return try GPTForCausalLM(config: c, weights: weights)
    }
}

/// A small, fast, seedable generator (SplitMix64) for reproducible random weights.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal sample (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = Double(next() >> 11 + 1) / Double(1 << 53)
        let u2 = Double(next() >> 11) / Double(1 << 53)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}
