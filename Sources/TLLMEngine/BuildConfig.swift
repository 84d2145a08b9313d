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

    public init(maxBatchSize: Int = 64, maxSeqLen: Int? = nil, maxNumTokens: Int = 2048, maxInputLen: Int? = nil,
                plugins: [String: Bool] = [:], pluginDefault: Bool = true, quantization: QuantConfig = QuantConfig(),
                kvCacheDType: KVCacheDType = .float32) {
        self.maxBatchSize = maxBatchSize
        self.maxSeqLen = maxSeqLen
        self.maxNumTokens = maxNumTokens
        self.maxInputLen = maxInputLen
        self.plugins = plugins
        self.pluginDefault = pluginDefault
        self.quantization = quantization
        self.kvCacheDType = kvCacheDType
    }

    /// Whether the plugin named `name` may replace ops.
    public func isPluginEnabled(_ name: String) -> Bool { plugins[name] ?? pluginDefault }
}
