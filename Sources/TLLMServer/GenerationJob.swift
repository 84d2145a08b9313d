// The engine side of one HTTP request: its prompts submitted together, their deltas merged into one
// stream, metrics recorded as they pass, and one cancel that ends them all and frees their KV blocks.
import MiniTRTLLM

/// The running generation of one request's prompts.
final class GenerationJob: Sendable {
    /// `(choice index, delta)`; every choice ends with exactly one delta carrying a finish reason
    /// (`cancelled` when the job was cancelled before the engine finished it).
    let events: AsyncThrowingStream<(Int, GenerationDelta), Error>
    private let task: Task<Void, Never>

    private init(events: AsyncThrowingStream<(Int, GenerationDelta), Error>, task: Task<Void, Never>) {
        self.events = events
        self.task = task
    }

    /// Cancels every prompt of the job; their blocks are freed and their streams end.
    func cancel() { task.cancel() }

    /// Admits and submits a request.
    /// - Throws: ``APIError``: 429 when the server is full, 503 when it is shutting down, 400 when the
    ///   engine refuses the request, 500 when it fails.
    static func start(_ request: GenerationRequest, model: ServedModel, admission: AdmissionControl,
                      shutdown: ShutdownCoordinator, metrics: ServerMetrics) throws(APIError) -> GenerationJob {
        let count = request.prompts.count
        guard !shutdown.isDraining else { throw APIError.shuttingDown }
        guard admission.tryAcquire(count) else { throw APIError.queueFull(limit: admission.limit) }
        var streams: [AsyncThrowingStream<GenerationDelta, Error>] = []
        do {
            for ids in request.prompts { streams.append(try model.llm.generateAsync(promptIDs: ids, request.params)) }
        } catch {
            streams = []   // dropping the submitted streams cancels them
            admission.release(count)
            throw Self.apiError(error)
        }
        metrics.addPromptTokens(request.prompts.reduce(0) { $0 + $1.count })
        let (events, continuation) = AsyncThrowingStream<(Int, GenerationDelta), Error>.makeStream()
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, stream) in streams.enumerated() {
                    group.addTask {
                        var finished = false
                        do {
                            for try await delta in stream {
                                metrics.observe(delta)
                                if delta.finishReason != nil { finished = true }
                                continuation.yield((index, delta))
                            }
                        } catch {
                            metrics.recordFailure()
                            continuation.finish(throwing: error)
                            return
                        }
                        if !finished {
                            metrics.recordAbort()
                            continuation.yield((index, GenerationDelta(text: "", tokenIDs: [], logprobs: [], finishReason: .cancelled, stats: nil)))
                        }
                    }
                }
            }
            admission.release(count)
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        let job = GenerationJob(events: events, task: task)
        if let registration = shutdown.register(cancel: { task.cancel() }) {
            Task {
                await task.value
                shutdown.unregister(registration)
            }
        } else {
            task.cancel()
            throw APIError.shuttingDown
        }
        return job
    }

    /// An engine refusal as an HTTP error.
    static func apiError(_ error: LLMError) -> APIError {
        switch error {
        case .runtime(let e):
            switch e.code {
            case .invalidRequest, .invalidSamplingParams, .invalidConfig: return .badRequest(e.message)
            case .cacheFull: return APIError(status: 429, message: e.message, type: "rate_limit_error", code: "kv_cache_full")
            case .engine: return .internalError(e.message)
            }
        case .invalidArgument(let m): return .badRequest(m)
        default: return .internalError(error.description)
        }
    }
}
