// The executor and runtime end to end on a small random model: batching changes nothing, nothing leaks.
import Testing
import TLLMBackend
import TLLMBuilder
import TLLMEngine
import TLLMExecutor
import TLLMModel
import TLLMRuntime

@Suite("Executor and runtime")
struct ExecutorTests {
    static let prompts: [[Int32]] = [[5, 9, 13], [100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110], [7], [42, 43, 44, 45, 46, 47]]

    func run(_ executor: Executor, _ requests: [Request]) throws -> [RequestID: [Int32]] {
        var out: [RequestID: [Int32]] = [:]
        let ids = try requests.map { try executor.enqueue($0) }
        var steps = 0
        while executor.hasWork {
            for r in try executor.step() { out[r.requestID, default: []] += r.newTokens }
            steps += 1
            #expect(steps < 1000, "executor did not finish")
            if steps >= 1000 { break }
        }
        #expect(Set(out.keys) == Set(ids))
        return out
    }

    @Test("Greedy outputs are identical alone (Runtime) and in-flight batched with chunked prefill (Executor)",
          arguments: [512, 4])
    func batchedEqualsAlone(maxNumTokens: Int) throws {
        let model = try TestModels.llama()
        let engine = try ModelEngine(try Builder.build(model, BuildConfig(maxNumTokens: maxNumTokens)))
        let runtime = try Runtime(engine: engine, kvCacheConfig: KvCacheConfig(maxTokens: 256, tokensPerBlock: 4))
        let executor = try Executor(engine: engine, kvCacheConfig: KvCacheConfig(maxTokens: 256, tokensPerBlock: 4))
        let params = SamplingParams.greedy(maxTokens: 12)
        let batched = try run(executor, Self.prompts.map { Request(promptIDs: $0, params: params) })
        for (i, prompt) in Self.prompts.enumerated() {
            let alone = try runtime.generate(promptIDs: prompt, params: params)
            #expect(alone.outputIDs == batched[i], "prompt \(i)")
            #expect(alone.outputIDs.count == 12)
        }
        #expect(executor.kvCache.pool.usedCount == 0, "blocks leaked")
        #expect(runtime.kvCache.pool.usedCount == 0, "blocks leaked")
    }

    @Test("Requests wait for blocks instead of failing when the cache is small, and all finish")
    func smallCacheQueuesRequests() throws {
        let engine = try ModelEngine(try Builder.build(try TestModels.gpt()))
        // 8 blocks of 4 tokens: each request needs up to 5 blocks, so only one runs at a time.
        let executor = try Executor(engine: engine, kvCacheConfig: KvCacheConfig(maxTokens: 32, tokensPerBlock: 4))
        let out = try run(executor, Self.prompts.map { Request(promptIDs: Array($0.prefix(6)), params: .greedy(maxTokens: 10)) })
        #expect(out.values.allSatisfy { $0.count == 10 })
        #expect(executor.kvCache.pool.usedCount == 0)
    }

    @Test("Seeded sampling is reproducible and independent of batch companions")
    func seededSamplingIsReproducible() throws {
        let engine = try ModelEngine(try Builder.build(try TestModels.gpt()))
        let executor = try Executor(engine: engine, kvCacheConfig: KvCacheConfig(maxTokens: 512, tokensPerBlock: 4))
        let params = SamplingParams(maxTokens: 16, temperature: 1.5, topK: 50, topP: 0.95, seed: 1234)
        let alone = try run(executor, [Request(promptIDs: [1, 2, 3], params: params)])
        let companions = SamplingParams(maxTokens: 16, temperature: 1.0, seed: 99)
        let together = try run(executor, [Request(promptIDs: [9, 9], params: companions), Request(promptIDs: [1, 2, 3], params: params)])
        #expect(alone.values.first! == together[together.keys.max()!]!)
    }

    @Test("Requests that can never run are refused at submission with the numbers")
    func impossibleRequestsAreRefused() throws {
        let engine = try ModelEngine(try Builder.build(try TestModels.gpt(), BuildConfig(maxSeqLen: 64)))
        let executor = try Executor(engine: engine, kvCacheConfig: KvCacheConfig(maxTokens: 32, tokensPerBlock: 4))
        func code(_ r: Request) -> RuntimeError.Code? {
            do { _ = try executor.enqueue(r); return nil } catch { return error.code }
        }
        #expect(code(Request(promptIDs: [], params: .greedy())) == .invalidRequest)
        #expect(code(Request(promptIDs: Array(repeating: 1, count: 64), params: .greedy())) == .invalidRequest)
        #expect(code(Request(promptIDs: [1, 2], params: .greedy(maxTokens: 40))) == .invalidRequest)   // needs 42 > 32 cache tokens
        #expect(code(Request(promptIDs: [512], params: .greedy())) == .invalidRequest)
        #expect(code(Request(promptIDs: [1], params: SamplingParams(maxTokens: 0))) == .invalidSamplingParams)
        #expect(code(Request(promptIDs: [1], params: SamplingParams(temperature: -1))) == .invalidSamplingParams)
        #expect(code(Request(promptIDs: [1], params: SamplingParams(topP: 0))) == .invalidSamplingParams)
        #expect(!executor.hasWork)
    }

    @Test("Generation stops on the end id, on stop ids, and at max_tokens, with the right reason")
    func stopConditions() throws {
        let engine = try ModelEngine(try Builder.build(try TestModels.gpt()))
        let runtime = try Runtime(engine: engine, kvCacheConfig: KvCacheConfig(maxTokens: 256, tokensPerBlock: 4))
        let free = try runtime.generate(promptIDs: [1, 2, 3], params: .greedy(maxTokens: 8))
        #expect(free.finishReason == .length && free.outputIDs.count == 8)
        var eos = SamplingParams.greedy(maxTokens: 8)
        eos.endID = free.outputIDs[2]
        let stopped = try runtime.generate(promptIDs: [1, 2, 3], params: eos)
        #expect(stopped.finishReason == .stop)
        #expect(stopped.outputIDs == Array(free.outputIDs.prefix(through: free.outputIDs.firstIndex(of: eos.endID!)!)))
        eos.ignoreEOS = true
        #expect(try runtime.generate(promptIDs: [1, 2, 3], params: eos).outputIDs == free.outputIDs)
        var stopIDs = SamplingParams.greedy(maxTokens: 8)
        stopIDs.stopTokenIDs = [free.outputIDs[4]]
        #expect(try runtime.generate(promptIDs: [1, 2, 3], params: stopIDs).finishReason == .stop)
    }

    @Test("Cancelling a request frees its blocks and the others still finish")
    func cancellationFreesBlocks() throws {
        let engine = try ModelEngine(try Builder.build(try TestModels.gpt()))
        let executor = try Executor(engine: engine, kvCacheConfig: KvCacheConfig(maxTokens: 256, tokensPerBlock: 4))
        let a = try executor.enqueue(Request(promptIDs: [1, 2, 3], params: .greedy(maxTokens: 30)))
        let b = try executor.enqueue(Request(promptIDs: [4, 5], params: .greedy(maxTokens: 5)))
        _ = try executor.step()
        #expect(executor.kvCache.pool.usedCount > 0)
        executor.cancel(a)
        var finishedB = false, cancelledA = false
        while executor.hasWork {
            for r in try executor.step() {
                if r.requestID == a {
                    #expect(r.finishReason == .cancelled)
                    cancelledA = true
                } else if r.finishReason != nil {
                    finishedB = r.requestID == b
                }
            }
        }
        #expect(finishedB && cancelledA)
        #expect(executor.kvCache.pool.usedCount == 0)
    }
}
