// The bound on requests the server holds at once: beyond it, requests get 429 instead of queueing forever.
import Synchronization

/// Counts prompts in flight (running or queued in the executor) against a limit.
final class AdmissionControl: Sendable {
    /// Most prompts in flight at once.
    let limit: Int
    private let inFlight = Mutex(0)

    init(limit: Int) { self.limit = limit }

    /// Takes `count` slots if they are all free.
    func tryAcquire(_ count: Int) -> Bool {
        inFlight.withLock { n in
            guard n + count <= limit else { return false }
            n += count
            return true
        }
    }

    func release(_ count: Int) { inFlight.withLock { $0 -= count } }

    var current: Int { inFlight.withLock { $0 } }
}
