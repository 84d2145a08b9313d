// Scheduling policies, named as TensorRT-LLM names them.

/// Which requests may hold KV-cache blocks (TensorRT-LLM's `CapacitySchedulerPolicy`).
public enum CapacitySchedulerPolicy: String, Sendable, Codable, CaseIterable {
    /// Admit a request only when blocks for its whole prompt and output can be reserved: nothing
    /// is ever evicted.
    case guaranteedNoEvict = "GUARANTEED_NO_EVICT"
    /// Admit greedily with blocks for the tokens known now; when blocks run out, preempt the
    /// newest running request (its KV is recomputed when it resumes).
    case maxUtilization = "MAX_UTILIZATION"
    /// Run a batch to completion before admitting the next one.
    case staticBatch = "STATIC_BATCH"
}

/// How the token budget of a step is shared among prompts (TensorRT-LLM's `ContextChunkingPolicy`).
public enum ContextChunkingPolicy: String, Sendable, Codable, CaseIterable {
    /// The oldest prompt takes as much as it can, then the next.
    case firstComeFirstServed = "FIRST_COME_FIRST_SERVED"
    /// Every prompt advances by one block in turn until the budget is spent.
    case equalProgress = "EQUAL_PROGRESS"
}

/// The executor's scheduling settings.
public struct SchedulerConfig: Sendable, Codable, Equatable {
    public var capacityPolicy: CapacitySchedulerPolicy
    public var chunkingPolicy: ContextChunkingPolicy

    public init(capacityPolicy: CapacitySchedulerPolicy = .guaranteedNoEvict,
                chunkingPolicy: ContextChunkingPolicy = .firstComeFirstServed) {
        self.capacityPolicy = capacityPolicy
        self.chunkingPolicy = chunkingPolicy
    }
}
