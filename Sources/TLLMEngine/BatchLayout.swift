// Flattens and validates a ForwardBatch into the packed arrays the kernels read.
import TLLMBackend

/// A validated, packed ``ForwardBatch``: token ids, per-token sequence and position, block tables,
/// cache slots and which token rows produce logits.
struct BatchLayout {
    var tokens: [Int32] = []
    var outputRows: [Int] = []
    var attention: AttentionMetadata
    var tokenCount: Int { tokens.count }

    init(_ batch: ForwardBatch, engine: Engine, cache: PagedKVCache) throws(EngineError) {
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
        let bs = cache.tokensPerBlock
        let maxBlocks = batch.sequences.map(\.blockTable.count).max() ?? 0
        var meta = AttentionMetadata(sequenceOfToken: [], positions: [], blockTables: [], maxBlocksPerSequence: max(maxBlocks, 1),
                                     slots: [], tokensPerBlock: bs)
        meta.blockTables = [Int32](repeating: 0, count: batch.sequences.count * max(maxBlocks, 1))
        for (s, seq) in batch.sequences.enumerated() {
            guard !seq.tokens.isEmpty else { throw EngineError(.invalidBatch, "sequence \(s) has no tokens") }
            let end = seq.startPosition + seq.tokens.count
            guard seq.startPosition >= 0, end <= engine.maxSeqLen else {
                throw EngineError(.sequenceTooLong, "sequence \(s) reaches position \(end), beyond max_seq_len \(engine.maxSeqLen)")
            }
            guard seq.blockTable.count * bs >= end else {
                throw EngineError(.badBlockTable, "sequence \(s) needs \((end + bs - 1) / bs) blocks for \(end) positions but has \(seq.blockTable.count)")
            }
            for block in seq.blockTable where block < 0 || Int(block) >= cache.numBlocks {
                throw EngineError(.badBlockTable, "sequence \(s) names block \(block); the cache has blocks 0..<\(cache.numBlocks)")
            }
            for (i, block) in seq.blockTable.enumerated() { meta.blockTables[s * meta.maxBlocksPerSequence + i] = block }
            for (i, token) in seq.tokens.enumerated() {
                guard token >= 0 && Int(token) < config.vocabSize else {
                    throw EngineError(.tokenOutOfVocabulary, "sequence \(s) token \(i) is id \(token); the vocabulary has ids 0..<\(config.vocabSize)")
                }
                let position = seq.startPosition + i
                tokens.append(token)
                meta.sequenceOfToken.append(Int32(s))
                meta.positions.append(Int32(position))
                meta.slots.append(Int64(seq.blockTable[position / bs]) * Int64(bs) + Int64(position % bs))
                switch seq.logits {
                case .all: outputRows.append(tokens.count - 1)
                case .last where i == seq.tokens.count - 1: outputRows.append(tokens.count - 1)
                default: break
                }
            }
        }
        attention = meta
    }
}
