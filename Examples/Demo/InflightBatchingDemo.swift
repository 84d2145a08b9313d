// Demo 2: the in-flight batching trace — which requests ran as context (with chunk sizes) and
// which as generation, step by step, then the finished outputs.
import MiniTRTLLM

struct InflightBatchingDemo {
    let modelPath: String
    let maxTokens: Int

    static let prompts = [
        "The capital of France is",
        "Write a short poem about the sea. The sea is",
        "<|im_start|>system\nYou are a helpful assistant who answers in plain, friendly English. Keep answers short and concrete, use lists when they help, and never invent facts.<|im_end|>\n<|im_start|>user\nGive me three tips for learning to program, briefly.<|im_end|>\n<|im_start|>assistant\n",
        "1, 2, 3, 4, 5,",
    ]
    /// Step at which each request arrives: the last one joins while the others are decoding.
    static let arrivals = [0, 0, 0, 6]

    func run() throws {
        let gguf = try GGUFFile(path: modelPath)
        let tokenizer = try Tokenizer(gguf: gguf)
        // A small token budget so long prompts are visibly split into chunks.
        let engine = try Builder.build(try CheckpointLoader.load(gguf), BuildConfig(maxBatchSize: 8, maxNumTokens: 48))
        let executor = try Executor(engine: try ModelEngine(engine), kvCacheConfig: KvCacheConfig(maxTokens: 2048, tokensPerBlock: 16))
        print("\n-- Demo 2: in-flight batching (max_num_tokens 48, tokens_per_block 16, \(Self.prompts.count) requests)")
        var names: [RequestID: String] = [:]
        var texts: [RequestID: String] = [:]
        var reasons: [RequestID: FinishReason] = [:]
        var pending: [(step: Int, request: Request, index: Int)] = []
        for (i, prompt) in Self.prompts.enumerated() {
            var params = SamplingParams.greedy(maxTokens: maxTokens - 6 * i)
            params.endID = tokenizer.eosID
            let ids = tokenizer.encode(prompt)
            pending.append((Self.arrivals[i], Request(promptIDs: ids, params: params,
                                                      textDecoder: IncrementalDetokenizer(tokenizer: tokenizer, skipSpecialTokens: true)), i))
            print("   R\(i): \(ids.count)-token prompt, up to \(params.maxTokens) new tokens, arrives before step \(Self.arrivals[i] + 1)")
        }
        var step = 0
        while executor.hasWork || !pending.isEmpty {
            for p in pending where p.step <= step { names[try executor.enqueue(p.request)] = "R\(p.index)" }
            pending.removeAll { $0.step <= step }
            step += 1
            for r in try executor.step() {
                texts[r.requestID, default: ""] += r.text
                if let f = r.finishReason { reasons[r.requestID] = f }
            }
            guard let s = executor.lastIteration else { continue }
            let context = s.scheduled.filter { $0.phase == .context }
                .map { "\(names[$0.id]!)[\($0.startPosition)+\($0.tokens)/\($0.totalTokens)]" }
            let generation = s.scheduled.filter { $0.phase == .generation }.map { names[$0.id]! }
            let label = "step \(pad(s.iteration, 3))"
            let ctx = context.isEmpty ? "—" : context.joined(separator: " ")
            let gen = generation.isEmpty ? "—" : generation.joined(separator: " ")
            print("\(label) │ context: \(ctx.padding(30)) │ generation: \(gen.padding(15)) │ kv blocks \(s.kvBlocksUsed)/\(s.kvBlocksUsed + s.kvBlocksFree)")
        }
        print("\n-- Finished outputs:")
        for id in names.keys.sorted() {
            print("\(names[id]!) (\(reasons[id]?.rawValue ?? "?")): \(texts[id, default: ""].debugDescription)")
        }
    }

    private func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return String(repeating: " ", count: max(0, width - s.count)) + s
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
