// The executor: many requests at once. Each step mixes decode tokens of running requests with
// prompt chunks of new ones in one packed forward pass (in-flight batching).
import TLLMEngine
import TLLMRuntime

/// Owns the engine, the KV cache and the request queues; one caller drives `step()`.
///
/// Phases of a step: fetch new requests → schedule → prepare resources → forward → sample →
/// update requests → emit responses → free resources.
public final class Executor {
    public let engine: ModelEngine
    public private(set) var kvCache: KVCacheManager
    private var nextID: RequestID = 0
    private var incoming: [(RequestID, Request)] = []
    private var waiting: [RequestID] = []
    private var running: [RequestID] = []
    private var states: [RequestID: SequenceState] = [:]

    public init(engine: ModelEngine, kvCacheConfig: KvCacheConfig = KvCacheConfig()) throws(RuntimeError) {
        self.engine = engine
        let c = engine.engine.config
        kvCache = try KVCacheManager(config: kvCacheConfig, numLayers: c.numHiddenLayers, kvDim: c.kvDim)
    }

    /// Whether any request is queued or running.
    public var hasWork: Bool { !incoming.isEmpty || !waiting.isEmpty || !running.isEmpty }

    /// Validates and queues a request.
    /// - Throws: ``RuntimeError`` if it could never run: bad parameters, or a prompt plus
    ///   `maxTokens` that exceeds max_seq_len or the whole KV cache.
    public func enqueue(_ request: Request) throws(RuntimeError) -> RequestID {
        try request.params.validate()
        let maxSeqLen = engine.engine.maxSeqLen
        let prompt = request.promptIDs.count
        guard prompt > 0 else { throw RuntimeError(.invalidRequest, "the prompt has no tokens") }
        guard prompt < maxSeqLen else {
            throw RuntimeError(.invalidRequest, "the prompt has \(prompt) tokens; max_seq_len is \(maxSeqLen), so it must be shorter")
        }
        let vocab = engine.engine.config.vocabSize
        if let bad = request.promptIDs.first(where: { $0 < 0 || Int($0) >= vocab }) {
            throw RuntimeError(.invalidRequest, "prompt token id \(bad) is outside the vocabulary 0..<\(vocab)")
        }
        let worst = min(prompt + request.params.maxTokens, maxSeqLen)
        let capacity = kvCache.pool.numBlocks * kvCache.tokensPerBlock
        guard kvCache.blocksNeeded(worst) <= kvCache.pool.numBlocks else {
            throw RuntimeError(.invalidRequest, "prompt (\(prompt)) + max_tokens (\(request.params.maxTokens)) needs \(worst) cache tokens; the KV cache holds \(capacity)")
        }
        let id = nextID
        nextID += 1
        incoming.append((id, request))
        return id
    }

    /// Runs one iteration and returns what each scheduled request produced.
    public func step() throws(RuntimeError) -> [Response] {
        fetchNewRequests()
        let scheduled = schedule()
        if scheduled.isEmpty { return [] }
        let batch = ForwardBatch(sequences: scheduled.map { id, count in
            let s = states[id]!
            return ForwardBatch.Sequence(tokens: Array(s.tokens[s.numComputed ..< s.numComputed + count]),
                                         startPosition: s.numComputed, blockTable: kvCache.blockTable(id),
                                         logits: count == s.pending ? .last : .none)
        })
        let logits: Logits
        do { logits = try engine.forward(batch, cache: kvCache.cache) } catch { throw RuntimeError(error) }
        var responses: [Response] = []
        var row = 0
        for (id, count) in scheduled {
            states[id]!.numComputed += count
            guard states[id]!.pending == 0 else { continue }        // a prompt chunk: nothing to sample yet
            let token = states[id]!.accept(logits: logits.row(row))
            row += 1
            responses.append(Response(requestID: id, newTokens: [token], finishReason: states[id]!.finishReason))
        }
        freeFinished()
        return responses
    }

    /// Cancels a queued or running request and frees its blocks.
    public func cancel(_ id: RequestID) {
        incoming.removeAll { $0.0 == id }
        if states[id] != nil { states[id]!.cancel() }
        freeFinished()
    }

    // MARK: Phases

    private func fetchNewRequests() {
        for (id, request) in incoming {
            states[id] = SequenceState(prompt: request.promptIDs, params: request.params, maxSeqLen: engine.engine.maxSeqLen)
            waiting.append(id)
        }
        incoming.removeAll()
    }

    /// Generation first, then prompt chunks FCFS under the token and batch budgets. A waiting
    /// request is admitted only if blocks for its whole prompt and output can be reserved, so a
    /// running request never has to be evicted.
    private func schedule() -> [(RequestID, Int)] {
        let limits = engine.engine.buildConfig
        var budget = limits.maxNumTokens
        var scheduled: [(RequestID, Int)] = []
        for id in running where scheduled.count < limits.maxBatchSize && budget > 0 {
            let count = min(states[id]!.pending, budget)
            scheduled.append((id, count))
            budget -= count
        }
        while let id = waiting.first, scheduled.count < limits.maxBatchSize, budget > 0 {
            let s = states[id]!
            let worst = min(s.promptLength + s.params.maxTokens, engine.engine.maxSeqLen)
            guard kvCache.reserve(id, tokens: worst) else { break }   // wait for running requests to free blocks
            waiting.removeFirst()
            running.append(id)
            let count = min(s.pending, budget)
            scheduled.append((id, count))
            budget -= count
        }
        return scheduled
    }

    private func freeFinished() {
        for id in running + waiting where states[id]!.isFinished {
            kvCache.free(id)
            states[id] = nil
        }
        running.removeAll { states[$0] == nil }
        waiting.removeAll { states[$0] == nil }
    }
}
