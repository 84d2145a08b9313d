// The report of one benchmark run: throughput, latency distributions, goodput, output hash.
import Foundation

/// Latency limits a request must meet to count toward goodput (milliseconds; nil = no limit).
public struct ServiceLevelObjective: Sendable, Codable, Equatable {
    public var ttftMs: Double?
    public var tpotMs: Double?
    public var e2eMs: Double?

    enum CodingKeys: String, CodingKey { case ttftMs = "ttft_ms", tpotMs = "tpot_ms", e2eMs = "e2e_ms" }

    public init(ttftMs: Double? = nil, tpotMs: Double? = nil, e2eMs: Double? = nil) {
        self.ttftMs = ttftMs
        self.tpotMs = tpotMs
        self.e2eMs = e2eMs
    }

    /// Parses `ttft:200,tpot:50,e2e:5000` (milliseconds).
    /// - Throws: ``BenchError`` for an unknown metric or a bad number.
    public init(parsing text: String) throws(BenchError) {
        for part in text.split(separator: ",") {
            let kv = part.split(separator: ":")
            guard kv.count == 2, let value = Double(kv[1]), value > 0 else {
                throw BenchError("--slo item '\(part)' must look like ttft:200 (milliseconds > 0)")
            }
            switch kv[0] {
            case "ttft": ttftMs = value
            case "tpot": tpotMs = value
            case "e2e": e2eMs = value
            default: throw BenchError("--slo metric '\(kv[0])' is unknown; use ttft, tpot or e2e")
            }
        }
    }
}

/// Everything one run measured. Field names are the JSON report's schema.
public struct BenchReport: Sendable, Codable, Equatable {
    public var mode: String
    public var target: String
    public var date: String
    public var numRequests: Int
    public var completed: Int
    public var failed: Int
    public var concurrency: Int
    public var requestRate: String
    public var burstiness: Double
    public var durationS: Double
    public var requestThroughput: Double
    public var outputTokenThroughput: Double
    public var totalTokenThroughput: Double
    public var promptTokens: Int
    public var outputTokens: Int
    public var ttftMs: LatencySummary
    public var tpotMs: LatencySummary
    public var itlMs: LatencySummary
    public var e2eMs: LatencySummary
    public var slo: ServiceLevelObjective?
    public var goodput: Double?
    /// SHA-256 of every generated token id (in-process) or of every generated text (HTTP), in dataset order.
    public var outputHash: String
    public var outputHashOf: String
    public var firstError: String?

    enum CodingKeys: String, CodingKey {
        case mode, target, date, numRequests = "num_requests", completed, failed, concurrency, requestRate = "request_rate",
             burstiness, durationS = "duration_s", requestThroughput = "request_throughput",
             outputTokenThroughput = "output_token_throughput", totalTokenThroughput = "total_token_throughput",
             promptTokens = "prompt_tokens", outputTokens = "output_tokens", ttftMs = "ttft_ms", tpotMs = "tpot_ms",
             itlMs = "itl_ms", e2eMs = "e2e_ms", slo, goodput, outputHash = "output_hash", outputHashOf = "output_hash_of",
             firstError = "first_error"
    }

