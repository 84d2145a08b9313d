// The executor's owner: one dedicated thread that alone touches the Executor (scheduler, KV
// cache, engine). Other threads submit and cancel through a locked inbox and get responses
// through callbacks or async streams.
import Dispatch
import Synchronization
import TLLMEngine
import TLLMRuntime
#if canImport(Glibc)
import Glibc
#endif

/// Runs an ``Executor`` on its own thread (TensorRT-LLM's executor worker thread).
///
/// Thread-safe. The executor it was given must not be used by anyone else afterwards.
public final class ExecutorLoop: @unchecked Sendable {
    /// What a submitter hears about its request.
    public typealias Sink = @Sendable (Result<Response, RuntimeError>) -> Void

    private struct Inbox {
        var nextID: RequestID = 0
        var submissions: [(RequestID, Request, Sink)] = []
        var cancellations: [RequestID] = []
        var jobs: [@Sendable (Executor) -> Void] = []
        var shuttingDown = false
    }

    private let inbox = Mutex(Inbox())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let latest = Mutex<IterationStats?>(nil)
    private let observer: (@Sendable (IterationStats) -> Void)?
    /// Touched only by the loop thread.
    private let executor: Executor
    private var sinks: [RequestID: Sink] = [:]
    /// The limits submissions are checked against on the caller's thread.
    public let validator: RequestValidator

    /// Starts the loop thread.
    /// - Parameter onIteration: called on the loop thread after every step (keep it short).
    public init(executor: Executor, onIteration: (@Sendable (IterationStats) -> Void)? = nil) {
        self.executor = executor
        self.validator = executor.validator
        self.observer = onIteration
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let loop = Unmanaged<ExecutorLoop>.fromOpaque(raw!).takeRetainedValue()
            loop.run()
            return nil
        }, box.toOpaque())
        precondition(rc == 0, "could not start the executor thread (pthread_create returned \(rc))")
        pthread_detach(thread)
    }

    /// Stats of the last step that ran.
    public var lastIteration: IterationStats? { latest.withLock { $0 } }

    /// Queues `request`; `sink` hears each response and then the final one (or an error).
    /// - Throws: ``RuntimeError`` at once if the request could never run.
    @discardableResult
    public func submit(_ request: Request, sink: @escaping Sink) throws(RuntimeError) -> RequestID {
        try validator.validate(request)
        let id = try inbox.withLock { inbox throws(RuntimeError) -> RequestID in
            guard !inbox.shuttingDown else { throw RuntimeError(.invalidRequest, "the executor is shutting down") }
            let id = inbox.nextID
            inbox.nextID += 1
            inbox.submissions.append((id, request, sink))
            return id
        }
        wake.signal()
        return id
    }

    /// Queues `request` and returns its responses as a stream. Ending the stream early (the
    /// consuming task is cancelled, or the stream is dropped) cancels the request and frees its blocks.
    /// - Throws: ``RuntimeError`` at once if the request could never run.
    public func submit(_ request: Request) throws(RuntimeError) -> (id: RequestID, responses: AsyncThrowingStream<Response, Error>) {
        let (stream, continuation) = AsyncThrowingStream<Response, Error>.makeStream()
        let id = try submit(request) { result in
            switch result {
            case .success(let response):
                continuation.yield(response)
                if response.isFinal { continuation.finish() }
            case .failure(let error):
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination { self?.cancel(id) }
        }
        return (id, stream)
    }

    /// Cancels a request; its final response says `cancelled`. Unknown or finished ids are ignored.
    public func cancel(_ id: RequestID) {
        inbox.withLock { $0.cancellations.append(id) }
        wake.signal()
    }

    /// Runs `work` on the loop thread between steps and returns its result.
    public func perform<T: Sendable>(_ work: @escaping @Sendable (Executor) -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<T?>(nil)
        inbox.withLock { inbox in
            inbox.jobs.append { executor in
                let value = work(executor)
                result.withLock { $0 = value }
                done.signal()
            }
        }
        wake.signal()
        done.wait()
        return result.withLock { $0! }
    }

    /// Cancels every request, waits for the thread to end. Later submissions are refused.
    public func shutdown() {
        let already = inbox.withLock { inbox in
            defer { inbox.shuttingDown = true }
            return inbox.shuttingDown
        }
        guard !already else { return }
        wake.signal()
        finished.wait()
    }

    // MARK: The loop (loop thread only)

    private func run() {
        while true {
            let taken = inbox.withLock { inbox in
                defer { inbox.submissions = []; inbox.cancellations = []; inbox.jobs = [] }
                return (inbox.submissions, inbox.cancellations, inbox.jobs, inbox.shuttingDown)
            }
            for (id, request, sink) in taken.0 {
                do {
                    try executor.enqueue(request, id: id)
                    sinks[id] = sink
                } catch {
                    sink(.failure(error))
                }
            }
            for id in taken.1 { executor.cancel(id) }
            for job in taken.2 { job(executor) }
            if taken.3 {
                for id in sinks.keys { executor.cancel(id) }
                drain()
                finished.signal()
                return
            }
            if executor.hasWork {
                do {
                    deliver(try executor.step())
                    if let stats = executor.lastIteration {
                        latest.withLock { $0 = stats }
                        observer?(stats)
                    }
                } catch {
                    failAll(error)
                }
            } else {
                wake.wait()
            }
        }
    }

    private func drain() {
        while executor.hasWork {
            do { deliver(try executor.step()) } catch { failAll(error); return }
        }
    }

    private func deliver(_ responses: [Response]) {
        for response in responses {
            guard let sink = sinks[response.requestID] else { continue }
            sink(.success(response))
            if response.isFinal { sinks[response.requestID] = nil }
        }
    }

    private func failAll(_ error: RuntimeError) {
        for (id, sink) in sinks {
            sink(.failure(error))
            executor.cancel(id)
        }
        sinks = [:]
        _ = try? executor.step()
    }
}
