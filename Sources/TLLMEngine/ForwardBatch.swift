// One packed forward step: the new tokens of several sequences, where they sit, and their cache blocks.

/// The sequences of one forward pass, packed together (a "ragged" batch: no padding).
public struct ForwardBatch: Sendable {
    /// Which positions of a sequence need logits.
    public enum LogitsRequest: Sendable, Equatable {
        case none
        /// Only the last new token (prefill and decode).
        case last
        /// Every new token (teacher forcing, perplexity).
        case all
    }

    /// One sequence's slice of the batch.
    public struct Sequence: Sendable {
        /// New tokens to run this step (a prompt chunk, or one decode token).
        public var tokens: [Int32]
        /// Position of `tokens[0]`; positions before it are already in the cache.
        public var startPosition: Int
        /// Cache blocks covering positions `0 ..< startPosition + tokens.count`, in order.
        public var blockTable: [Int32]
        public var logits: LogitsRequest

        public init(tokens: [Int32], startPosition: Int, blockTable: [Int32], logits: LogitsRequest = .last) {
            self.tokens = tokens
            self.startPosition = startPosition
            self.blockTable = blockTable
            self.logits = logits
        }
    }

    public var sequences: [Sequence]

    public init(sequences: [Sequence]) { self.sequences = sequences }

    public var tokenCount: Int {
        var count = 0
        for s in sequences.indices { count += sequences[s].tokens.count }
        return count
    }
}

/// Logits rows in batch order: for each sequence, the rows its ``ForwardBatch/LogitsRequest`` asked for.
///
/// A value reused with ``ModelEngine/forward(_:cache:into:)`` keeps its storage between steps.
public struct Logits: Sendable {
    public private(set) var vocabSize: Int
    public private(set) var rowCount: Int
    /// Row-major (rowCount, vocabSize).
    public private(set) var values: [Float]

    public init(vocabSize: Int, rowCount: Int, values: [Float]) {
        self.vocabSize = vocabSize
        self.rowCount = rowCount
        self.values = values
    }

    /// No rows yet: storage for ``ModelEngine/forward(_:cache:into:)`` to fill.
    public init() { self.init(vocabSize: 0, rowCount: 0, values: []) }

    public func row(_ index: Int) -> ArraySlice<Float> {
        values[index * vocabSize ..< (index + 1) * vocabSize]
    }

    /// Replaces the contents with `rows` rows of `vocabSize` floats read from `source`, in place
    /// when the storage is large enough and not shared.
    mutating func replace(rows: Int, vocabSize: Int, from source: UnsafePointer<Float>) {
        values.removeAll(keepingCapacity: true)
        values.append(contentsOf: UnsafeBufferPointer(start: source, count: rows * vocabSize))
        self.rowCount = rows
        self.vocabSize = vocabSize
    }
}
