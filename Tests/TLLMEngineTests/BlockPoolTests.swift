// The block pool: exact ids, LRU reuse order, reference counts.
import Testing
import TLLMRuntime

@Suite("Block pool")
struct BlockPoolTests {
    @Test("Blocks come out in id order and freed blocks return in LRU order")
    func freedBlocksReturnInLRUOrder() {
        var pool = BlockPool(numBlocks: 6)
        #expect(pool.allocate(2) == [0, 1])
        #expect(pool.allocate(3) == [2, 3, 4])
        pool.release([3])
        pool.release([0, 1])
        #expect(pool.freeCount == 4)
        #expect(pool.allocate(4) == [5, 3, 0, 1])
        #expect(pool.freeCount == 0)
    }

    @Test("An allocation that cannot fit returns nil and takes nothing")
    func overAllocationTakesNothing() {
        var pool = BlockPool(numBlocks: 3)
        #expect(pool.allocate(4) == nil)
        #expect(pool.freeCount == 3)
        #expect(pool.allocate(3) != nil)
        #expect(pool.allocate(1) == nil)
    }

    @Test("The KV cache manager grows block tables and frees them whole")
    func managerGrowsAndFrees() throws {
        var manager = try KVCacheManager(config: KvCacheConfig(maxTokens: 64, tokensPerBlock: 8), numLayers: 1, kvDim: 4)
        #expect(manager.reserve(7, tokens: 9) == true)
        #expect(manager.blockTable(7) == [0, 1])
        #expect(manager.reserve(7, tokens: 16) == true)
        #expect(manager.blockTable(7) == [0, 1])
        #expect(manager.reserve(7, tokens: 17) == true)
        #expect(manager.blockTable(7) == [0, 1, 2])
        #expect(manager.reserve(8, tokens: 64) == false)
        #expect(manager.blockTable(8).isEmpty)
        manager.free(7)
        #expect(manager.pool.usedCount == 0)
        #expect(throws: RuntimeError.self) { _ = try KVCacheManager(config: KvCacheConfig(maxTokens: 4, tokensPerBlock: 8), numLayers: 1, kvDim: 4) }
    }
}
