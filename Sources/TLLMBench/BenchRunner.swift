// Drives a benchmark: arrivals (all at once, or Poisson with burstiness), a concurrency limit,
// a warm-up, a progress bar on stderr, and the timings of every request.
import Foundation

/// How requests are offered to the target.
public struct LoadConfig: Sendable, Codable, Equatable {
    /// Most requests in flight at once.
    public var concurrency: Int
    /// Mean arrivals per second; infinity sends everything at once (bounded by `concurrency`).
    public var requestRate: Double
    /// Gamma shape of inter-arrival times: 1 is Poisson, below 1 burstier, above 1 more regular.
    public var burstiness: Double
    /// Requests run first and left out of the results.
    public var warmup: Int
    public var seed: UInt64

    public init(concurrency: Int, requestRate: Double = .infinity, burstiness: Double = 1, warmup: Int = 0, seed: UInt64 = 0) {
        self.concurrency = concurrency
        self.requestRate = requestRate
        self.burstiness = burstiness
        self.warmup = warmup
        self.seed = seed
    }

    /// - Throws: ``BenchError`` naming the setting to fix.
    public func validate() throws(BenchError) {
        guard concurrency >= 1 && concurrency <= 4096 else { throw BenchError("--concurrency is \(concurrency); it must be in 1...4096") }
        guard requestRate > 0 else { throw BenchError("--request-rate is \(requestRate); it must be positive (inf for all at once)") }
        guard burstiness > 0 && burstiness.isFinite else { throw BenchError("--burstiness is \(burstiness); it must be a positive number") }
        guard warmup >= 0 else { throw BenchError("--warmup is \(warmup); it must be ≥ 0") }
    }

    /// Offsets (seconds from the start) at which each of `count` requests is sent.
    public func arrivalOffsets(count: Int) -> [Double] {
        guard requestRate.isFinite else { return Array(repeating: 0, count: count) }
        var rng = BenchRNG(seed: seed ^ 0xA11_1BA1)
        var t = 0.0
        return (0..<count).map { _ in
            defer { t += rng.gamma(shape: burstiness, scale: 1 / (requestRate * burstiness)) }
            return t
        }
    }
}

/// Limits how many requests are in flight.
actor ConcurrencyLimiter {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ limit: Int) { available = limit }

    func acquire() async {
        if available > 0 { available -= 1; return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty { available += 1 } else { waiters.removeFirst().resume() }
    }
}

/// A progress bar on standard error.
final class ProgressBar: @unchecked Sendable {
    private let total: Int
    private let label: String
    private let lock = NSLock()
    private var done = 0
    private let enabled: Bool

    init(total: Int, label: String, enabled: Bool) {
        self.total = total
        self.label = label
        self.enabled = enabled
        draw()
    }

    func advance() {
        lock.lock()
        done += 1
        lock.unlock()
        draw()
    }

    func finish() { if enabled { FileHandle.standardError.write(Data("\n".utf8)) } }

    private func draw() {
        guard enabled else { return }
        lock.lock()
        let d = done
        lock.unlock()
        let width = 30, filled = total == 0 ? width : d * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(d)/\(total)".utf8))
    }
}

/// Runs a dataset against a target.
public enum BenchRunner {
    /// Timings of every measured request, in dataset order, and the wall time of the measured part.
    public static func run(_ target: any BenchTarget, requests: [BenchRequest], load: LoadConfig,
                           progress: Bool = true) async throws(BenchError) -> (timings: [RequestTiming], seconds: Double) {
        try load.validate()
        guard !requests.isEmpty else { throw BenchError("no requests to run") }
        if load.warmup > 0 {
            let warm = (0..<load.warmup).map { requests[$0 % requests.count] }
            _ = await execute(target, warm, offsets: Array(repeating: 0, count: warm.count), concurrency: load.concurrency,
                              progress: ProgressBar(total: warm.count, label: "warm-up", enabled: progress))
        }
        let start = ContinuousClock.now
        let timings = await execute(target, requests, offsets: load.arrivalOffsets(count: requests.count),
                                    concurrency: load.concurrency,
                                    progress: ProgressBar(total: requests.count, label: "c=\(load.concurrency)", enabled: progress))
        let elapsed = ContinuousClock.now - start
        return (timings, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    private static func execute(_ target: any BenchTarget, _ requests: [BenchRequest], offsets: [Double],
                                concurrency: Int, progress: ProgressBar) async -> [RequestTiming] {
        let limiter = ConcurrencyLimiter(concurrency)
        let start = ContinuousClock.now
        var out = [RequestTiming?](repeating: nil, count: requests.count)
        await withTaskGroup(of: (Int, RequestTiming).self) { group in
            for (i, request) in requests.enumerated() {
                let offset = offsets[i]
                group.addTask {
                    let due = start + .nanoseconds(Int64(offset * 1e9))
                    if due > .now { try? await Task.sleep(until: due, clock: .continuous) }
                    await limiter.acquire()
                    let timing = await target.send(request)
                    await limiter.release()
                    progress.advance()
                    return (i, timing)
                }
            }
            for await (i, timing) in group { out[i] = timing }
        }
        progress.finish()
        return out.map { $0! }
    }
}
