// Graceful shutdown: on SIGINT/SIGTERM new generations are refused, running ones get a grace period
// to finish, and whatever is still running after it is cancelled (its clients see finish_reason "abort").
import Synchronization

/// Tracks the generations in flight so shutdown can drain or cancel them.
final class ShutdownCoordinator: Sendable {
    private struct State {
        var draining = false
        var nextID = 0
        var jobs: [Int: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())
    /// How long in-flight generations may run on after shutdown begins.
    let gracePeriod: Duration

    init(gracePeriod: Duration) { self.gracePeriod = gracePeriod }

    /// Whether shutdown has begun (new generations are refused with 503).
    var isDraining: Bool { state.withLock { $0.draining } }

    /// Registers a running generation's cancel action; nil if shutdown has begun.
    func register(cancel: @escaping @Sendable () -> Void) -> Int? {
        state.withLock { s in
            guard !s.draining else { return nil }
            s.nextID += 1
            s.jobs[s.nextID] = cancel
            return s.nextID
        }
    }

    func unregister(_ id: Int) { _ = state.withLock { $0.jobs.removeValue(forKey: id) } }

    /// Starts draining (once): after the grace period, cancels every generation still running.
    func beginShutdown() {
        let first = state.withLock { s in
            defer { s.draining = true }
            return !s.draining
        }
        guard first else { return }
        let grace = gracePeriod
        Task { [self] in
            try? await Task.sleep(for: grace)
            cancelAll()
        }
    }

    /// Cancels every registered generation now.
    func cancelAll() {
        let cancels = state.withLock { s in Array(s.jobs.values) }
        for cancel in cancels { cancel() }
    }
}
