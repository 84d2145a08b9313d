// The LLM API on the default model: streaming, cancellation, stop strings, logprobs, concurrency.
import Foundation
import MiniTRTLLM
import Synchronization
import Testing

@Suite("LLM API on the default model", .enabled(if: TestModel.enabled, "default model not available"))
struct LLMAPITests {
    @Test("Streamed deltas concatenate to the non-streamed text and never split a character")
    func streamingMatchesBlocking() async throws {
        let llm = try TestModel.sharedLLM()
        let params = SamplingParams(maxTokens: 24, temperature: 0.8, seed: 11)
        let prompt = "Write the word café three times:"
        let blocking = try llm.generate([prompt], params)[0]
        var text = "", ids: [Int32] = [], reason: FinishReason?
        for try await delta in try llm.generateAsync(prompt, params) {
            #expect(!delta.text.contains("\u{FFFD}"))
            text += delta.text
            ids += delta.tokenIDs
            reason = delta.finishReason ?? reason
        }
        #expect(ids == blocking.tokenIDs)
        #expect(text == blocking.text)
        #expect(reason == blocking.finishReason)
    }

    @Test("Cancelling the consuming task cancels the request and frees its blocks")
    func cancellingTheTaskFreesBlocks() async throws {
        // Its own LLM, so no other test's requests hold blocks meanwhile.
        let llm = try LLM(model: try TestModel.path(), kvCacheConfig: KvCacheConfig(maxTokens: 1024))
        let received = Mutex(0)
        let consumer = Task {
            let stream = try llm.generateAsync("Tell me a long story about a dragon.",
                                               SamplingParams(maxTokens: 400, temperature: 0.7, seed: 3, ignoreEOS: true))
            for try await delta in stream { received.withLock { $0 += delta.tokenIDs.count } }
        }
        while received.withLock({ $0 }) < 3 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(llm.kvCacheUsage().sequences == 1)
        consumer.cancel()
        _ = await consumer.result
        var freed = false
        for _ in 0..<200 {
            let usage = llm.kvCacheUsage()
            if usage.sequences == 0 { freed = true; break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(freed, "the cancelled request still holds blocks")
    }

    @Test("A stop string ends generation and is cut from the text")
    func stopStringsCutTheText() throws {
        let llm = try TestModel.sharedLLM()
        let free = try llm.generate(["The capital of France is"], .greedy(maxTokens: 12))[0]
        #expect(free.text.hasPrefix(" Paris."))
        var params = SamplingParams.greedy(maxTokens: 12)
        params.stop = ["."]
        let stopped = try llm.generate(["The capital of France is"], params)[0]
        #expect(stopped.text == " Paris")
        #expect(stopped.finishReason == .stop)
    }

    @Test("Logprobs come with every token and match the teacher-forced logits")
    func logprobsMatchTeacherForcing() throws {
        let llm = try TestModel.sharedLLM()
        var params = SamplingParams.greedy(maxTokens: 5)
        params.logprobs = 3
        let out = try llm.generate(["The capital of France is"], params)[0]
        #expect(out.logprobs.count == out.tokenIDs.count)
        let logits = try llm.logits(ids: out.promptTokenIDs + out.tokenIDs)
        for (j, lp) in out.logprobs.enumerated() {
            let row = logits.row(out.promptTokenIDs.count - 1 + j)
            let m = Double(row.max()!)
            let lse = m + log(row.reduce(0.0) { $0 + exp(Double($1) - m) })
            #expect(abs(Double(lp.logprob!) - (Double(row[row.startIndex + Int(lp.id)]) - lse)) < 1e-5)
            #expect(lp.topLogprobs.count == 3 && lp.topLogprobs[0].id == lp.id)
        }
    }

    @Test("Concurrent callers are batched together and each gets its own answer")
    func concurrentCallersGetTheirOwnAnswers() async throws {
        let llm = try TestModel.sharedLLM()
        let prompts = ["The capital of France is", "1, 2, 3, 4,", "Water boils at", "The opposite of hot is"]
        let alone = try prompts.map { try llm.generate([$0], .greedy(maxTokens: 10))[0].tokenIDs }
        let together = try await withThrowingTaskGroup(of: (Int, [Int32]).self) { group in
            for (i, p) in prompts.enumerated() {
                group.addTask { (i, try llm.generate([p], .greedy(maxTokens: 10))[0].tokenIDs) }
            }
            var out = [[Int32]](repeating: [], count: prompts.count)
            for try await (i, ids) in group { out[i] = ids }
            return out
        }
        #expect(together == alone)
    }

    @Test("Invalid requests fail at once with the reason")
    func invalidRequestsFail() throws {
        let llm = try TestModel.sharedLLM()
        #expect(throws: LLMError.self) { _ = try llm.generate([""], .greedy()) }
        #expect(throws: LLMError.self) { _ = try llm.generate(["hi"], SamplingParams(maxTokens: 0)) }
        #expect(throws: LLMError.self) { _ = try llm.generate(["hi"], SamplingParams(topP: 2)) }
        #expect(throws: LLMError.self) { _ = try llm.generateAsync(promptIDs: Array(repeating: 5, count: 3000), .greedy()) }
        #expect(throws: LLMError.self) { _ = try llm.generateAsync(promptIDs: [49152], .greedy()) }
    }

    @Test("Eight prompts give bit-identical tokens and logprobs alone and all in flight together")
    func realModelBatchInvariance() throws {
        let llm = try TestModel.sharedLLM()
        let prompts = ["The capital of France is", "Once upon a time", "def fibonacci(n):", "The three primary colors are",
                       "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n", "Water boils at", "My favourite food is",
                       String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 12)]
        var params = SamplingParams(maxTokens: 8, temperature: 0.7, seed: 5, logprobs: 1)
        params.ignoreEOS = true
        let alone = try prompts.map { try llm.generate([$0], params)[0] }
        let together = try llm.generate(prompts, params)
        for i in prompts.indices {
            #expect(together[i].tokenIDs == alone[i].tokenIDs, "prompt \(i)")
            #expect(together[i].logprobs.map { $0.logprob!.bitPattern } == alone[i].logprobs.map { $0.logprob!.bitPattern }, "prompt \(i)")
        }
    }
}
