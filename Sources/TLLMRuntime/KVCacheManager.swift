// The KV cache manager: the cache memory plus which blocks each sequence holds.
import TLLMEngine

/// Sizing of the paged KV cache (TensorRT-LLM's `KvCacheConfig`).
public struct KvCacheConfig: Sendable, Codable, Equatable {
    /// Total tokens the cache holds across all sequences.
    public var maxTokens: Int
    /// Tokens per block.
    public var tokensPerBlock: Int

    public init(maxTokens: Int = 8192, tokensPerBlock: Int = 32) {
        self.maxTokens = maxTokens
        self.tokensPerBlock = tokensPerBlock
    }
}

/// Hands out cache blocks to sequences by id and keeps their block tables.
///
/// Invariant: a sequence's table covers exactly the blocks it was given, in position order, and
/// every block in any table is allocated in the pool.
public struct KVCacheManager: Sendable {
    public let cache: PagedKVCache
    public private(set) var pool: BlockPool
    private var tables: [Int: [Int32]] = [:]

    /// - Throws: ``RuntimeError`` (`.invalidConfig`) if the sizes are not positive.
    public init(config: KvCacheConfig, numLayers: Int, kvDim: Int) throws(RuntimeError) {
        guard config.tokensPerBlock > 0, config.maxTokens >= config.tokensPerBlock else {
            throw RuntimeError(.invalidConfig, "kv cache max_tokens (\(config.maxTokens)) must be at least tokens_per_block (\(config.tokensPerBlock)) > 0")
        }
        let blocks = config.maxTokens / config.tokensPerBlock
        cache = PagedKVCache(numLayers: numLayers, numBlocks: blocks, tokensPerBlock: config.tokensPerBlock, kvDim: kvDim)
        pool = BlockPool(numBlocks: blocks)
    }

    public var tokensPerBlock: Int { cache.tokensPerBlock }

    /// Blocks needed to hold `tokens` positions.
    public func blocksNeeded(_ tokens: Int) -> Int { (tokens + tokensPerBlock - 1) / tokensPerBlock }

    /// Grows `sequence`'s table to cover `tokens` positions. Returns false (changing nothing) if the pool is short.
    public mutating func reserve(_ sequence: Int, tokens: Int) -> Bool {
        let have = tables[sequence]?.count ?? 0
        let need = blocksNeeded(tokens) - have
        if need <= 0 { return true }
        guard let blocks = pool.allocate(need) else { return false }
        tables[sequence, default: []] += blocks
        return true
    }

    public func blockTable(_ sequence: Int) -> [Int32] { tables[sequence] ?? [] }

    /// Returns all of `sequence`'s blocks to the pool.
    public mutating func free(_ sequence: Int) {
        if let blocks = tables.removeValue(forKey: sequence) { pool.release(blocks) }
    }
}
