// The Llama family (Llama, SmolLM, Mistral, Qwen2) as a module tree, top to bottom:
// config → attention → MLP → decoder layer → model. Shapes in comments: T = packed tokens.
import TLLMBackend

// MARK: - Attention

/// Grouped-query self-attention with rotary positions.
struct LlamaAttention: Sendable {
    let layer: Int
    let config: ModelConfig
    let wq, wk, wv, wo: Linear

    init(layer: Int, config: ModelConfig, hasBias: Bool) {
        let p = "blk.\(layer)"
        self.layer = layer
        self.config = config
        wq = Linear("\(p).attn_q.weight", bias: hasBias ? "\(p).attn_q.bias" : nil, outFeatures: config.qDim)
        wk = Linear("\(p).attn_k.weight", bias: hasBias ? "\(p).attn_k.bias" : nil, outFeatures: config.kvDim)
        wv = Linear("\(p).attn_v.weight", bias: hasBias ? "\(p).attn_v.bias" : nil, outFeatures: config.kvDim)
        wo = Linear("\(p).attn_output.weight", outFeatures: config.hiddenSize)
    }

    func callAsFunction(_ g: inout GraphBuilder, _ x: ValueID) -> ValueID {
        let c = config
        let q = wq(&g, x, name: "q")                                  // (T, heads * headDim)
        let k = wk(&g, x, name: "k")                                  // (T, kvHeads * headDim)
        let v = wv(&g, x, name: "v")                                  // (T, kvHeads * headDim)
        let rope = { (heads: Int) in
            OpKind.rope(heads: heads, headDim: c.headDim, ropeDim: c.ropeDim, theta: c.ropeTheta, neox: c.ropeNeox)
        }
        let qr = g.add(rope(c.numAttentionHeads), [q], width: c.qDim, name: "q_rope")    // (T, heads * headDim)
        let kr = g.add(rope(c.numKeyValueHeads), [k], width: c.kvDim, name: "k_rope")    // (T, kvHeads * headDim)
        let o = g.attention(qr, kr, v, layer: layer, heads: c.numAttentionHeads,
                            kvHeads: c.numKeyValueHeads, headDim: c.headDim)                 // (T, heads * headDim)
        return wo(&g, o, name: "out")                                 // (T, hidden)
    }
}

// MARK: - MLP

/// SwiGLU feed-forward: down(silu(gate(x)) * up(x)).
struct LlamaMLP: Sendable {
    let gate, up, down: Linear

    init(layer: Int, config: ModelConfig) {
        let p = "blk.\(layer)"
        gate = Linear("\(p).ffn_gate.weight", outFeatures: config.intermediateSize)
        up = Linear("\(p).ffn_up.weight", outFeatures: config.intermediateSize)
        down = Linear("\(p).ffn_down.weight", outFeatures: config.hiddenSize)
    }

    func callAsFunction(_ g: inout GraphBuilder, _ x: ValueID) -> ValueID {
        let gated = gate(&g, x, name: "gate")                         // (T, intermediate)
        let lifted = up(&g, x, name: "up")                            // (T, intermediate)
        let h = g.mul(g.silu(gated), lifted)                          // (T, intermediate)
        return down(&g, h, name: "down")                              // (T, hidden)
    }
}

// MARK: - Decoder layer

/// Pre-norm residual block: x + attn(norm(x)), then h + mlp(norm(h)).
struct LlamaDecoderLayer: Sendable {
    let attentionNorm, ffnNorm: RMSNorm
    let attention: LlamaAttention
    let mlp: LlamaMLP

    init(layer: Int, config: ModelConfig, hasBias: Bool) {
        attentionNorm = RMSNorm(weight: "blk.\(layer).attn_norm.weight", epsilon: config.normEpsilon)
        ffnNorm = RMSNorm(weight: "blk.\(layer).ffn_norm.weight", epsilon: config.normEpsilon)
        attention = LlamaAttention(layer: layer, config: config, hasBias: hasBias)
        mlp = LlamaMLP(layer: layer, config: config)
    }

