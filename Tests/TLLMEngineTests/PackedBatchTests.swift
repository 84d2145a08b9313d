// Batch invariance: a sequence's logits do not depend on what else is in the batch or how its prompt is chunked.
import Testing
import TLLMBackend
import TLLMBuilder
import TLLMEngine
import TLLMModel
import TLLMRuntime

@Suite("Packed forward batches")
struct PackedBatchTests {
    static let prompts: [[Int32]] = [[5, 9, 13, 200, 7], [1], [44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61], [3, 3, 3]]

    static func models() throws -> [(String, any CausalLM)] {
        [("gpt f32", try TestModels.gpt()), ("llama f32", try TestModels.llama()), ("llama f16", try TestModels.llama(matrixType: .f16))]
    }

    @Test("A sequence's logits are bit-identical alone and packed with others", arguments: ["gpt f32", "llama f32", "llama f16"])
    func packedEqualsAlone(model name: String) throws {
        let model = try Self.models().first { $0.0 == name }!.1
        let engine = try ModelEngine(try Builder.build(model, BuildConfig(maxNumTokens: 256)))
        var cache = try KVCacheManager(config: KvCacheConfig(maxTokens: 512, tokensPerBlock: 4),
                                       numLayers: model.config.numHiddenLayers, kvDim: model.config.kvDim)
        for (id, p) in Self.prompts.enumerated() { #expect(cache.reserve(id, tokens: p.count) == true) }
        func sequence(_ id: Int) -> ForwardBatch.Sequence {
            .init(tokens: Self.prompts[id], startPosition: 0, blockTable: cache.blockTable(id), logits: .all)
        }
        let packed = try engine.forward(ForwardBatch(sequences: Self.prompts.indices.map(sequence)), cache: cache.cache)
        #expect(packed.rowCount == Self.prompts.map(\.count).reduce(0, +))
        var row = 0
        for id in Self.prompts.indices {
            let alone = try engine.forward(ForwardBatch(sequences: [sequence(id)]), cache: cache.cache)
            for r in 0..<alone.rowCount {
                #expect(alone.row(r).elementsEqual(packed.row(row)), "\(name): sequence \(id) row \(r)")
                row += 1
            }
        }
    }

    @Test("A batch shape seen before, after a larger one moved the activation buffers, gives the same logits")
    func shapeSeenAgainAfterGrowth() throws {
        let model = try TestModels.llama()
        let engine = try ModelEngine(try Builder.build(model, BuildConfig(maxNumTokens: 256)))
        var cache = try KVCacheManager(config: KvCacheConfig(maxTokens: 512, tokensPerBlock: 4),
                                       numLayers: model.config.numHiddenLayers, kvDim: model.config.kvDim)
        for (id, p) in Self.prompts.enumerated() { #expect(cache.reserve(id, tokens: p.count) == true) }
        func run(_ ids: [Int]) throws -> Logits {
            try engine.forward(ForwardBatch(sequences: ids.map {
                .init(tokens: Self.prompts[$0], startPosition: 0, blockTable: cache.blockTable($0), logits: .all)
            }), cache: cache.cache)
        }
        let first = try run([0])
        let bytesBefore = engine.activationBytes
        _ = try run([0, 1, 2, 3])   // 27 tokens: every slot grows, so the matrices the engine keeps must be rebuilt
        #expect(engine.activationBytes > bytesBefore)
        let again = try run([0])
        for r in 0..<first.rowCount { #expect(first.row(r).elementsEqual(again.row(r)), "row \(r)") }
    }

    @Test("Prefill in chunks gives the same last logits as one pass", arguments: [1, 3, 8])
    func chunkedPrefillMatches(chunk: Int) throws {
        let model = try TestModels.llama()
        let engine = try ModelEngine(try Builder.build(model))
        var cache = try KVCacheManager(config: KvCacheConfig(maxTokens: 256, tokensPerBlock: 4),
                                       numLayers: model.config.numHiddenLayers, kvDim: model.config.kvDim)
        let prompt = Self.prompts[2]
        #expect(cache.reserve(0, tokens: prompt.count) == true)
        #expect(cache.reserve(1, tokens: prompt.count) == true)
        let whole = try engine.forward(ForwardBatch(sequences: [.init(tokens: prompt, startPosition: 0, blockTable: cache.blockTable(0))]),
                                       cache: cache.cache)
        var start = 0
        var last: Logits?
        while start < prompt.count {
            let end = min(start + chunk, prompt.count)
            last = try engine.forward(ForwardBatch(sequences: [.init(tokens: Array(prompt[start..<end]), startPosition: start,
                                                                     blockTable: cache.blockTable(1))]), cache: cache.cache)
            start = end
        }
        let a = whole.row(0), b = last!.row(0)
        let worst = zip(a, b).map { abs($0 - $1) }.max()!
        // Attention over cached keys sums in the same order either way; the tolerance covers nothing but float noise.
        #expect(worst <= 1e-5, "worst difference \(worst)")
    }

    @Test("Bad batches are refused with a typed error naming the problem")
    func badBatchesAreRefused() throws {
        let model = try TestModels.llama()
        let engine = try ModelEngine(try Builder.build(model, BuildConfig(maxBatchSize: 2, maxSeqLen: 64, maxNumTokens: 16)))
        let cache = PagedKVCache(numLayers: 2, numBlocks: 8, tokensPerBlock: 4, kvDim: model.config.kvDim)
        func code(_ batch: ForwardBatch, _ c: PagedKVCache? = nil) -> EngineError.Code? {
            do { _ = try engine.forward(batch, cache: c ?? cache); return nil } catch { return error.code }
        }
        #expect(code(ForwardBatch(sequences: [])) == .invalidBatch)
        #expect(code(ForwardBatch(sequences: [.init(tokens: [], startPosition: 0, blockTable: [0])])) == .invalidBatch)
        #expect(code(ForwardBatch(sequences: [.init(tokens: [320], startPosition: 0, blockTable: [0])])) == .tokenOutOfVocabulary)
        #expect(code(ForwardBatch(sequences: [.init(tokens: [-1], startPosition: 0, blockTable: [0])])) == .tokenOutOfVocabulary)
        #expect(code(ForwardBatch(sequences: [.init(tokens: Array(repeating: 1, count: 17), startPosition: 0, blockTable: [0, 1, 2, 3, 4])])) == .tooManyTokens)
        #expect(code(ForwardBatch(sequences: [.init(tokens: [1], startPosition: 64, blockTable: Array(repeating: 0, count: 17))])) == .sequenceTooLong)
        #expect(code(ForwardBatch(sequences: [.init(tokens: [1, 2, 3, 4, 5], startPosition: 0, blockTable: [0])])) == .badBlockTable)
        #expect(code(ForwardBatch(sequences: [.init(tokens: [1], startPosition: 0, blockTable: [8])])) == .badBlockTable)
        let three = ForwardBatch.Sequence(tokens: [1], startPosition: 0, blockTable: [0])
        #expect(code(ForwardBatch(sequences: [three, three, three])) == .tooManySequences)
        let wrong = PagedKVCache(numLayers: 3, numBlocks: 8, tokensPerBlock: 4, kvDim: model.config.kvDim)
        #expect(code(ForwardBatch(sequences: [three]), wrong) == .cacheMismatch)
    }
}
