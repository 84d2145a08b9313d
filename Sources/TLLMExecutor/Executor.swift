// The executor: many requests at once. Each step mixes decode tokens of running requests with
// prompt chunks of new ones in one packed forward pass (in-flight batching), over a paged KV
// cache with prefix reuse.
import TLLMEngine
import TLLMRuntime

/// Owns the engine, the KV cache and the request queues; one caller (one thread) drives `step()`.
///
/// Phases of a step: fetch new requests → schedule → prepare resources → forward → sample →
/// update requests → emit responses → free resources.
public final class Executor {
    public let engine: ModelEngine
    public private(set) var kvCache: KVCacheManager
    public let schedulerConfig: SchedulerConfig
    public let validator: RequestValidator
    /// Stats of the last step that ran.
    public private(set) var lastIteration: IterationStats?

    private let capacity: CapacityScheduler
    private let microBatch: MicroBatchScheduler
    private var nextID: RequestID = 0
    private var incoming: [(RequestID, Request, ContinuousClock.Instant)] = []
    private var waiting: [RequestID] = []
    private var running: [RequestID] = []
    private var requests: [RequestID: LlmRequest] = [:]
    private var unsent: [Response] = []
    private var iteration = 0
    /// The forward phase's logits, overwritten in place every step.
    private var stepLogits = Logits()

    /// - Throws: ``RuntimeError`` if the cache configuration is invalid.
    public init(engine: ModelEngine, kvCacheConfig: KvCacheConfig = KvCacheConfig(),
                schedulerConfig: SchedulerConfig = SchedulerConfig()) throws(RuntimeError) {
        self.engine = engine
        let e = engine.engine
        kvCache = try KVCacheManager(config: kvCacheConfig, numLayers: e.config.numHiddenLayers, kvDim: e.config.kvDim,
                                     dtype: e.buildConfig.kvCacheDType)
        self.schedulerConfig = schedulerConfig
        validator = RequestValidator(vocabSize: e.config.vocabSize, maxSeqLen: e.maxSeqLen,
                                     maxInputLen: e.buildConfig.maxInputLen, cacheTokens: kvCache.capacityTokens)
        capacity = CapacityScheduler(policy: schedulerConfig.capacityPolicy, maxBatchSize: e.buildConfig.maxBatchSize)
        microBatch = MicroBatchScheduler(maxBatchSize: e.buildConfig.maxBatchSize, maxNumTokens: e.buildConfig.maxNumTokens,
                                         tokensPerBlock: kvCache.tokensPerBlock, policy: schedulerConfig.chunkingPolicy)
    }

    /// Whether any request is queued, running, or has a response not yet returned.
    public var hasWork: Bool { !incoming.isEmpty || !waiting.isEmpty || !running.isEmpty || !unsent.isEmpty }
    public var waitingCount: Int { incoming.count + waiting.count }
    public var runningCount: Int { running.count }

    /// Validates and queues a request.
    /// - Throws: ``RuntimeError`` if it could never run; the message names the numbers.
    @discardableResult
    public func enqueue(_ request: Request) throws(RuntimeError) -> RequestID {
        let id = nextID
        try enqueue(request, id: id)
        return id
    }

    /// Queues a request under an id chosen by the caller (the ``ExecutorLoop``).
    /// - Precondition: `id` is unused and at least every id handed out so far.
    public func enqueue(_ request: Request, id: RequestID) throws(RuntimeError) {
        precondition(id >= nextID && requests[id] == nil, "request id \(id) reused")
        try validator.validate(request)
        nextID = id + 1
        incoming.append((id, request, .now))
    }

    /// Cancels a queued or running request: its blocks are freed and its final response
    /// (finish reason `cancelled`) comes out of the next `step()`. Unknown or finished ids are ignored.
    public func cancel(_ id: RequestID) {
        fetchNewRequests()
        guard requests[id] != nil, !requests[id]!.sequence.isFinished else { return }
        requests[id]!.sequence.finish(.cancelled)
        freeFinished()
    }