    func callAsFunction(_ g: inout GraphBuilder, _ x: ValueID) -> ValueID {
        let a = g.scoped("attn") { g in attention(&g, attentionNorm(&g, x)) }   // (T, hidden)
        let h = g.add(x, a)                                                      // (T, hidden)
        let m = g.scoped("ffn") { g in mlp(&g, ffnNorm(&g, h)) }                // (T, hidden)
        return g.add(h, m)                                                       // (T, hidden)
    }
}

// MARK: - Model

/// Llama-family causal LM: embedding → N decoder layers → final norm → LM head (tied or not).
public struct LlamaForCausalLM: CausalLM {
    public let config: ModelConfig
    public let weights: [String: Tensor]
    let embedding: Embedding
    let layers: [LlamaDecoderLayer]
    let norm: RMSNorm
    let lmHead: Linear

    /// Builds the module tree over `weights`, checking every weight the tree needs.
    /// - Throws: ``ModelError`` naming a missing weight or a shape that disagrees with `config`.
    public init(config: ModelConfig, weights: [String: Tensor]) throws(ModelError) {
        let hasBias = weights["blk.0.attn_q.bias"] != nil
        self.config = config
        self.weights = weights
        embedding = Embedding(weight: "token_embd.weight", width: config.hiddenSize)
        layers = (0..<config.numHiddenLayers).map { LlamaDecoderLayer(layer: $0, config: config, hasBias: hasBias) }
        norm = RMSNorm(weight: "output_norm.weight", epsilon: config.normEpsilon)
        lmHead = Linear(config.tieWordEmbeddings ? "token_embd.weight" : "output.weight", outFeatures: config.vocabSize)
        try WeightCheck(weights).verify(expectedShapes(hasBias: hasBias))
    }

    public func trace(_ g: inout GraphBuilder) -> ValueID {
        var x = embedding(&g)                                          // (T, hidden)
        for (i, layer) in layers.enumerated() {
            x = g.scoped("blk.\(i)") { g in layer(&g, x) }             // (T, hidden)
        }
        let last = g.gatherOutputRows(norm(&g, x))                     // (outputs, hidden)
        return lmHead(&g, last, name: "logits")                        // (outputs, vocab)
    }

    /// Every weight the module tree reads, with its (rows, columns) shape.
    func expectedShapes(hasBias: Bool) -> [String: [Int]] {
        let c = config
        var shapes: [String: [Int]] = [
            "token_embd.weight": [c.vocabSize, c.hiddenSize],
            "output_norm.weight": [c.hiddenSize],
        ]
        if !c.tieWordEmbeddings { shapes["output.weight"] = [c.vocabSize, c.hiddenSize] }
        for i in 0..<c.numHiddenLayers {
            let p = "blk.\(i)"
            shapes["\(p).attn_norm.weight"] = [c.hiddenSize]
            shapes["\(p).ffn_norm.weight"] = [c.hiddenSize]
            shapes["\(p).attn_q.weight"] = [c.qDim, c.hiddenSize]
            shapes["\(p).attn_k.weight"] = [c.kvDim, c.hiddenSize]
            shapes["\(p).attn_v.weight"] = [c.kvDim, c.hiddenSize]
            shapes["\(p).attn_output.weight"] = [c.hiddenSize, c.qDim]
            shapes["\(p).ffn_gate.weight"] = [c.intermediateSize, c.hiddenSize]
            shapes["\(p).ffn_up.weight"] = [c.intermediateSize, c.hiddenSize]
            shapes["\(p).ffn_down.weight"] = [c.hiddenSize, c.intermediateSize]
            if hasBias {
                shapes["\(p).attn_q.bias"] = [c.qDim]
                shapes["\(p).attn_k.bias"] = [c.kvDim]
                shapes["\(p).attn_v.bias"] = [c.kvDim]
            }
        }
        return shapes
    }
}
