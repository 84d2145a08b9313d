// Schedulers and the block pool, asserting exact block ids and queue order.
import Testing
import TLLMExecutor
import TLLMRuntime

@Suite("Schedulers")
struct SchedulerTests {
    func manager(blocks: Int, reuse: Bool = true) throws -> KVCacheManager {
        try KVCacheManager(config: KvCacheConfig(maxTokens: blocks * 4, tokensPerBlock: 4, enableBlockReuse: reuse), numLayers: 1, kvDim: 2)
    }

    func request(_ id: RequestID, _ length: Int, max: Int, computed: Int = 0, base: Int32 = 0) -> SchedulerRequest {
        SchedulerRequest(id: id, tokens: (0..<Int32(length)).map { $0 + base }, numComputed: computed, maxLength: max)
    }

    @Test("GUARANTEED_NO_EVICT reserves whole lengths and admits first-come-first-served without skipping")
    func guaranteedNoEvictAdmitsInOrder() throws {
        var kv = try manager(blocks: 10)
        let s = CapacityScheduler(policy: .guaranteedNoEvict, maxBatchSize: 8)
        // needs 3, 8 and 1 blocks of 10: the third would fit but must wait behind the second.
        let waiting = [request(0, 5, max: 12), request(1, 9, max: 32, base: 100), request(2, 1, max: 2, base: 200)]
        let d = s.schedule(running: [], waiting: waiting, kvCache: &kv)
        #expect(d.admitted.map(\.id) == [0])
        #expect(kv.blockTable(0) == [0, 1, 2])
        kv.free(0)                                               // request 0 finished
        let d2 = s.schedule(running: [], waiting: Array(waiting.dropFirst()), kvCache: &kv)
        #expect(d2.admitted.map(\.id) == [1, 2])
        #expect(kv.blockTable(1) == [3, 4, 5, 6, 7, 8, 9, 2])
        #expect(kv.blockTable(2) == [1])
        #expect(d2.preempted.isEmpty)
    }

    @Test("MAX_UTILIZATION grows running requests and preempts the newest when blocks run out")
    func maxUtilizationPreemptsNewest() throws {
        var kv = try manager(blocks: 4, reuse: false)
        let s = CapacityScheduler(policy: .maxUtilization, maxBatchSize: 8)
        let d = s.schedule(running: [], waiting: [request(0, 4, max: 40), request(1, 4, max: 40, base: 50), request(2, 8, max: 40, base: 90)], kvCache: &kv)
        #expect(d.admitted.map(\.id) == [0, 1, 2])      // only the prompts are reserved: 1 + 1 + 2 blocks
        #expect(kv.blockTable(0) == [0] && kv.blockTable(1) == [1] && kv.blockTable(2) == [2, 3])
        let running = d.admitted.map(\.id).map { id in [request(0, 5, max: 40), request(1, 5, max: 40, base: 50), request(2, 9, max: 40, base: 90)][id] }
        // Every running request now needs one more block: the newest is preempted until the rest fit.
        let d2 = s.schedule(running: running, waiting: [], kvCache: &kv)
        #expect(d2.preempted == [2])
        #expect(kv.blockTable(0) == [0, 3] && kv.blockTable(1) == [1, 2])
        #expect(kv.blockTable(2).isEmpty)
        #expect(kv.checkInvariants() == nil)
    }

    @Test("STATIC_BATCH admits a new batch only when the running one is done")
    func staticBatchWaitsForTheBatch() throws {
        var kv = try manager(blocks: 20)
        let s = CapacityScheduler(policy: .staticBatch, maxBatchSize: 2)
        let d = s.schedule(running: [], waiting: [request(0, 3, max: 8), request(1, 3, max: 8, base: 10), request(2, 3, max: 8, base: 20)], kvCache: &kv)
        #expect(d.admitted.map(\.id) == [0, 1])
        let d2 = s.schedule(running: [request(1, 4, max: 8, base: 10)], waiting: [request(2, 3, max: 8, base: 20)], kvCache: &kv)
        #expect(d2.admitted.isEmpty)
    }

    @Test("Admission reuses cached prefix blocks and reports the reused tokens")
    func admissionReusesPrefix() throws {
        var kv = try manager(blocks: 10)
        let prompt: [Int32] = Array(0..<10)
        #expect(kv.allocate(0, tokens: prompt, reserve: 10) == 0)
        kv.commit(0, tokens: prompt[...], computed: 10)          // blocks 0 and 1 are full and cached
        kv.free(0)
        #expect(kv.pool.freeQueue == [3, 4, 5, 6, 7, 8, 9, 2, 1, 0])
        let s = CapacityScheduler(policy: .guaranteedNoEvict, maxBatchSize: 8)
        let d = s.schedule(running: [], waiting: [SchedulerRequest(id: 1, tokens: prompt + [77], numComputed: 0, maxLength: 12)], kvCache: &kv)
        #expect(d.admitted.map(\.reusedTokens) == [8])
        #expect(kv.blockTable(1) == [0, 1, 3])
        #expect(kv.pool.stats.reuseHits == 2)
        #expect(kv.checkInvariants() == nil)
    }

    @Test("Generation goes first, then prompt chunks in multiples of the block size (FCFS)")
    func microBatchFirstComeFirstServed() {
        let s = MicroBatchScheduler(maxBatchSize: 8, maxNumTokens: 20, tokensPerBlock: 4, policy: .firstComeFirstServed)
        let out = s.schedule([MicroBatchCandidate(id: 5, pending: 30, isGeneration: false),
                              MicroBatchCandidate(id: 1, pending: 1, isGeneration: true),
                              MicroBatchCandidate(id: 7, pending: 3, isGeneration: false),
                              MicroBatchCandidate(id: 2, pending: 1, isGeneration: true)])
        #expect(out.map(\.id) == [1, 2, 5])
        #expect(out.map(\.tokens) == [1, 1, 16])          // 18 left → 16; request 7 waits (FCFS)
        let finishing = s.schedule([MicroBatchCandidate(id: 5, pending: 14, isGeneration: false),
                                    MicroBatchCandidate(id: 7, pending: 3, isGeneration: false)])
        #expect(finishing.map(\.id) == [5, 7] && finishing.map(\.tokens) == [14, 3])
    }

    @Test("EQUAL_PROGRESS advances every prompt a block at a time")
    func microBatchEqualProgress() {
        let s = MicroBatchScheduler(maxBatchSize: 8, maxNumTokens: 20, tokensPerBlock: 4, policy: .equalProgress)
        let out = s.schedule([MicroBatchCandidate(id: 0, pending: 30, isGeneration: false),
                              MicroBatchCandidate(id: 1, pending: 6, isGeneration: false),
                              MicroBatchCandidate(id: 2, pending: 2, isGeneration: false)])
        #expect(out.map(\.id) == [0, 1, 2])
        #expect(out.map(\.tokens) == [12, 6, 2])           // rounds: 4+4+2, 4+2, 4 → budget 20 spent
    }

    @Test("The batch-size limit caps generation and context alike")
    func batchSizeLimit() {
        let s = MicroBatchScheduler(maxBatchSize: 2, maxNumTokens: 100, tokensPerBlock: 4, policy: .firstComeFirstServed)
        let out = s.schedule([MicroBatchCandidate(id: 0, pending: 1, isGeneration: true),
                              MicroBatchCandidate(id: 1, pending: 9, isGeneration: false),
                              MicroBatchCandidate(id: 2, pending: 1, isGeneration: true)])
        #expect(out.map(\.id) == [0, 2])
    }
}
