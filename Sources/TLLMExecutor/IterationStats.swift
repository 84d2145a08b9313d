// What one executor step did: TensorRT-LLM's per-iteration stats.

/// One request's share of a step.
public struct ScheduledWork: Sendable, Equatable {
    public enum Phase: String, Sendable { case context, generation }
    public var id: RequestID
    public var phase: Phase
    public var tokens: Int
    /// For context work: tokens of the prompt (or recompute) computed before this chunk.
    public var startPosition: Int
    /// For context work: all tokens the request must compute before it can sample.
    public var totalTokens: Int
}

/// Counters of one iteration.
public struct IterationStats: Sendable, Equatable {
    public var iteration: Int
    public var scheduled: [ScheduledWork]
    public var contextTokens: Int
    public var generationTokens: Int
    public var waitingRequests: Int
    public var runningRequests: Int
    public var kvBlocksUsed: Int
    public var kvBlocksFree: Int
    /// Free blocks that still hold reusable prefixes.
    public var kvBlocksCached: Int
    /// Cumulative prefix-cache block hits.
    public var reuseHits: Int
    /// Cumulative full prompt blocks that missed the cache.
    public var reuseMisses: Int
    public var preempted: [RequestID]
    public var stepTime: Duration

    /// Requests in the forward batch.
    public var batchSize: Int { scheduled.count }
}
