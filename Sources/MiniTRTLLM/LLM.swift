// The LLM API: load a checkpoint, build an engine, generate text. Everything a user needs starts here.
import Dispatch
import Synchronization
import TLLMBackend
import TLLMBuilder
import TLLMEngine
import TLLMExecutor
import TLLMModel
import TLLMRuntime

/// One prompt's result.
public struct RequestOutput: Sendable {
    public var prompt: String
    public var promptTokenIDs: [Int32]
    /// Generated text (control tokens skipped; cut before a matched stop string).
    public var text: String
    public var tokenIDs: [Int32]
    /// One entry per generated token when `SamplingParams.logprobs` was set.
    public var logprobs: [SampledToken]
    public var finishReason: FinishReason
    public var stats: RequestStats?
}

/// A piece of a streamed generation.
public struct GenerationDelta: Sendable {
    /// Text completed since the previous delta (never half a UTF-8 character).
    public var text: String
    public var tokenIDs: [Int32]
    public var logprobs: [SampledToken]
    /// Set on the last delta.
    public var finishReason: FinishReason?
    /// Set on the last delta.
    public var stats: RequestStats?

    public init(text: String, tokenIDs: [Int32], logprobs: [SampledToken], finishReason: FinishReason?, stats: RequestStats?) {
        self.text = text
        self.tokenIDs = tokenIDs
        self.logprobs = logprobs
        self.finishReason = finishReason
        self.stats = stats
    }
}

extension IncrementalDetokenizer: IncrementalTextDecoder {}

/// A loaded model ready to generate (TensorRT-LLM's `LLM`).
///
/// Thread-safe: requests from any thread or task are batched together in flight by one executor
/// thread that alone owns the engine, the scheduler and the KV cache.
public final class LLM: Sendable {
    public let tokenizer: Tokenizer
    public let engine: Engine
    private let loop: ExecutorLoop

    /// Loads a GGUF checkpoint (and builds its engine) or a prebuilt engine file, and sizes the KV cache.
    /// - Parameters:
    ///   - model: Path to a `.gguf` checkpoint or an engine file written by `trtllm-build`.
    ///   - buildConfig: Engine limits, plugins and quantization.
    ///   - kvCacheConfig: KV cache size, block size and prefix reuse.
    ///   - schedulerConfig: Capacity and context-chunking policies.
    /// - Throws: ``LLMError`` naming the failing layer and what to fix.
    public convenience init(model path: String, buildConfig: BuildConfig = BuildConfig(),
                            kvCacheConfig: KvCacheConfig = KvCacheConfig(),
                            schedulerConfig: SchedulerConfig = SchedulerConfig()) throws(LLMError) {
        let source = try ModelSource.open(path)   // a GGUF checkpoint, or an engine file (model is then a PrebuiltEngine)
        try self.init(model: source.model, tokenizer: source.tokenizer, buildConfig: source.preparing(buildConfig),
                      kvCacheConfig: kvCacheConfig, schedulerConfig: schedulerConfig)
    }

    /// Builds an engine for an in-memory model with its tokenizer.
    public convenience init(model: any CausalLM, tokenizer: Tokenizer, buildConfig: BuildConfig = BuildConfig(),
                            kvCacheConfig: KvCacheConfig = KvCacheConfig(),
                            schedulerConfig: SchedulerConfig = SchedulerConfig()) throws(LLMError) {
        let engine: Engine
        do { engine = try Builder.build(model, buildConfig) } catch { throw .engine(error) }
        try self.init(engine: engine, tokenizer: tokenizer, kvCacheConfig: kvCacheConfig, schedulerConfig: schedulerConfig)
    }

    /// Serves a built engine.
    public init(engine: Engine, tokenizer: Tokenizer, kvCacheConfig: KvCacheConfig = KvCacheConfig(),
                schedulerConfig: SchedulerConfig = SchedulerConfig()) throws(LLMError) {
        self.tokenizer = tokenizer
        self.engine = engine
        let executor: Executor
        do {
            let modelEngine = try ModelEngine(engine)
            executor = try Executor(engine: modelEngine, kvCacheConfig: kvCacheConfig, schedulerConfig: schedulerConfig)
        } catch let error as EngineError {
            throw .engine(error)
        } catch let error as RuntimeError {
            throw .runtime(error)
        } catch {
            throw .invalidArgument("\(error)")
        }
        loop = ExecutorLoop(executor: executor)
    }

    deinit { loop.shutdown() }

    /// Stats of the executor's last step (batch size, tokens, KV blocks, reuse hits).
    public var lastIteration: IterationStats? { loop.lastIteration }

    /// The KV cache right now: blocks used, free and holding reusable prefixes, and sequences holding blocks.
    public func kvCacheUsage() -> (used: Int, free: Int, cached: Int, sequences: Int) {
        loop.perform { e in (e.kvCache.pool.usedCount, e.kvCache.pool.freeCount, e.kvCache.pool.cachedCount, e.kvCache.sequenceCount) }
    }

