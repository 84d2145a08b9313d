// Steady-state decode steps make no heap allocation, counted by the allocator interposer
// (TLLMAllocCounter) on the test's own thread, so tests running beside it do not count.
import Testing
import TLLMAllocCounter
import TLLMBuilder
import TLLMEngine
import TLLMKernels
import TLLMModel
import TLLMRuntime

@Suite("Allocations per decode step")
struct AllocationTests {
    static func model(_ name: String) throws -> any CausalLM {
        name == "gpt" ? try TestModels.gpt() : try TestModels.llama()
    }

    /// Allocations the calling thread makes over `steps` decode steps of `sequences` sequences,
    /// after a prefill and a few warm-up steps, reusing one batch and one ``Logits``.
    ///
    /// The count covers this thread only: the kernels' worker threads are not counted (in steady
    /// state they run kernel bodies, which do not allocate; bench-alloc counts every thread).
    static func decodeAllocations(_ model: any CausalLM, _ config: BuildConfig, sequences: Int,
                                  steps: Int = 12) throws -> UInt64 {
        let engine = try ModelEngine(try Builder.build(model, config))
        var kv = try KVCacheManager(config: KvCacheConfig(maxTokens: 1024, tokensPerBlock: 4, enableBlockReuse: false),
                                    numLayers: model.config.numHiddenLayers, kvDim: model.config.kvDim)
        let prompt: [Int32] = [5, 9, 13, 200, 7]
        var batch = ForwardBatch(sequences: [])
        for s in 0..<sequences {
            #expect(kv.reserve(s, tokens: prompt.count + 4 + steps + 1) == true)
            let first = try engine.forward(ForwardBatch(sequences: [.init(tokens: prompt, startPosition: 0, blockTable: kv.blockTable(s))]),
                                           cache: kv.cache)
            batch.sequences.append(.init(tokens: [Sampler.argmax(first.row(0))], startPosition: prompt.count, blockTable: kv.blockTable(s)))
        }
        var logits = Logits()
        // Decode steps cross block boundaries (4 tokens a block), so the packed block tables change width.
        func step() throws {
            try engine.forward(batch, cache: kv.cache, into: &logits)
            for s in 0..<sequences {
                batch.sequences[s].tokens[0] = Sampler.argmax(logits.row(s))
                batch.sequences[s].startPosition += 1
            }
        }
        for _ in 0..<4 { try step() }
        let before = tllm_alloc_thread_count()
        for _ in 0..<steps { try step() }
        return tllm_alloc_thread_count() - before
    }

    @Test("The allocation counter sees Swift allocations on this thread")
    func counterSeesSwiftAllocations() {
        let before = tllm_alloc_thread_count()
        let array = [Int](repeating: 1, count: 100 + Int(before % 2))
        #expect(tllm_alloc_thread_count() > before && array.count >= 100)
    }

    @Test("A steady-state decode step allocates nothing with the unfused attention ops",
          arguments: ["gpt", "llama"], [1, 4])
    func unfusedAttentionDecodeAllocatesNothing(model: String, sequences: Int) throws {
        let config = BuildConfig(maxBatchSize: 4, maxNumTokens: 64, plugins: ["GPTAttentionPlugin": false])
        #expect(try Self.decodeAllocations(try Self.model(model), config, sequences: sequences) == 0)
    }

    @Test("Decode attention past 1,400 cached positions allocates nothing per step: its scratch grows geometrically, not by one position a step")
    func longContextAttentionAllocatesNothing() {
        // SmolLM2's shape: 9 heads in 3 KV groups of 64. The score rows (three heads' worth) outgrow
        // the scratch's first 4,096 floats at about 1,360 positions.
        let heads = 9, kvHeads = 3, headDim = 64, tokensPerBlock = 16, positions = 1_440
        let kvDim = kvHeads * headDim, blocks = positions / tokensPerBlock
        let keys = [Float](repeating: 0.01, count: blocks * tokensPerBlock * kvDim)
        let values = [Float](repeating: 0.5, count: blocks * tokensPerBlock * kvDim)
        let table = (0..<Int32(blocks)).map { $0 }
        let q = [Float](repeating: 0.1, count: heads * headDim)
        let seq = UnsafeMutablePointer<Int32>.allocate(capacity: 2), outp = UnsafeMutablePointer<Float>.allocate(capacity: heads * headDim)
        defer { seq.deallocate(); outp.deallocate() }
        seq[0] = 0
        // A forced ISA makes this thread run every chunk of the attention itself, so its count is
        // the whole kernel's.
        tllm_force_avx2(1)
        defer { tllm_force_avx2(0) }
        var allocations: UInt64 = 0
        keys.withUnsafeBufferPointer { k in values.withUnsafeBufferPointer { v in q.withUnsafeBufferPointer { qp in
            table.withUnsafeBufferPointer { t in
                // One decode step's attention for each position in [first, end), in a plain loop.
                func attend(from first: Int32, to end: Int32) {
                    seq[1] = first
                    while seq[1] < end {
                        tllm_paged_attention(qp.baseAddress, Int64(heads * headDim), 1, Int64(heads), Int64(kvHeads), Int64(headDim), 0.125,
                                             k.baseAddress, v.baseAddress, Int64(tokensPerBlock), t.baseAddress, Int64(blocks), seq, seq + 1,
                                             outp, Int64(heads * headDim))
                        seq[1] += 1
                    }
                }
                attend(from: 1_398, to: 1_400)
                let before = tllm_alloc_thread_count()
                attend(from: 1_400, to: 1_432)
                allocations = tllm_alloc_thread_count() - before
            }
        } } }
        #expect(allocations == 0)
        #expect(abs(outp[0] - 0.5) < 1e-5)  // uniform values: every head's output is their value
    }

    @Test("A steady-state decode step allocates nothing with the default plugins", arguments: ["gpt", "llama"], [1, 4])
    func defaultPluginsDecodeAllocatesNothing(model: String, sequences: Int) throws {
        let lm = try Self.model(model)
        #expect(try Self.decodeAllocations(lm, BuildConfig(maxBatchSize: 4, maxNumTokens: 64), sequences: sequences) == 0)
    }
}
