// The hyper-parameters that define a decoder-only transformer, read from a checkpoint and validated once.

/// Shape and numerics of a causal language model. Keys follow Hugging Face's `config.json` names.
public struct ModelConfig: Sendable, Codable, Equatable {
    /// The model family: decides the module tree.
    public enum Architecture: String, Sendable, Codable {
        /// Llama family (Llama, SmolLM, Mistral; Qwen2 with neox RoPE and q/k/v biases).
        case llama
        /// GPT-2 style: LayerNorm, GELU MLP, learned positions.
        case gpt
    }

    public var architecture: Architecture
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var maxPositionEmbeddings: Int
    /// RMSNorm / LayerNorm epsilon.
    public var normEpsilon: Float
    public var ropeTheta: Double
    /// Leading dims of each head that RoPE rotates (all of them for Llama).
    public var ropeDim: Int
    /// Rotate halves (GPT-NeoX / Qwen2) instead of adjacent pairs (GGUF Llama).
    public var ropeNeox: Bool
    /// The LM head reuses the token embedding.
    public var tieWordEmbeddings: Bool

    enum CodingKeys: String, CodingKey {
        case architecture, vocabSize = "vocab_size", hiddenSize = "hidden_size",
             intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers",
             numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads",
             headDim = "head_dim", maxPositionEmbeddings = "max_position_embeddings",
             normEpsilon = "norm_eps", ropeTheta = "rope_theta", ropeDim = "rope_dim",
             ropeNeox = "rope_neox", tieWordEmbeddings = "tie_word_embeddings"
    }

    /// Creates a configuration and validates it.
    /// - Throws: ``ModelError`` with code `.invalidConfig` naming the inconsistent field.
    public init(architecture: Architecture, vocabSize: Int, hiddenSize: Int, intermediateSize: Int,
                numHiddenLayers: Int, numAttentionHeads: Int, numKeyValueHeads: Int, headDim: Int? = nil,
                maxPositionEmbeddings: Int, normEpsilon: Float = 1e-5, ropeTheta: Double = 10_000,
                ropeDim: Int? = nil, ropeNeox: Bool = false, tieWordEmbeddings: Bool) throws(ModelError) {
        self.architecture = architecture
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads
        let headDim = headDim ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0)
        self.headDim = headDim
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.normEpsilon = normEpsilon
        self.ropeTheta = ropeTheta
        self.ropeDim = ropeDim ?? headDim
        self.ropeNeox = ropeNeox
        self.tieWordEmbeddings = tieWordEmbeddings
        try validate()
    }

    /// Width of the key (and value) projection.
    public var kvDim: Int { numKeyValueHeads * headDim }
    /// Width of the query projection.
    public var qDim: Int { numAttentionHeads * headDim }

    /// Checks that the numbers are positive and fit together.
    public func validate() throws(ModelError) {
        func check(_ ok: Bool, _ message: String) throws(ModelError) {
            if !ok { throw ModelError(.invalidConfig, message) }
        }
        for (name, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize),
                              ("intermediate_size", intermediateSize), ("num_hidden_layers", numHiddenLayers),
                              ("num_attention_heads", numAttentionHeads), ("num_key_value_heads", numKeyValueHeads),
                              ("head_dim", headDim), ("max_position_embeddings", maxPositionEmbeddings)] {
            try check(value > 0 && value < 1 << 28, "\(name) = \(value) must be a positive size")
        }
        try check(numAttentionHeads % numKeyValueHeads == 0,
                  "num_attention_heads (\(numAttentionHeads)) must be a multiple of num_key_value_heads (\(numKeyValueHeads))")
        try check(ropeDim > 0 && ropeDim <= headDim && ropeDim % 2 == 0,
                  "rope_dim (\(ropeDim)) must be even and at most head_dim (\(headDim))")
        try check(normEpsilon > 0 && normEpsilon.isFinite, "norm_eps (\(normEpsilon)) must be positive")
        try check(ropeTheta > 0 && ropeTheta.isFinite, "rope_theta (\(ropeTheta)) must be positive")
    }
}
