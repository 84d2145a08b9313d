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

    public var tokenCount: Int { sequences.reduce(0) { $0 + $1.tokens.count } }
}

/// Logits rows in batch order: for each sequence, the rows its ``ForwardBatch/LogitsRequest`` asked for.
public struct Logits: Sendable {
    public let vocabSize: Int
    public let rowCount: Int
    /// Row-major (rowCount, vocabSize).
    public let values: [Float]

    public init(vocabSize: Int, rowCount: Int, values: [Float]) {
        self.vocabSize = vocabSize
        self.rowCount = rowCount
        self.values = values
    }

    public func row(_ index: Int) -> ArraySlice<Float> {
        values[index * vocabSize ..< (index + 1) * vocabSize]
    }
}
