// The served engine's limits that requests are checked against before they reach the executor.

/// Limits of the engine and KV cache behind the server.
struct ModelLimits: Sendable {
    var vocabSize: Int
    /// Longest sequence (prompt + output).
    var maxSeqLen: Int
    /// Longest prompt, if the engine sets one below `maxSeqLen - 1`.
    var maxInputLen: Int?
    /// Tokens the whole KV cache holds.
    var cacheTokens: Int
}
