// /metrics: Prometheus text with vLLM's metric names under a `trtllm_` prefix — request and token
// counters, latency histograms, and gauges read from the executor at scrape time.
import MiniTRTLLM
import Synchronization

/// Counters and histograms the server updates as requests pass; gauges come from the executor.
public final class ServerMetrics: Sendable {
    private struct State {
        var promptTokens = 0
        var generationTokens = 0
        var preemptions = 0
        /// Finished requests by finish reason (stop, length, abort).
        var success: [String: Int] = [:]
        var failures = 0
        /// HTTP responses by (path, status).
        var http: [String: [Int: Int]] = [:]
        var ttft = Histogram("trtllm_time_to_first_token_seconds", help: "Time to first token in seconds.",
                             bounds: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0])
        var tpot = Histogram("trtllm_time_per_output_token_seconds", help: "Time per output token (after the first) in seconds.",
                             bounds: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0])
        var e2e = Histogram("trtllm_e2e_request_latency_seconds", help: "End-to-end request latency in seconds.",
                            bounds: [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0])
        var queue = Histogram("trtllm_request_queue_time_seconds", help: "Time from submission to first scheduling in seconds.",
                              bounds: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0])
    }

    private let state = Mutex(State())
    private let modelName: String

    public init(modelName: String) { self.modelName = modelName }

    func addPromptTokens(_ n: Int) { state.withLock { $0.promptTokens += n } }

    /// Counts a delta's tokens; on the final delta records latencies and the finish reason.
    func observe(_ delta: GenerationDelta) {
        state.withLock { s in
            s.generationTokens += delta.tokenIDs.count
            guard let reason = delta.finishReason else { return }
            s.success[ResponseFormatter.finishReason(reason) == .string("abort") ? "abort" : reason.rawValue, default: 0] += 1
            guard let stats = delta.stats else { return }
            s.preemptions += stats.preemptions
            s.queue.observe(stats.queueTime.seconds)
            s.e2e.observe(stats.endToEnd.seconds)
            if let t = stats.timeToFirstToken { s.ttft.observe(t.seconds) }
            if let t = stats.timePerOutputToken { s.tpot.observe(t.seconds) }
        }
    }

    /// A request ended without the engine's final response (its client went away, or shutdown cancelled it).
    func recordAbort() { state.withLock { $0.success["abort", default: 0] += 1 } }

    func recordFailure() { state.withLock { $0.failures += 1 } }

    func recordHTTP(path: String, status: Int) { state.withLock { $0.http[path, default: [:]][status, default: 0] += 1 } }

    /// The exposition text.
    func render(_ snapshot: ExecutorSnapshot) -> String {
        let s = state.withLock { $0 }
        let label = "model_name=\"\(modelName)\""
        var out = ""
        func gauge(_ name: String, _ help: String, _ value: Double) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name){\(label)} \(value)\n"
        }
        func counter(_ name: String, _ help: String, _ value: Int) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name){\(label)} \(value)\n"
        }
        gauge("trtllm_num_requests_running", "Requests holding KV-cache blocks (prefill or decode).", Double(snapshot.runningRequests))
        gauge("trtllm_num_requests_waiting", "Requests waiting to be scheduled.", Double(snapshot.waitingRequests))
        gauge("trtllm_kv_cache_blocks_used", "KV-cache blocks held by requests.", Double(snapshot.kvBlocksUsed))
        gauge("trtllm_kv_cache_blocks_free", "Free KV-cache blocks (including those holding reusable prefixes).", Double(snapshot.kvBlocksFree))
        gauge("trtllm_kv_cache_blocks_total", "KV-cache blocks in the pool.", Double(snapshot.kvBlocksTotal))
        gauge("trtllm_kv_cache_blocks_cached", "Free KV-cache blocks that hold reusable prefixes.", Double(snapshot.kvBlocksCached))
        gauge("trtllm_kv_cache_usage_perc", "Fraction of KV-cache blocks in use (0 to 1).",
              snapshot.kvBlocksTotal > 0 ? Double(snapshot.kvBlocksUsed) / Double(snapshot.kvBlocksTotal) : 0)
        let queries = snapshot.reuseHits + snapshot.reuseMisses
        gauge("trtllm_prefix_cache_hit_rate", "Prefix-cache block hits / (hits + misses) since start.",
              queries > 0 ? Double(snapshot.reuseHits) / Double(queries) : 0)
        counter("trtllm_prefix_cache_queries_total", "Full prompt blocks looked up in the prefix cache.", queries)
        counter("trtllm_prefix_cache_hits_total", "Full prompt blocks found in the prefix cache.", snapshot.reuseHits)
        counter("trtllm_prompt_tokens_total", "Prompt tokens submitted.", s.promptTokens)
        counter("trtllm_generation_tokens_total", "Tokens generated.", s.generationTokens)
        counter("trtllm_num_preemptions_total", "Times a request was preempted and recomputed.", s.preemptions)
        out += "# HELP trtllm_request_success_total Requests finished, by finish reason.\n# TYPE trtllm_request_success_total counter\n"
        for reason in ["stop", "length", "abort"] {
            out += "trtllm_request_success_total{\(label),finished_reason=\"\(reason)\"} \(s.success[reason] ?? 0)\n"
        }
        counter("trtllm_request_failure_total", "Requests the engine failed.", s.failures)
        out += "# HELP trtllm_http_requests_total HTTP responses, by path and status.\n# TYPE trtllm_http_requests_total counter\n"
        for path in s.http.keys.sorted() {
            for status in s.http[path]!.keys.sorted() {
                out += "trtllm_http_requests_total{\(label),path=\"\(path)\",status=\"\(status)\"} \(s.http[path]![status]!)\n"
            }
        }
        for h in [s.ttft, s.tpot, s.e2e, s.queue] { out += h.render(labels: label) }
        return out
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