    /// Runs one iteration and returns the responses it produced.
    /// - Throws: ``RuntimeError`` if the engine fails; the executor is then unusable.
    public func step() throws(RuntimeError) -> [Response] {
        let started = ContinuousClock.now
        var responses = unsent
        unsent = []
        // 1. Fetch new requests.
        fetchNewRequests()
        // 2. Schedule: who holds blocks, then which tokens run.
        let preempted = scheduleCapacity()
        let work = scheduleMicroBatch()
        guard !work.isEmpty else { return responses }
        let scheduled = work.map { w in
            let s = requests[w.id]!.sequence
            let generation = s.numComputed >= s.promptLength && s.pending == 1
            return ScheduledWork(id: w.id, phase: generation ? .generation : .context, tokens: w.tokens,
                                 startPosition: s.numComputed, totalTokens: s.tokens.count)
        }
        // 3. Prepare resources: the packed batch over each request's block table.
        let batch = ForwardBatch(sequences: work.map { w in
            let s = requests[w.id]!.sequence
            return ForwardBatch.Sequence(tokens: Array(s.tokens[s.numComputed ..< s.numComputed + w.tokens]),
                                         startPosition: s.numComputed, blockTable: kvCache.blockTable(w.id),
                                         logits: w.tokens == s.pending ? .last : .none)
        })
        // 4. Forward.
        do { try engine.forward(batch, cache: kvCache.cache, into: &stepLogits) } catch { throw RuntimeError(error) }
        // 5–6. Sample and update requests.
        var row = 0
        for w in work {
            requests[w.id]!.sequence.numComputed += w.tokens
            let s = requests[w.id]!.sequence
            kvCache.commit(w.id, tokens: s.tokens[...], computed: s.numComputed)
            guard s.pending == 0 else { continue }          // a prompt chunk: nothing to sample yet
            requests[w.id]!.accept(logits: stepLogits.row(row), now: .now)
            row += 1
        }
        // 7. Emit responses.
        for w in work { if let r = requests[w.id]!.takeResponse() { responses.append(r) } }
        // 8. Free resources.
        freeFinished()
        responses += unsent
        unsent = []
        iteration += 1
        lastIteration = stats(scheduled, preempted: preempted, time: ContinuousClock.now - started)
        return responses
    }

    /// Teacher-forced logits for `ids` (row j predicts `ids[j + 1]`), computed between steps with
    /// blocks borrowed from the pool and returned at once.
    /// - Throws: ``RuntimeError`` if the ids are invalid or the pool has too few free blocks now.
    public func logits(ids: [Int32]) throws(RuntimeError) -> Logits {
        try validator.validateScoring(ids)
        return try TeacherForcing.logits(ids, engine: engine, kvCache: &kvCache, sequence: -1)
    }

    // MARK: Phases

    private func fetchNewRequests() {
        for (id, request, arrival) in incoming {
            requests[id] = LlmRequest(id: id, request: request, maxSeqLen: engine.engine.maxSeqLen, arrival: arrival)
            waiting.append(id)
        }
        incoming.removeAll()
    }

    /// Applies the capacity scheduler's decision; returns the preempted ids.
    private func scheduleCapacity() -> [RequestID] {
        func view(_ id: RequestID) -> SchedulerRequest {
            let s = requests[id]!.sequence
            return SchedulerRequest(id: id, tokens: s.tokens, numComputed: s.numComputed, maxLength: s.maxLength)
        }
        let decision = capacity.schedule(running: running.map(view), waiting: waiting.map(view), kvCache: &kvCache)
        for id in decision.preempted {
            requests[id]!.preempt()
            running.removeAll { $0 == id }
        }
        waiting.insert(contentsOf: decision.preempted.reversed(), at: 0)   // oldest preempted resumes first
        let now = ContinuousClock.now
        for (id, reused) in decision.admitted {
            requests[id]!.admit(reusedTokens: reused, now: now)
            waiting.removeAll { $0 == id }
            running.append(id)
        }
        return decision.preempted
    }

    private func scheduleMicroBatch() -> [(id: RequestID, tokens: Int)] {
        microBatch.schedule(running.map { id in
            let s = requests[id]!.sequence
            return MicroBatchCandidate(id: id, pending: s.pending, isGeneration: s.numComputed >= s.promptLength && s.pending == 1)
        })
    }

    private func freeFinished() {
        for id in incoming.map(\.0) + waiting + running where requests[id]?.sequence.isFinished == true {
            kvCache.free(id)
            if let r = requests[id]!.takeFinalResponse(now: .now) { unsent.append(r) }
            requests[id] = nil
        }
        running.removeAll { requests[$0] == nil }
        waiting.removeAll { requests[$0] == nil }
    }

    private func stats(_ scheduled: [ScheduledWork], preempted: [RequestID], time: Duration) -> IterationStats {
        let pool = kvCache.pool
        return IterationStats(iteration: iteration, scheduled: scheduled,
                              contextTokens: scheduled.filter { $0.phase == .context }.reduce(0) { $0 + $1.tokens },
                              generationTokens: scheduled.filter { $0.phase == .generation }.count,
                              waitingRequests: waitingCount, runningRequests: running.count,
                              kvBlocksUsed: pool.usedCount, kvBlocksFree: pool.freeCount, kvBlocksCached: pool.cachedCount,
                              reuseHits: pool.stats.reuseHits, reuseMisses: pool.stats.reuseMisses,
                              preempted: preempted, stepTime: time)
    }
}
