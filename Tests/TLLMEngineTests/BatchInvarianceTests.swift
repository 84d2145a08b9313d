// DESIGN invariant 2: a request's tokens and logprobs are bit-identical whoever it runs with,
// however its prompt is chunked, after a prefix-cache hit, and after preemption.
import Testing
import TLLMBackend
import TLLMBuilder
import TLLMEngine
import TLLMExecutor
import TLLMModel
import TLLMRuntime

/// Everything a request produced, compared bit for bit.
struct Outcome: Equatable {
    var tokens: [Int32] = []
    var logprobs: [UInt32] = []          // bit patterns
    var top: [[Int32]] = []
    var finish: FinishReason?
}

enum InvarianceFixture {
    /// Eight prompts of 3 to 150 tokens from a small random Llama's vocabulary.
    static let prompts: [[Int32]] = (0..<8).map { i in
        let length = [3, 150, 40, 97, 12, 64, 33, 120][i]
        return (0..<length).map { Int32((i * 37 + $0 * 11 + ($0 * $0) % 7) % 300 + 10) }
    }

    static func params(seeded: Bool, index: Int) -> SamplingParams {
        seeded ? SamplingParams(maxTokens: 20, temperature: 0.9, topK: 40, topP: 0.9, seed: UInt64(100 + index), logprobs: 2)
               : SamplingParams(maxTokens: 20, temperature: 0, logprobs: 2)
    }

    static func engine(maxNumTokens: Int = 1024, maxBatchSize: Int = 64) throws -> ModelEngine {
        try ModelEngine(try Builder.build(try TestModels.llama(), BuildConfig(maxBatchSize: maxBatchSize, maxNumTokens: maxNumTokens)))
    }

    /// Runs requests to completion; checks the pool's invariants after every step.
    static func run(_ executor: Executor, _ requests: [Request], stepLimit: Int = 5000) throws -> [RequestID: Outcome] {
        var out: [RequestID: Outcome] = [:]
        for r in requests { out[try executor.enqueue(r)] = Outcome() }
        var steps = 0
        while executor.hasWork && steps < stepLimit {
            for r in try executor.step() {
                out[r.requestID, default: Outcome()].tokens += r.newTokens
                out[r.requestID]!.logprobs += r.logprobs.map { $0.logprob!.bitPattern }
                out[r.requestID]!.top += r.logprobs.map { $0.topLogprobs.map(\.id) }
                if let f = r.finishReason { out[r.requestID]!.finish = f }
            }
            if let problem = executor.kvCache.checkInvariants() { Issue.record("after step \(steps): \(problem)"); break }
            steps += 1
        }
        #expect(!executor.hasWork, "executor did not finish in \(stepLimit) steps")
        return out
    }

    /// Each prompt alone on a fresh executor: the reference outcome.
    static func alone(seeded: Bool) throws -> [Outcome] {
        let engine = try engine()
        return try prompts.indices.map { i in
            let executor = try Executor(engine: engine, kvCacheConfig: KvCacheConfig(maxTokens: 1024, tokensPerBlock: 16, enableBlockReuse: false))
            return try run(executor, [Request(promptIDs: prompts[i], params: params(seeded: seeded, index: i))]).values.first!
        }
    }
}

