// Capacity scheduling: which requests hold KV-cache blocks this step, who is admitted, who is
// preempted. Talks to the cache manager only through allocate / reserve / free.
import TLLMRuntime

/// What the capacity scheduler needs to know about a request.
public struct SchedulerRequest: Sendable, Equatable {
    public var id: RequestID
    /// Prompt + generated tokens (the last one may still be uncomputed).
    public var tokens: [Int32]
    public var numComputed: Int
    /// Positions the request can ever occupy (prompt + max_tokens, capped by max_seq_len).
    public var maxLength: Int

    public init(id: RequestID, tokens: [Int32], numComputed: Int, maxLength: Int) {
        self.id = id
        self.tokens = tokens
        self.numComputed = numComputed
        self.maxLength = maxLength
    }
}

/// The capacity scheduler's decision for one step.
public struct CapacityDecision: Sendable, Equatable {
    /// Waiting requests that now hold blocks, in admission order, with the prompt tokens reused from the cache.
    public var admitted: [(id: RequestID, reusedTokens: Int)]
    /// Running requests whose blocks were freed; they go back to the front of the waiting queue.
    public var preempted: [RequestID]

    public static func == (a: CapacityDecision, b: CapacityDecision) -> Bool {
        a.admitted.map(\.id) == b.admitted.map(\.id) && a.admitted.map(\.reusedTokens) == b.admitted.map(\.reusedTokens)
            && a.preempted == b.preempted
    }
}

/// TensorRT-LLM's `CapacityScheduler`: decides who holds blocks, under a ``CapacitySchedulerPolicy``.
public struct CapacityScheduler: Sendable {
    public let policy: CapacitySchedulerPolicy
    public let maxBatchSize: Int

    public init(policy: CapacitySchedulerPolicy, maxBatchSize: Int) {
        self.policy = policy
        self.maxBatchSize = maxBatchSize
    }

    /// Grows or preempts running requests, then admits waiting ones first-come-first-served
    /// (never skipping the head of the queue, so no request starves).
    /// - Parameters:
    ///   - running: requests holding blocks, oldest first.
    ///   - waiting: requests without blocks, in queue order.
    public func schedule(running: [SchedulerRequest], waiting: [SchedulerRequest],
                         kvCache: inout KVCacheManager) -> CapacityDecision {
        var decision = CapacityDecision(admitted: [], preempted: [])
        var active = running
        switch policy {
        case .guaranteedNoEvict, .staticBatch:
            break   // every running request reserved its whole length at admission
        case .maxUtilization:
            // Each running request needs blocks for all its tokens; the newest yields first.
            var index = 0
            while index < active.count {
                let r = active[index]
                if kvCache.reserve(r.id, tokens: r.tokens.count) { index += 1; continue }
                let victim = active.removeLast()
                kvCache.free(victim.id)
                decision.preempted.append(victim.id)
            }
            if !decision.preempted.isEmpty { return decision }   // let the survivors run before admitting more
        }
        if policy == .staticBatch && !active.isEmpty { return decision }
        for r in waiting {
            guard active.count + decision.admitted.count < maxBatchSize else { break }
            let reserve = policy == .maxUtilization ? r.tokens.count : r.maxLength
            guard let reused = kvCache.allocate(r.id, tokens: r.tokens, reserve: reserve) else { break }
            decision.admitted.append((r.id, reused))
        }
        return decision
    }
}