    /// Waiting and running requests and KV blocks, read on the executor thread between steps.
    /// The wait happens on a dispatch thread, so async callers never block their executor.
    public func snapshot() async -> ExecutorSnapshot {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { [loop] in
                continuation.resume(returning: loop.perform { e in
                    let pool = e.kvCache.pool
                    return ExecutorSnapshot(waitingRequests: e.waitingCount, runningRequests: e.runningCount,
                                            kvBlocksUsed: pool.usedCount, kvBlocksFree: pool.freeCount,
                                            kvBlocksCached: pool.cachedCount, reuseHits: pool.stats.reuseHits,
                                            reuseMisses: pool.stats.reuseMisses)
                })
            }
        }
    }

    /// Generates a completion for each prompt, all in one in-flight batch, and waits for them.
    /// - Parameters:
    ///   - prompts: Texts; control tokens written in them (e.g. `<|im_start|>`) are parsed.
    ///   - params: Sampling settings; `endID` defaults to the tokenizer's EOS.
    /// - Returns: One output per prompt, in order.
    /// - Throws: ``LLMError`` for an empty prompt, invalid parameters or a prompt that does not fit.
    public func generate(_ prompts: [String], _ params: SamplingParams = SamplingParams()) throws(LLMError) -> [RequestOutput] {
        let ids = prompts.map { tokenizer.encode($0) }
        let responses = try run(promptIDs: ids, params)
        return zip(prompts.indices, responses).map { i, r in
            RequestOutput(prompt: prompts[i], promptTokenIDs: ids[i], text: r.text, tokenIDs: r.newTokens,
                          logprobs: r.logprobs, finishReason: r.finishReason ?? .cancelled, stats: r.stats)
        }
    }

    /// Generates from token ids; one result per prompt, in order.
    public func generate(promptIDs: [[Int32]], _ params: SamplingParams = SamplingParams()) throws(LLMError) -> [GenerationResult] {
        try run(promptIDs: promptIDs, params).map { GenerationResult(outputIDs: $0.newTokens, finishReason: $0.finishReason ?? .cancelled) }
    }

    /// Streams one prompt's generation. Cancelling the consuming task (or dropping the stream)
    /// cancels the request and frees its KV blocks.
    /// - Throws: ``LLMError`` at once for an invalid request; engine failures end the stream with an error.
    public func generateAsync(_ prompt: String, _ params: SamplingParams = SamplingParams()) throws(LLMError)
        -> AsyncThrowingStream<GenerationDelta, Error> {
        try generateAsync(promptIDs: tokenizer.encode(prompt), params)
    }

    /// Streams the generation for a prompt given as token ids.
    public func generateAsync(promptIDs: [Int32], _ params: SamplingParams = SamplingParams()) throws(LLMError)
        -> AsyncThrowingStream<GenerationDelta, Error> {
        let (stream, continuation) = AsyncThrowingStream<GenerationDelta, Error>.makeStream()
        let id: RequestID
        do {
            id = try loop.submit(request(promptIDs, params, streaming: true)) { result in
                switch result {
                case .success(let r):
                    continuation.yield(GenerationDelta(text: r.text, tokenIDs: r.newTokens, logprobs: r.logprobs,
                                                       finishReason: r.finishReason, stats: r.stats))
                    if r.isFinal { continuation.finish() }
                case .failure(let error):
                    continuation.finish(throwing: LLMError.runtime(error))
                }
            }
        } catch {
            throw .runtime(error)
        }
        continuation.onTermination = { [loop] termination in
            if case .cancelled = termination { loop.cancel(id) }
        }
        return stream
    }

    /// Teacher-forced logits: one row per position of `ids`, row j predicting `ids[j + 1]`.
    /// Runs on the executor thread between steps.
    /// - Throws: ``LLMError`` if the ids are empty, out of vocabulary, too long, or the cache is full now.
    public func logits(ids: [Int32]) throws(LLMError) -> Logits {
        let result = loop.perform { executor in Result { () throws(RuntimeError) in try executor.logits(ids: ids) } }
        switch result {
        case .success(let logits): return logits
        case .failure(let error): throw .runtime(error)
        }
    }

    // MARK: Private

    private func request(_ ids: [Int32], _ params: SamplingParams, streaming: Bool) -> Request {
        var params = params
        if params.endID == nil { params.endID = tokenizer.eosID }
        return Request(promptIDs: ids, params: params, streaming: streaming,
                       textDecoder: IncrementalDetokenizer(tokenizer: tokenizer, skipSpecialTokens: true))
    }

    /// Submits every prompt, waits for every final response.
    private func run(promptIDs: [[Int32]], _ params: SamplingParams) throws(LLMError) -> [Response] {
        for (i, ids) in promptIDs.enumerated() where ids.isEmpty { throw .invalidArgument("prompt \(i) is empty") }
        let results = Mutex<[Int: Result<Response, RuntimeError>]>([:])
        let done = DispatchSemaphore(value: 0)
        var submitted: [RequestID] = []
        do {
            for (index, ids) in promptIDs.enumerated() {
                submitted.append(try loop.submit(request(ids, params, streaming: false)) { result in
                    if case .success(let r) = result, !r.isFinal { return }
                    results.withLock { $0[index] = result }
                    done.signal()
                })
            }
        } catch {
            submitted.forEach(loop.cancel)
            for _ in submitted { done.wait() }
            throw .runtime(error)
        }
        for _ in submitted { done.wait() }
        let collected = results.withLock { $0 }
        var out: [Response] = []
        for (index, id) in submitted.enumerated() {
            switch collected[index] {
            case .success(let r)?: out.append(r)
            case .failure(let e)?: throw .runtime(e)
            case nil: throw .runtime(RuntimeError(.engine, "request \(id) ended without a response"))
            }
        }
        return out
    }
}