@Suite("Batch invariance of the executor")
struct BatchInvarianceTests {
    @Test("Each request is bit-identical alone and with 16 others in flight", arguments: [false, true])
    func sixteenOthersInFlight(seeded: Bool) throws {
        let reference = try InvarianceFixture.alone(seeded: seeded)
        #expect(reference.allSatisfy { $0.tokens.count == 20 && $0.logprobs.count == 20 })
        let executor = try Executor(engine: try InvarianceFixture.engine(), kvCacheConfig: KvCacheConfig(maxTokens: 4096, tokensPerBlock: 16))
        // The 8 prompts interleaved with 16 unrelated requests of other lengths and settings.
        var requests: [Request] = []
        for i in 0..<8 {
            requests.append(Request(promptIDs: InvarianceFixture.prompts[i], params: InvarianceFixture.params(seeded: seeded, index: i)))
            for j in 0..<2 {
                let other = (0..<(5 + 17 * j + i)).map { Int32(($0 * 13 + i) % 290 + 5) }
                requests.append(Request(promptIDs: other, params: SamplingParams(maxTokens: 7 + i, temperature: 1.2, seed: UInt64(j))))
            }
        }
        let out = try InvarianceFixture.run(executor, requests)
        for i in 0..<8 { #expect(out[i * 3] == reference[i], "prompt \(i)") }
        #expect(executor.kvCache.pool.usedCount == 0)
    }

    @Test("Each request is bit-identical with chunked prefill", arguments: [(32, false), (64, false), (32, true), (64, true)])
    func chunkedPrefill(chunk: Int, seeded: Bool) throws {
        let reference = try InvarianceFixture.alone(seeded: seeded)
        let executor = try Executor(engine: try InvarianceFixture.engine(maxNumTokens: chunk),
                                    kvCacheConfig: KvCacheConfig(maxTokens: 4096, tokensPerBlock: 16),
                                    schedulerConfig: SchedulerConfig(chunkingPolicy: chunk == 32 ? .equalProgress : .firstComeFirstServed))
        let requests = InvarianceFixture.prompts.indices.map {
            Request(promptIDs: InvarianceFixture.prompts[$0], params: InvarianceFixture.params(seeded: seeded, index: $0))
        }
        let out = try InvarianceFixture.run(executor, requests)
        for i in 0..<8 { #expect(out[i] == reference[i], "prompt \(i), chunk \(chunk)") }
    }

    @Test("Each request is bit-identical after a prefix-cache hit", arguments: [false, true])
    func afterPrefixHit(seeded: Bool) throws {
        let reference = try InvarianceFixture.alone(seeded: seeded)
        let executor = try Executor(engine: try InvarianceFixture.engine(), kvCacheConfig: KvCacheConfig(maxTokens: 8192, tokensPerBlock: 16))
        let requests = InvarianceFixture.prompts.indices.map {
            Request(promptIDs: InvarianceFixture.prompts[$0], params: InvarianceFixture.params(seeded: seeded, index: $0))
        }
        _ = try InvarianceFixture.run(executor, requests)            // warms the prefix cache
        let hitsBefore = executor.kvCache.pool.stats.reuseHits
        let again = try InvarianceFixture.run(executor, requests)
        let expectedHits = InvarianceFixture.prompts.reduce(0) { $0 + ($1.count - 1) / 16 }
        #expect(executor.kvCache.pool.stats.reuseHits - hitsBefore == expectedHits)
        for i in 0..<8 { #expect(again[8 + i] == reference[i], "prompt \(i)") }
    }

    @Test("Each request is bit-identical after preemption under MAX_UTILIZATION with a small pool", arguments: [false, true])
    func afterPreemption(seeded: Bool) throws {
        let reference = try InvarianceFixture.alone(seeded: seeded)
        // 14 blocks of 16 tokens: the longest request needs 11, all together need ~40.
        let executor = try Executor(engine: try InvarianceFixture.engine(),
                                    kvCacheConfig: KvCacheConfig(maxTokens: 224, tokensPerBlock: 16, enableBlockReuse: false),
                                    schedulerConfig: SchedulerConfig(capacityPolicy: .maxUtilization))
        let requests = InvarianceFixture.prompts.indices.map {
            Request(promptIDs: InvarianceFixture.prompts[$0], params: InvarianceFixture.params(seeded: seeded, index: $0))
        }
        var preemptions = 0
        var out: [RequestID: Outcome] = [:]
        for r in requests { out[try executor.enqueue(r)] = Outcome() }
        while executor.hasWork {
            for r in try executor.step() {
                out[r.requestID]!.tokens += r.newTokens
                out[r.requestID]!.logprobs += r.logprobs.map { $0.logprob!.bitPattern }
                out[r.requestID]!.top += r.logprobs.map { $0.topLogprobs.map(\.id) }
                if let f = r.finishReason { out[r.requestID]!.finish = f; preemptions += r.stats!.preemptions }
            }
            #expect(executor.kvCache.checkInvariants() == nil)
        }
        #expect(preemptions > 0, "the pool was meant to be too small for all")
        for i in 0..<8 { #expect(out[i] == reference[i], "prompt \(i)") }
        #expect(executor.kvCache.pool.usedCount == 0)
    }
}
