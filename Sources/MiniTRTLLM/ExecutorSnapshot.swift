// A consistent reading of the executor between two steps, for monitoring (the server's /metrics).

/// Queue lengths and KV-cache blocks at one moment between executor steps.
public struct ExecutorSnapshot: Sendable, Equatable {
    /// Requests submitted but not yet holding KV blocks.
    public var waitingRequests: Int
    /// Requests holding KV blocks (in prefill or decode).
    public var runningRequests: Int
    public var kvBlocksUsed: Int
    /// Free blocks, including those that still hold reusable prefixes.
    public var kvBlocksFree: Int
    /// Free blocks that hold reusable prefixes.
    public var kvBlocksCached: Int
    /// Cumulative prefix-cache block hits.
    public var reuseHits: Int
    /// Cumulative full prompt blocks that missed the prefix cache.
    public var reuseMisses: Int

    /// Blocks in the pool.
    public var kvBlocksTotal: Int { kvBlocksUsed + kvBlocksFree }
}