    /// Builds the report from raw timings.
    public init(mode: String, target: String, timings: [RequestTiming], seconds: Double, load: LoadConfig,
                slo: ServiceLevelObjective? = nil) {
        self.mode = mode
        self.target = target
        date = ISO8601DateFormatter().string(from: Date())
        let ok = timings.filter { $0.error == nil && $0.end != nil }
        numRequests = timings.count
        completed = ok.count
        failed = timings.count - ok.count
        firstError = timings.first { $0.error != nil }?.error
        concurrency = load.concurrency
        requestRate = load.requestRate.isFinite ? String(load.requestRate) : "inf"
        burstiness = load.burstiness
        durationS = seconds
        promptTokens = ok.reduce(0) { $0 + $1.promptTokens }
        outputTokens = ok.reduce(0) { $0 + $1.outputTokens }
        requestThroughput = Double(completed) / max(seconds, 1e-9)
        outputTokenThroughput = Double(outputTokens) / max(seconds, 1e-9)
        totalTokenThroughput = Double(promptTokens + outputTokens) / max(seconds, 1e-9)
        let ttft = ok.compactMap { t in t.chunks.first.map { Self.seconds($0.at - t.start) } }
        let tpot = ok.compactMap { t -> Double? in
            guard let first = t.chunks.first, t.outputTokens > 1 else { return nil }
            return Self.seconds(t.end! - first.at) / Double(t.outputTokens - 1)
        }
        let itl = ok.flatMap { t in zip(t.chunks.dropFirst(), t.chunks).map { Self.seconds($0.at - $1.at) } }
        let e2e = ok.map { Self.seconds($0.end! - $0.start) }
        ttftMs = LatencySummary(seconds: ttft)
        tpotMs = LatencySummary(seconds: tpot)
        itlMs = LatencySummary(seconds: itl)
        e2eMs = LatencySummary(seconds: e2e)
        self.slo = slo
        if let slo {
            let good = ok.filter { t in
                let ttft = t.chunks.first.map { Self.seconds($0.at - t.start) * 1000 } ?? .infinity
                let e2e = Self.seconds(t.end! - t.start) * 1000
                let tpot = t.outputTokens > 1 ? (e2e - ttft) / Double(t.outputTokens - 1) : 0
                return (slo.ttftMs.map { ttft <= $0 } ?? true) && (slo.tpotMs.map { tpot <= $0 } ?? true)
                    && (slo.e2eMs.map { e2e <= $0 } ?? true)
            }
            goodput = Double(good.count) / max(seconds, 1e-9)
        }
        let ids = timings.compactMap(\.outputIDs)
        if ids.count == timings.count {
            var bytes: [UInt8] = []
            for (i, seq) in ids.enumerated() {
                bytes += Array("\(i):".utf8)
                for id in seq { withUnsafeBytes(of: id.littleEndian) { bytes += $0 } }
            }
            outputHash = SHA256.hex(bytes)
            outputHashOf = "token_ids"
        } else {
            outputHash = SHA256.hex(Array(timings.enumerated().map { "\($0.offset):\($0.element.outputText)" }.joined(separator: "\u{1F}").utf8))
            outputHashOf = "text"
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// The human-readable table printed on stdout.
    public var table: String {
        func f(_ x: Double) -> String { String(format: "%.2f", x) }
        var lines = [
            "============ trtllm-bench \(mode) ============",
            "Target:                         \(target)",
            "Requests (ok / failed):         \(completed) / \(failed)",
            "Concurrency / request rate:     \(concurrency) / \(requestRate)",
            "Duration (s):                   \(f(durationS))",
            "Request throughput (req/s):     \(f(requestThroughput))",
            "Output token throughput (tok/s): \(f(outputTokenThroughput))",
            "Total token throughput (tok/s):  \(f(totalTokenThroughput))",
            "Prompt / output tokens:         \(promptTokens) / \(outputTokens)",
        ]
        if let goodput { lines.append("Goodput (req/s):                \(f(goodput))") }
        lines.append("---------------------------------------------------------------------------")
        lines.append("metric (ms)      mean    median       p90       p95       p99       min       max")
        for (name, s) in [("TTFT", ttftMs), ("TPOT", tpotMs), ("ITL", itlMs), ("E2E", e2eMs)] {
            let cols = [s.mean, s.median, s.p90, s.p95, s.p99, s.min, s.max].map { String(format: "%9.2f", $0) }
            lines.append(name.padding(toLength: 10, withPad: " ", startingAt: 0) + cols.joined(separator: " "))
        }
        lines.append("Output hash (\(outputHashOf)): \(outputHash)")
        if let firstError { lines.append("First error: \(firstError)") }
        return lines.joined(separator: "\n")
    }
}
