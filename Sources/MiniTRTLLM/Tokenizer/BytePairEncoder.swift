// Tokenizer boundary: rank-ordered byte-pair merging of one pre-tokenized word, on arrays of symbol ids (no strings).

/// The BPE merge engine: turns the bytes of one word into vocabulary ids.
///
/// Symbols are integers: ids below `vocabularySize` are vocabulary tokens; larger ids are strings that
/// merges mention but the vocabulary lacks (kept so merging stays exact). A word starts as one symbol per
/// byte; the adjacent pair with the lowest merge rank (leftmost on ties) is merged until none applies.
/// A final symbol outside the vocabulary falls back to one token per byte.
struct BytePairEncoder: Sendable {
    /// Number of vocabulary tokens; symbol ids at or above it are merge-only strings.
    let vocabularySize: Int
    /// `(left << 32) | right` → merge rank.
    private let ranks: [UInt64: Int32]
    /// Per rank: the pair's left symbol, right symbol, and the merged symbol.
    private let mergeLeft: [Int32]
    private let mergeRight: [Int32]
    private let mergeResult: [Int32]
    /// Per byte: the symbol a word starts with.
    private let byteSymbols: [Int32]
    /// Per byte: the vocabulary id of its one-character token, or -1.
    private let byteTokens: [Int32]
    /// Bytes of merge-only symbols, indexed by `symbol - vocabularySize`.
    private let extraSymbolBytes: [[UInt8]]
    /// Whole-word lookup for pre-tokenizers that skip merging for words in the vocabulary.
    private let wholeWords: [[UInt8]: Int32]?

    /// Builds the merge tables.
    /// - Parameters:
    ///   - tokenToID: vocabulary string (byte-level form) → id.
    ///   - merges: `"A B"` lines; line `i` has rank `i`. Repeated pairs keep their first (lowest) rank.
    ///   - wholeWords: raw bytes → id of normal tokens, when words found in the vocabulary skip merging.
    init(vocabularySize: Int, tokenToID: [String: Int32], merges: [String],
         wholeWords: [[UInt8]: Int32]?) throws(TokenizerError) {
        self.vocabularySize = vocabularySize
        var extraIDs: [String: Int32] = [:]
        var extraBytes: [[UInt8]] = []
        func intern(_ text: String) -> Int32 {
            if let id = tokenToID[text] { return id }
            if let id = extraIDs[text] { return id }
            let id = Int32(vocabularySize + extraBytes.count)
            extraIDs[text] = id
            extraBytes.append(ByteLevel.decode(text))
            return id
        }

        var byteSymbols = [Int32](repeating: -1, count: 256)
        var byteTokens = [Int32](repeating: -1, count: 256)
        for byte in 0..<256 {
            let text = String(ByteLevel.byteToScalar[byte])
            if let id = tokenToID[text] { byteTokens[byte] = id }
            byteSymbols[byte] = intern(text)
        }

        var ranks: [UInt64: Int32] = [:]
        ranks.reserveCapacity(merges.count)
        var mergeLeft: [Int32] = [], mergeRight: [Int32] = [], mergeResult: [Int32] = []
        mergeLeft.reserveCapacity(merges.count)
        mergeRight.reserveCapacity(merges.count)
        mergeResult.reserveCapacity(merges.count)
        for (rank, line) in merges.enumerated() {
            // Split at the first space after the first byte (llama.cpp: find(' ', 1)).
            let utf8 = line.utf8
            guard let space = utf8.dropFirst().firstIndex(of: 0x20) else {
                throw TokenizerError(.invalidMerge,
                    "merge \(rank) \"\(line)\" is not of the form \"A B\"; tokenizer.ggml.merges must hold one space-separated pair per line")
            }
            let left = String(line[line.startIndex..<space])
            let right = String(line[utf8.index(after: space)...])
            let leftID = intern(left), rightID = intern(right), resultID = intern(left + right)
            mergeLeft.append(leftID)
            mergeRight.append(rightID)
            mergeResult.append(resultID)
            let key = Self.pairKey(leftID, rightID)
            if ranks[key] == nil { ranks[key] = Int32(rank) }
        }
        self.ranks = ranks
        self.mergeLeft = mergeLeft
        self.mergeRight = mergeRight
        self.mergeResult = mergeResult
        self.byteSymbols = byteSymbols
        self.byteTokens = byteTokens
        self.extraSymbolBytes = extraBytes
        self.wholeWords = wholeWords
    }

