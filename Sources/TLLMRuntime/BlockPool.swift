// The block pool: which KV-cache blocks are free, who holds the others, and which full blocks
// are cached for prefix reuse. Knows block ids and hashes, nothing about sequences.

/// Identity of a full block's contents: a 64-bit hash chained over every token up to and including
/// the block, plus the block's own tokens, so two prefixes alias only if their chained hashes
/// collide *and* their last blocks hold the same tokens.
public struct BlockKey: Hashable, Sendable {
    public let hash: UInt64
    public let tokens: [Int32]

    /// The key of the block holding `tokens`, following the block whose key hash is `parent`
    /// (0 for the first block).
    public init(parent: UInt64, tokens: [Int32]) {
        var h: UInt64 = parent ^ 0xCBF2_9CE4_8422_2325
        for t in tokens {
            h ^= UInt64(UInt32(bitPattern: t))
            h = h &* 0x0000_0100_0000_01B3
            h ^= h >> 29
        }
        self.hash = h
        self.tokens = tokens
    }
}

/// Counters of the pool's reuse cache.
public struct BlockPoolStats: Sendable, Equatable {
    /// Blocks found in the reuse cache instead of being computed.
    public var reuseHits = 0
    /// Full prompt blocks looked up and not found.
    public var reuseMisses = 0
    /// Cached free blocks whose contents were dropped to make room.
    public var evictions = 0
}

/// Fixed-size KV-cache blocks handed out by id, with reference counts and a prefix-reuse cache.
///
/// Invariants (checked by ``checkInvariants()``):
/// - every block is either free (reference count 0, in the free queue exactly once) or held
///   (count ≥ 1, not in the queue);
/// - the free queue is LRU: blocks are taken from its head and released to its tail;
/// - a block is in the reuse cache under at most one key, and that key maps back to it; free
///   cached blocks keep their key until they are taken for new contents (eviction).
public struct BlockPool: Sendable {
    public let numBlocks: Int
    public private(set) var stats = BlockPoolStats()
    private var refCounts: [Int]
    // The free queue as a doubly linked list over block ids; -1 ends it.
    private var next: [Int32]
    private var previous: [Int32]
    private var head: Int32 = -1
    private var tail: Int32 = -1
    private var inFreeQueue: [Bool]
    public private(set) var freeCount: Int
    private var keyOfBlock: [BlockKey?]
    private var cache: [BlockKey: Int32] = [:]

    public init(numBlocks: Int) {
        precondition(numBlocks > 0, "a block pool needs at least one block")
        self.numBlocks = numBlocks
        refCounts = Array(repeating: 0, count: numBlocks)
        next = Array(repeating: -1, count: numBlocks)
        previous = Array(repeating: -1, count: numBlocks)
        inFreeQueue = Array(repeating: false, count: numBlocks)
        keyOfBlock = Array(repeating: nil, count: numBlocks)
        freeCount = 0
        for b in 0..<Int32(numBlocks) { pushTail(b) }
    }

    public var usedCount: Int { numBlocks - freeCount }
    /// Blocks currently holding reusable contents (held or free).
    public var cachedCount: Int { cache.count }

    /// Takes `count` blocks from the head of the free queue (least recently released first),
    /// dropping any cached contents they held. Returns nil, taking none, if fewer are free.
    public mutating func allocate(_ count: Int) -> [Int32]? {
        guard count <= freeCount else { return nil }
        var blocks: [Int32] = []
        blocks.reserveCapacity(count)
        for _ in 0..<count {
            let b = head
            remove(b)
            if let key = keyOfBlock[Int(b)] {
                cache[key] = nil
                keyOfBlock[Int(b)] = nil
                stats.evictions += 1
            }
            refCounts[Int(b)] = 1
            blocks.append(b)
        }
        return blocks
    }

    /// The cached block holding `key`'s contents, if any (held or free); does not take it.
    public func cachedBlock(_ key: BlockKey) -> Int32? { cache[key] }

    /// Takes one more reference to a block found with ``cachedBlock(_:)``, reviving it if it was free.
    /// - Precondition: `block` is in the reuse cache.
    public mutating func acquireCached(_ block: Int32) {
        precondition(keyOfBlock[Int(block)] != nil, "block \(block) is not cached")
        if refCounts[Int(block)] == 0 { remove(block) }
        refCounts[Int(block)] += 1
        stats.reuseHits += 1
    }

    /// Records lookups that found nothing.
    public mutating func recordMisses(_ count: Int) { stats.reuseMisses += count }

    /// Makes a held, full block reusable under `key`. If another block already holds the same
    /// contents, nothing changes (the first one stays the cached copy).
    /// - Precondition: `block` is held.
    public mutating func register(_ block: Int32, key: BlockKey) {
        precondition(refCounts[Int(block)] > 0, "registering free block \(block)")
        guard cache[key] == nil, keyOfBlock[Int(block)] == nil else { return }
        cache[key] = block
        keyOfBlock[Int(block)] = key
    }

    /// Drops one reference to each block, in the given order; blocks reaching zero join the
    /// tail of the free queue (keeping cached contents until evicted).
    /// - Precondition: each block is held.
    public mutating func release(_ blocks: [Int32]) {
        for b in blocks {
            precondition(refCounts[Int(b)] > 0, "block \(b) released while free")
            refCounts[Int(b)] -= 1
            if refCounts[Int(b)] == 0 { pushTail(b) }
        }
    }

    /// Reference count of `block` (0 when free).
    public func referenceCount(_ block: Int32) -> Int { refCounts[Int(block)] }

    /// Free blocks from head (next to be taken) to tail.
    public var freeQueue: [Int32] {
        var out: [Int32] = []
        var b = head
        while b >= 0 { out.append(b); b = next[Int(b)] }
        return out
    }

    /// Describes the first broken invariant, or nil.
    public func checkInvariants() -> String? {
        let queue = freeQueue
        guard queue.count == freeCount else { return "free queue holds \(queue.count) blocks, count says \(freeCount)" }
        var seen = Set<Int32>()
        for b in queue {
            guard seen.insert(b).inserted else { return "block \(b) is in the free queue twice" }
            guard refCounts[Int(b)] == 0 else { return "free block \(b) has \(refCounts[Int(b)]) references" }
        }
        for b in 0..<numBlocks where refCounts[b] == 0 && !seen.contains(Int32(b)) {
            return "block \(b) has no references but is not in the free queue"
        }
        for (key, b) in cache where keyOfBlock[Int(b)] != key { return "cache entry for block \(b) does not match its key" }
        let keyed = keyOfBlock.compactMap { $0 }.count
        guard keyed == cache.count else { return "\(keyed) blocks have keys but the cache has \(cache.count)" }
        return nil
    }

    // MARK: Free queue

    private mutating func pushTail(_ b: Int32) {
        previous[Int(b)] = tail
        next[Int(b)] = -1
        if tail >= 0 { next[Int(tail)] = b } else { head = b }
        tail = b
        inFreeQueue[Int(b)] = true
        freeCount += 1
    }

    private mutating func remove(_ b: Int32) {
        precondition(inFreeQueue[Int(b)], "block \(b) is not free")
        let p = previous[Int(b)], n = next[Int(b)]
        if p >= 0 { next[Int(p)] = n } else { head = n }
        if n >= 0 { previous[Int(n)] = p } else { tail = p }
        inFreeQueue[Int(b)] = false
        freeCount -= 1
    }
}
