// Flattens and validates a ForwardBatch into the packed arrays the kernels read.
import TLLMBackend

/// A validated, packed ``ForwardBatch``: token ids, per-token sequence and position, block tables,
/// cache slots and which token rows produce logits.
///
/// One layout is kept by its ``ModelEngine`` and refilled every step: its arrays keep their
/// capacity (reserved from the ``BuildConfig`` limits), so a step that fits allocates nothing.
struct BatchLayout {
    var tokens: [Int32] = []
    var outputRows: [Int] = []
    var attention = AttentionMetadata(sequenceOfToken: [], positions: [], blockTables: [], maxBlocksPerSequence: 1,
                                      slots: [], tokensPerBlock: 1)
    var tokenCount: Int { tokens.count }

    /// An empty layout with room for `maxNumTokens` tokens and output rows.
    init(reservingTokens maxNumTokens: Int) {
        tokens.reserveCapacity(maxNumTokens)
        outputRows.reserveCapacity(maxNumTokens)
        attention.sequenceOfToken.reserveCapacity(maxNumTokens)
        attention.positions.reserveCapacity(maxNumTokens)
        attention.slots.reserveCapacity(maxNumTokens)
    }

    /// Replaces the contents with `batch`, checked against the engine's limits and the cache.
    ///
    /// Each sequence's block table is copied only as far as its last position needs, so the packed
    /// tables hold at most `maxBatchSize × ⌈maxSeqLen / tokensPerBlock⌉` ids.
    /// - Throws: ``EngineError`` for a batch or cache the engine cannot run; the layout is then unchanged.
    mutating func load(_ batch: ForwardBatch, engine: Engine, cache: PagedKVCache) throws(EngineError) {
        let config = engine.config
        let limits = engine.buildConfig
        guard cache.numLayers == config.numHiddenLayers, cache.kvDim == config.kvDim else {
            throw EngineError(.cacheMismatch, "KV cache has \(cache.numLayers) layers of width \(cache.kvDim); the model needs \(config.numHiddenLayers) of \(config.kvDim)")
        }
        guard !batch.sequences.isEmpty else { throw EngineError(.invalidBatch, "the batch has no sequences") }
        guard batch.sequences.count <= limits.maxBatchSize else {
            throw EngineError(.tooManySequences, "\(batch.sequences.count) sequences exceed max_batch_size \(limits.maxBatchSize)")
        }
        let total = batch.tokenCount
        guard total <= limits.maxNumTokens else {
            throw EngineError(.tooManyTokens, "\(total) tokens exceed max_num_tokens \(limits.maxNumTokens); split the prompt into chunks")
        }
        // Check every sequence first, then pack: a refused batch leaves the layout as it was.
        // Index loops throughout: unlike for-in over an array, they allocate nothing in debug builds either.
        let bs = cache.tokensPerBlock
        var maxBlocks = 1
        for s in batch.sequences.indices {
            let seq = batch.sequences[s]
            guard !seq.tokens.isEmpty else { throw EngineError(.invalidBatch, "sequence \(s) has no tokens") }
            guard seq.startPosition >= 0, seq.tokens.count <= engine.maxSeqLen - seq.startPosition else {
                throw EngineError(.sequenceTooLong, "sequence \(s) reaches position \(seq.startPosition &+ seq.tokens.count), beyond max_seq_len \(engine.maxSeqLen)")
            }
            let end = seq.startPosition + seq.tokens.count
            let needed = (end + bs - 1) / bs
            guard seq.blockTable.count >= needed else {
                throw EngineError(.badBlockTable, "sequence \(s) needs \(needed) blocks for \(end) positions but has \(seq.blockTable.count)")
            }
            for i in seq.blockTable.indices where seq.blockTable[i] < 0 || Int(seq.blockTable[i]) >= cache.numBlocks {
                throw EngineError(.badBlockTable, "sequence \(s) names block \(seq.blockTable[i]); the cache has blocks 0..<\(cache.numBlocks)")
            }
            for i in seq.tokens.indices where seq.tokens[i] < 0 || Int(seq.tokens[i]) >= config.vocabSize {
                throw EngineError(.tokenOutOfVocabulary, "sequence \(s) token \(i) is id \(seq.tokens[i]); the vocabulary has ids 0..<\(config.vocabSize)")
            }
            maxBlocks = max(maxBlocks, needed)
        }
        tokens.removeAll(keepingCapacity: true)
        outputRows.removeAll(keepingCapacity: true)
        attention.sequenceOfToken.removeAll(keepingCapacity: true)
        attention.positions.removeAll(keepingCapacity: true)
        attention.slots.removeAll(keepingCapacity: true)
        attention.blockTables.removeAll(keepingCapacity: true)
        attention.blockTables.reserveCapacity(limits.maxBatchSize * ((engine.maxSeqLen + bs - 1) / bs))
        attention.tokensPerBlock = bs
        attention.maxBlocksPerSequence = maxBlocks
        for s in batch.sequences.indices {
            let seq = batch.sequences[s]
            // Row s of the (sequences, maxBlocks) tables: the blocks this step reads, then padding.
            let needed = (seq.startPosition + seq.tokens.count + bs - 1) / bs
            for i in 0..<maxBlocks { attention.blockTables.append(i < needed ? seq.blockTable[i] : 0) }
            for i in seq.tokens.indices {
                let position = seq.startPosition + i
                tokens.append(seq.tokens[i])
                attention.sequenceOfToken.append(Int32(s))
                attention.positions.append(Int32(position))
                attention.slots.append(Int64(seq.blockTable[position / bs]) * Int64(bs) + Int64(position % bs))
                switch seq.logits {
                case .all: outputRows.append(tokens.count - 1)
                case .last where i == seq.tokens.count - 1: outputRows.append(tokens.count - 1)
                default: break
                }
            }
        }
    }
}
