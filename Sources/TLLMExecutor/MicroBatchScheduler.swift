// Micro-batch scheduling: which tokens of the admitted requests run in this step's forward pass.

/// A request the micro-batch scheduler may give tokens to.
public struct MicroBatchCandidate: Sendable, Equatable {
    public var id: RequestID
    /// Tokens not yet in the cache.
    public var pending: Int
    /// Decoding (one token per step) rather than processing its prompt.
    public var isGeneration: Bool

    public init(id: RequestID, pending: Int, isGeneration: Bool) {
        self.id = id
        self.pending = pending
        self.isGeneration = isGeneration
    }
}

/// TensorRT-LLM's `MicroBatchScheduler`: generation requests first, then prompt chunks under the
/// token budget. A chunk that does not finish its prompt is a multiple of the block size.
public struct MicroBatchScheduler: Sendable {
    public let maxBatchSize: Int
    public let maxNumTokens: Int
    public let tokensPerBlock: Int
    public let policy: ContextChunkingPolicy

    public init(maxBatchSize: Int, maxNumTokens: Int, tokensPerBlock: Int, policy: ContextChunkingPolicy) {
        self.maxBatchSize = maxBatchSize
        self.maxNumTokens = maxNumTokens
        self.tokensPerBlock = tokensPerBlock
        self.policy = policy
    }

    /// Tokens per request for this step, in batch order (generation first, then context in the given order).
    public func schedule(_ candidates: [MicroBatchCandidate]) -> [(id: RequestID, tokens: Int)] {
        var budget = maxNumTokens
        var out: [(id: RequestID, tokens: Int)] = []
        for c in candidates where c.isGeneration && c.pending > 0 {
            guard out.count < maxBatchSize, budget > 0 else { break }
            out.append((c.id, 1))
            budget -= 1
        }
        let context = Array(candidates.filter { !$0.isGeneration && $0.pending > 0 }.prefix(maxBatchSize - out.count))
        switch policy {
        case .firstComeFirstServed:
            for c in context {
                let chunk = chunkSize(pending: c.pending, budget: budget)
                if chunk == 0 { break }
                out.append((c.id, chunk))
                budget -= chunk
            }
        case .equalProgress:
            var given = [Int](repeating: 0, count: context.count)
            var progressed = true
            while progressed && budget > 0 {
                progressed = false
                for (i, c) in context.enumerated() where given[i] < c.pending {
                    let left = c.pending - given[i]
                    let step = left <= budget && left <= tokensPerBlock ? left : (budget >= tokensPerBlock ? tokensPerBlock : 0)
                    if step == 0 { continue }
                    given[i] += step
                    budget -= step
                    progressed = true
                }
            }
            for (i, c) in context.enumerated() where given[i] > 0 { out.append((c.id, given[i])) }
        }
        return out
    }

    /// The whole remainder if it fits, else the largest multiple of the block size that fits.
    private func chunkSize(pending: Int, budget: Int) -> Int {
        if pending <= budget { return pending }
        return budget / tokensPerBlock * tokensPerBlock
    }
}
