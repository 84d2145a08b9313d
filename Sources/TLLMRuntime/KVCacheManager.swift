// The KV cache manager: the cache memory, each sequence's block table, and prefix reuse.
// Knows sequences by id and their token ids; the scheduler gets plain answers from it.
import TLLMBackend
import TLLMEngine
#if canImport(Glibc)
import Glibc
#endif

/// Sizing and reuse of the paged KV cache (TensorRT-LLM's `KvCacheConfig`).
public struct KvCacheConfig: Sendable, Codable, Equatable {
    /// Total tokens the cache holds across all sequences; nil sizes it from `freeMemoryFraction`.
    public var maxTokens: Int?
    /// Fraction of the machine's available memory to give the cache when `maxTokens` is nil.
    public var freeMemoryFraction: Double
    /// Tokens per block.
    public var tokensPerBlock: Int
    /// Reuse full blocks whose token prefix is already cached (prefix caching).
    public var enableBlockReuse: Bool

    public init(maxTokens: Int? = 8192, freeMemoryFraction: Double = 0.1, tokensPerBlock: Int = 32,
                enableBlockReuse: Bool = true) {
        self.maxTokens = maxTokens
        self.freeMemoryFraction = freeMemoryFraction
        self.tokensPerBlock = tokensPerBlock
        self.enableBlockReuse = enableBlockReuse
    }

    /// Tokens the cache will hold for a model whose one token takes `bytesPerToken` bytes.
    /// - Throws: ``RuntimeError`` (`.invalidConfig`) for sizes that make no sense.
    public func resolvedMaxTokens(bytesPerToken: Int) throws(RuntimeError) -> Int {
        guard tokensPerBlock > 0 && tokensPerBlock <= 4096 else {
            throw RuntimeError(.invalidConfig, "tokens_per_block is \(tokensPerBlock); it must be in 1...4096")
        }
        if let maxTokens {
            guard maxTokens >= tokensPerBlock else {
                throw RuntimeError(.invalidConfig, "kv cache max_tokens (\(maxTokens)) must be at least tokens_per_block (\(tokensPerBlock))")
            }
            return maxTokens
        }
        guard freeMemoryFraction > 0 && freeMemoryFraction <= 0.95 else {
            throw RuntimeError(.invalidConfig, "free_memory_fraction is \(freeMemoryFraction); it must be in (0, 0.95]")
        }
        let tokens = Int(Double(Self.availableMemoryBytes()) * freeMemoryFraction) / max(bytesPerToken, 1)
        guard tokens >= tokensPerBlock else {
            throw RuntimeError(.invalidConfig, "free_memory_fraction \(freeMemoryFraction) of available memory holds only \(tokens) tokens")
        }
        return tokens
    }

    /// MemAvailable from /proc/meminfo (or 1 GiB where it cannot be read).
    static func availableMemoryBytes() -> Int {
        guard let file = fopen("/proc/meminfo", "r") else { return 1 << 30 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("MemAvailable:") {
                let kb = text.split(separator: " ").compactMap { Int($0) }.first ?? 0
                return kb * 1024
            }
        }
        return 1 << 30
    }
}

/// Per-sequence block tables over a ``BlockPool`` and the cache memory.
///
/// Invariants: a sequence's table covers its positions in order; every block in a table is held
/// in the pool once per table that lists it; the first `hashedBlocks` blocks of a table are full
/// and registered for reuse.
public struct KVCacheManager: Sendable {
    public let cache: PagedKVCache
    public let enableBlockReuse: Bool
    public private(set) var pool: BlockPool
    private var tables: [Int: [Int32]] = [:]
    private var hashedBlocks: [Int: Int] = [:]
    private var lastHash: [Int: UInt64] = [:]

    /// - Throws: ``RuntimeError`` (`.invalidConfig`) if the sizes are not usable.
    /// - Parameter dtype: how keys and values are stored (the engine's `BuildConfig.kvCacheDType`).
    public init(config: KvCacheConfig, numLayers: Int, kvDim: Int, dtype: KVCacheDType = .float32) throws(RuntimeError) {
        let bytesPerToken = 2 * numLayers * (dtype == .int8 ? kvDim + kvDim / 32 * 4 : kvDim * 4)
        let tokens = try config.resolvedMaxTokens(bytesPerToken: bytesPerToken)
        let blocks = tokens / config.tokensPerBlock
        cache = PagedKVCache(numLayers: numLayers, numBlocks: blocks, tokensPerBlock: config.tokensPerBlock, kvDim: kvDim, dtype: dtype)
        pool = BlockPool(numBlocks: blocks)
        enableBlockReuse = config.enableBlockReuse
    }

    public var tokensPerBlock: Int { cache.tokensPerBlock }
    /// Tokens the whole cache holds.
    public var capacityTokens: Int { pool.numBlocks * tokensPerBlock }

    /// Blocks needed to hold `tokens` positions.
    public func blocksNeeded(_ tokens: Int) -> Int { (tokens + tokensPerBlock - 1) / tokensPerBlock }

