// Whole workloads on a small random model: nothing leaks, shared prefixes are computed once.
import Testing
import TLLMBackend
import TLLMBuilder
import TLLMEngine
import TLLMExecutor
import TLLMModel
import TLLMRuntime

/// Spells token id n as one lowercase letter, so stop strings can match generated text.
struct LetterDecoder: IncrementalTextDecoder {
    mutating func append(_ id: Int32) -> String { String(UnicodeScalar(UInt8(97 + Int(id) % 26))) }
    mutating func finish() -> String { "" }
}

@Suite("Executor workloads")
struct WorkloadTests {
    @Test("200 mixed requests with random cancellations and stop strings leak no block", arguments: [CapacitySchedulerPolicy.guaranteedNoEvict, .maxUtilization])
    func mixedWorkloadLeaksNothing(policy: CapacitySchedulerPolicy) throws {
        let engine = try ModelEngine(try Builder.build(try TestModels.gpt(), BuildConfig(maxBatchSize: 24, maxNumTokens: 96)))
        let executor = try Executor(engine: engine, kvCacheConfig: KvCacheConfig(maxTokens: 1024, tokensPerBlock: 8),
                                    schedulerConfig: SchedulerConfig(capacityPolicy: policy))
        var rng = SplitMix64(seed: 2024)
        var live: [RequestID] = []
        var finals: [RequestID: FinishReason] = [:]
        var texts: [RequestID: String] = [:]
        var stopOf: [RequestID: String] = [:]
        var submitted = 0
        var steps = 0
        while submitted < 200 || executor.hasWork {
            for _ in 0..<Int(rng.next() % 4) where submitted < 200 {
                let length = Int(rng.next() % 40) + 1
                let prompt = (0..<length).map { _ in Int32(rng.next() % 500) }
                let stop = rng.next() % 3 == 0 ? [String(UnicodeScalar(UInt8(97 + Int(rng.next() % 26))))] : []
                let params = SamplingParams(maxTokens: Int(rng.next() % 30) + 1, temperature: 1, seed: rng.next(), stop: stop)
                let id = try executor.enqueue(Request(promptIDs: prompt, params: params, streaming: rng.next() % 2 == 0,
                                                      textDecoder: LetterDecoder()))
                stopOf[id] = stop.first
                live.append(id)
                submitted += 1
            }
            if !live.isEmpty && rng.next() % 5 == 0 { executor.cancel(live[Int(rng.next() % UInt64(live.count))]) }
            for r in try executor.step() {
                texts[r.requestID, default: ""] += r.text
                if let f = r.finishReason {
                    #expect(finals[r.requestID] == nil, "request \(r.requestID) finished twice")
                    finals[r.requestID] = f
                    live.removeAll { $0 == r.requestID }
                }
            }
            if let problem = executor.kvCache.checkInvariants() { Issue.record("step \(steps): \(problem)"); return }
            steps += 1
            if steps > 20_000 { Issue.record("workload did not finish"); return }
        }
        #expect(finals.count == 200)
        #expect(finals.values.contains(.cancelled) && finals.values.contains(.stop) && finals.values.contains(.length))
        for (id, stop) in stopOf where finals[id] == .stop { #expect(!texts[id]!.contains(stop), "request \(id) text runs past its stop string") }
        #expect(executor.kvCache.pool.usedCount == 0, "every block is free or cached")
        #expect(executor.kvCache.sequenceCount == 0)
    }

    @Test("16 requests sharing a 256-token prefix compute it once")
    func sharedPrefixIsComputedOnce() throws {
        let engine = try ModelEngine(try Builder.build(try TestModels.llama(), BuildConfig(maxNumTokens: 512)))
        let executor = try Executor(engine: engine, kvCacheConfig: KvCacheConfig(maxTokens: 4096, tokensPerBlock: 32))
        let prefix = (0..<256).map { Int32($0 % 300 + 5) }
        func prompt(_ i: Int) -> [Int32] { prefix + (0..<8).map { Int32((i * 8 + $0) % 300 + 5) } }
        var contextTokens = 0
        func drain() throws {
            while executor.hasWork {
                _ = try executor.step()
                contextTokens += executor.lastIteration?.contextTokens ?? 0
            }
        }
        _ = try executor.enqueue(Request(promptIDs: prompt(0), params: .greedy(maxTokens: 4)))
        try drain()
        #expect(contextTokens == 264)
        contextTokens = 0
        for i in 1..<16 { _ = try executor.enqueue(Request(promptIDs: prompt(i), params: .greedy(maxTokens: 4))) }
        try drain()
        #expect(contextTokens == 15 * 8, "only the 8-token suffixes are computed")
        #expect(executor.kvCache.pool.stats.reuseHits == 15 * 8)
        #expect(executor.lastIteration!.reuseHits == 15 * 8)
    }
}