    @inline(__always)
    private static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Reusable per-call buffers: symbols, linked-list links and the pair heap.
    struct Workspace {
        var symbols: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        /// Min-heap of `(rank << 32) | leftPosition`: lowest rank first, then leftmost.
        var heap: [UInt64] = []

        mutating func push(_ value: UInt64) {
            heap.append(value)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                if heap[parent] <= value { break }
                heap[child] = heap[parent]
                child = parent
            }
            heap[child] = value
        }

        mutating func pop() -> UInt64? {
            guard let last = heap.popLast() else { return nil }
            guard !heap.isEmpty else { return last }
            let top = heap[0]
            let count = heap.count
            var parent = 0
            while true {
                var child = 2 * parent + 1
                if child >= count { break }
                if child + 1 < count && heap[child + 1] < heap[child] { child += 1 }
                if last <= heap[child] { break }
                heap[parent] = heap[child]
                parent = child
            }
            heap[parent] = last
            return top
        }
    }

    /// Appends the ids of the word `bytes[range]` to `output`.
    func encode(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                into output: inout [Int32], workspace: inout Workspace) {
        let count = range.count
        if count == 0 { return }
        if count == 1 {
            emit(byteSymbols[Int(bytes[range.lowerBound])], into: &output)
            return
        }
        if let wholeWords, let id = wholeWords[Array(bytes[range])] {
            output.append(id)
            return
        }
        workspace.symbols.removeAll(keepingCapacity: true)
        workspace.previous.removeAll(keepingCapacity: true)
        workspace.next.removeAll(keepingCapacity: true)
        workspace.heap.removeAll(keepingCapacity: true)
        for offset in 0..<count {
            workspace.symbols.append(byteSymbols[Int(bytes[range.lowerBound + offset])])
            workspace.previous.append(Int32(offset - 1))
            workspace.next.append(Int32(offset + 1))
        }
        for position in 0..<(count - 1) {
            if let rank = ranks[Self.pairKey(workspace.symbols[position], workspace.symbols[position + 1])] {
                workspace.push(UInt64(rank) << 32 | UInt64(position))
            }
        }
        while let top = workspace.pop() {
            let rank = Int(top >> 32)
            let left = Int(top & 0xFFFF_FFFF)
            let right = Int(workspace.next[left])
            // Stale entries: the left symbol was merged away or changed, or its neighbour changed.
            guard right < count, workspace.symbols[left] == mergeLeft[rank],
                  workspace.symbols[right] == mergeRight[rank] else { continue }
            workspace.symbols[left] = mergeResult[rank]
            workspace.symbols[right] = -1
            let after = Int(workspace.next[right])
            workspace.next[left] = Int32(after)
            if after < count { workspace.previous[after] = Int32(left) }
            let before = Int(workspace.previous[left])
            if before >= 0, let newRank = ranks[Self.pairKey(workspace.symbols[before], workspace.symbols[left])] {
                workspace.push(UInt64(newRank) << 32 | UInt64(before))
            }
            if after < count, let newRank = ranks[Self.pairKey(workspace.symbols[left], workspace.symbols[after])] {
                workspace.push(UInt64(newRank) << 32 | UInt64(left))
            }
        }
        var position = 0
        while position < count {
            emit(workspace.symbols[position], into: &output)
            position = Int(workspace.next[position])
        }
    }

    /// Appends `symbol` if it is a vocabulary token, else one token per byte (bytes without a token are dropped).
    @inline(__always)
    private func emit(_ symbol: Int32, into output: inout [Int32]) {
        if Int(symbol) < vocabularySize {
            output.append(symbol)
            return
        }
        for byte in extraSymbolBytes[Int(symbol) - vocabularySize] where byteTokens[Int(byte)] >= 0 {
            output.append(byteTokens[Int(byte)])
        }
    }
}