    /// How many leading tokens of `tokens` are in cached blocks that ``allocate(_:tokens:reserve:)``
    /// would reuse. At most `tokens.count - 1`, so the last token is always computed (its logits are needed).
    public func reusableTokens(_ tokens: [Int32]) -> Int { matchPrefix(tokens).count * tokensPerBlock }

    /// New blocks ``allocate(_:tokens:reserve:)`` would take for `tokens` with room for `reserve` positions.
    public func newBlocksNeeded(_ tokens: [Int32], reserve: Int) -> Int {
        blocksNeeded(reserve) - matchPrefix(tokens).count
    }

    /// Starts `sequence`'s table: reuses cached blocks for the longest cached prefix of `tokens`
    /// and takes new blocks up to `reserve` positions. Returns the number of reused tokens, or nil
    /// (changing nothing) if the pool is short.
    /// - Precondition: `sequence` has no table; `reserve ≥ tokens.count`.
    public mutating func allocate(_ sequence: Int, tokens: [Int32], reserve: Int) -> Int? {
        precondition(tables[sequence] == nil, "sequence \(sequence) already has blocks")
        let matched = matchPrefix(tokens)
        let fresh = blocksNeeded(reserve) - matched.count
        let freeMatched = matched.filter { pool.referenceCount($0.block) == 0 }.count
        guard fresh >= 0, fresh <= pool.freeCount - freeMatched else { return nil }
        for m in matched { pool.acquireCached(m.block) }
        if enableBlockReuse { pool.recordMisses(max(0, (tokens.count - 1) / tokensPerBlock - matched.count)) }
        guard let blocks = pool.allocate(fresh) else {
            pool.release(matched.map(\.block))
            return nil
        }
        tables[sequence] = matched.map(\.block) + blocks
        hashedBlocks[sequence] = matched.count
        lastHash[sequence] = matched.last?.hash ?? 0
        return matched.count * tokensPerBlock
    }

    /// Grows `sequence`'s table to cover `tokens` positions. Returns false (changing nothing) if the pool is short.
    public mutating func reserve(_ sequence: Int, tokens: Int) -> Bool {
        let have = tables[sequence]?.count ?? 0
        let need = blocksNeeded(tokens) - have
        if need <= 0 { return true }
        guard let blocks = pool.allocate(need) else { return false }
        tables[sequence, default: []] += blocks
        return true
    }

    /// Registers every block of `sequence` that `tokens[..<computed]` now fills completely, so later
    /// requests with the same prefix reuse it.
    public mutating func commit(_ sequence: Int, tokens: ArraySlice<Int32>, computed: Int) {
        guard enableBlockReuse, let table = tables[sequence] else { return }
        var hashed = hashedBlocks[sequence] ?? 0
        var parent = lastHash[sequence] ?? 0
        let base = tokens.startIndex
        while (hashed + 1) * tokensPerBlock <= computed && hashed < table.count {
            let key = BlockKey(parent: parent, tokens: Array(tokens[base + hashed * tokensPerBlock ..< base + (hashed + 1) * tokensPerBlock]))
            pool.register(table[hashed], key: key)
            parent = key.hash
            hashed += 1
        }
        hashedBlocks[sequence] = hashed
        lastHash[sequence] = parent
    }

    public func blockTable(_ sequence: Int) -> [Int32] { tables[sequence] ?? [] }

    /// Returns all of `sequence`'s blocks to the pool, last block first, so a shared prefix is
    /// the last to be evicted.
    public mutating func free(_ sequence: Int) {
        if let blocks = tables.removeValue(forKey: sequence) { pool.release(blocks.reversed()) }
        hashedBlocks[sequence] = nil
        lastHash[sequence] = nil
    }

    /// Sequences holding blocks.
    public var sequenceCount: Int { tables.count }

    /// Describes the first broken invariant of the manager or its pool, or nil.
    public func checkInvariants() -> String? {
        if let problem = pool.checkInvariants() { return problem }
        var holders = [Int](repeating: 0, count: pool.numBlocks)
        for table in tables.values { for b in table { holders[Int(b)] += 1 } }
        for b in 0..<pool.numBlocks where holders[b] != pool.referenceCount(Int32(b)) {
            return "block \(b) is in \(holders[b]) tables but has \(pool.referenceCount(Int32(b))) references"
        }
        return nil
    }

    private func matchPrefix(_ tokens: [Int32]) -> [(block: Int32, hash: UInt64)] {
        guard enableBlockReuse, tokens.count > 1 else { return [] }
        var out: [(Int32, UInt64)] = []
        var parent: UInt64 = 0
        let full = (tokens.count - 1) / tokensPerBlock
        for i in 0..<full {
            let key = BlockKey(parent: parent, tokens: Array(tokens[i * tokensPerBlock ..< (i + 1) * tokensPerBlock]))
            guard let block = pool.cachedBlock(key) else { break }
            out.append((block, key.hash))
            parent = key.hash
        }
        return out
    }
}
