// The block pool: which KV-cache blocks are free, and how many holders each used block has.

/// Fixed-size KV-cache blocks handed out by id, with reference counts.
///
/// Invariants: every block id in `0..<numBlocks` is either in the free queue with reference
/// count 0, or out of it with a count ≥ 1; the free queue holds each id at most once and hands
/// out the least recently freed block first.
public struct BlockPool: Sendable {
    public let numBlocks: Int
    private var refCounts: [Int]
    private var freeQueue: [Int32]
    private var head = 0   // freeQueue[head...] are the free blocks, oldest first

    public init(numBlocks: Int) {
        precondition(numBlocks > 0, "a block pool needs at least one block")
        self.numBlocks = numBlocks
        refCounts = [Int](repeating: 0, count: numBlocks)
        freeQueue = (0..<Int32(numBlocks)).map { $0 }
    }

    public var freeCount: Int { freeQueue.count - head }
    public var usedCount: Int { numBlocks - freeCount }

    /// Takes `count` free blocks, or returns nil (taking none) if fewer are free.
    public mutating func allocate(_ count: Int) -> [Int32]? {
        guard count <= freeCount else { return nil }
        let blocks = Array(freeQueue[head ..< head + count])
        head += count
        for b in blocks { refCounts[Int(b)] = 1 }
        compact()
        return blocks
    }

    /// Drops one reference to each block; blocks reaching zero return to the back of the free queue.
    /// - Precondition: each block is currently allocated.
    public mutating func release(_ blocks: [Int32]) {
        for b in blocks {
            precondition(refCounts[Int(b)] > 0, "block \(b) released while free")
            refCounts[Int(b)] -= 1
            if refCounts[Int(b)] == 0 { freeQueue.append(b) }
        }
    }

    /// Reference count of `block` (0 when free).
    public func referenceCount(_ block: Int32) -> Int { refCounts[Int(block)] }

    private mutating func compact() {
        if head > 1024 && head * 2 > freeQueue.count {
            freeQueue.removeFirst(head)
            head = 0
        }
    }
}
