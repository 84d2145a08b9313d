// The limits and choices an engine is built with; stored in the engine and checked by the Builder.
import TLLMBackend
import TLLMQuantization

/// Build-time settings (TensorRT-LLM's `BuildConfig`).
public struct BuildConfig: Sendable, Codable, Equatable {
    /// Most sequences in one forward batch.
    public var maxBatchSize: Int
    /// Longest sequence (prompt + generated tokens); `nil` takes the model's context length.
    public var maxSeqLen: Int?
    /// Most tokens (all sequences together) in one forward batch.
    public var maxNumTokens: Int
    /// Longest prompt; `nil` means `maxSeqLen - 1`.
    public var maxInputLen: Int?
    /// Plugins switched on or off by name; a plugin not named here follows `pluginDefault`.
    public var plugins: [String: Bool]
    /// Whether a plugin not named in `plugins` is on (false: only the named ones run).
    public var pluginDefault: Bool
    public var quantization: QuantConfig
    /// How the KV cache stores keys and values (float32, or int8 with per-block scales).
    public var kvCacheDType: KVCacheDType
    /// Fuse each attention's query, key and value projections into one linear over their stacked
    /// weights (TensorRT-LLM's fused QKV GEMM) where the GPTAttention plugin reads them: one pass
    /// over the shared input instead of three, with the same result bits.
    public var fuseQKV: Bool

    public init(maxBatchSize: Int = 64, maxSeqLen: Int? = nil, maxNumTokens: Int = 2048, maxInputLen: Int? = nil,
                plugins: [String: Bool] = [:], pluginDefault: Bool = true, quantization: QuantConfig = QuantConfig(),
                kvCacheDType: KVCacheDType = .float32, fuseQKV: Bool = true) {
        self.maxBatchSize = maxBatchSize
        self.maxSeqLen = maxSeqLen
        self.maxNumTokens = maxNumTokens
        self.maxInputLen = maxInputLen
        self.plugins = plugins
        self.pluginDefault = pluginDefault
        self.quantization = quantization
        self.kvCacheDType = kvCacheDType
        self.fuseQKV = fuseQKV
    }

    private enum CodingKeys: String, CodingKey {
        case maxBatchSize, maxSeqLen, maxNumTokens, maxInputLen, plugins, pluginDefault, quantization, kvCacheDType, fuseQKV
    }

    /// Decodes a stored configuration; engine files written before `fuseQKV` existed read as false,
    /// which is how they were built.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(maxBatchSize: try c.decode(Int.self, forKey: .maxBatchSize),
                  maxSeqLen: try c.decodeIfPresent(Int.self, forKey: .maxSeqLen),
                  maxNumTokens: try c.decode(Int.self, forKey: .maxNumTokens),
                  maxInputLen: try c.decodeIfPresent(Int.self, forKey: .maxInputLen),
                  plugins: try c.decode([String: Bool].self, forKey: .plugins),
                  pluginDefault: try c.decode(Bool.self, forKey: .pluginDefault),
                  quantization: try c.decode(QuantConfig.self, forKey: .quantization),
                  kvCacheDType: try c.decode(KVCacheDType.self, forKey: .kvCacheDType),
                  fuseQKV: try c.decodeIfPresent(Bool.self, forKey: .fuseQKV) ?? false)
    }

    /// Whether the plugin named `name` may replace ops.
    public func isPluginEnabled(_ name: String) -> Bool { plugins[name] ?? pluginDefault }
}
