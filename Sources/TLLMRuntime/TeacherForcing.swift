// Teacher forcing: the logits of every position of a known sequence, for scoring and perplexity.
import TLLMEngine

/// Scores a token sequence with an engine, in chunks of max_num_tokens, on borrowed cache blocks.
public enum TeacherForcing {
    /// Logits for every position of `ids` (row j predicts `ids[j + 1]`). Blocks for the whole
    /// sequence are taken from `kvCache` under `sequence` and returned before this returns.
    /// - Throws: ``RuntimeError`` for empty or over-long input, too few free blocks, or an engine error.
    public static func logits(_ ids: [Int32], engine: ModelEngine, kvCache: inout KVCacheManager,
                              sequence: Int) throws(RuntimeError) -> Logits {
        guard !ids.isEmpty else { throw RuntimeError(.invalidRequest, "no token ids to score") }
        guard ids.count <= engine.engine.maxSeqLen else {
            throw RuntimeError(.invalidRequest, "\(ids.count) ids exceed max_seq_len \(engine.engine.maxSeqLen)")
        }
        defer { kvCache.free(sequence) }
        guard kvCache.reserve(sequence, tokens: ids.count) else {
            throw RuntimeError(.cacheFull, "scoring \(ids.count) tokens needs \(kvCache.blocksNeeded(ids.count)) free KV blocks; \(kvCache.pool.freeCount) are free. Raise KvCacheConfig.maxTokens")
        }
        let chunk = engine.engine.buildConfig.maxNumTokens
        var values: [Float] = []
        values.reserveCapacity(ids.count * engine.engine.config.vocabSize)
        var start = 0
        while start < ids.count {
            let end = min(start + chunk, ids.count)
            let slice = ForwardBatch.Sequence(tokens: Array(ids[start ..< end]), startPosition: start,
                                              blockTable: kvCache.blockTable(sequence), logits: .all)
            do { values += try engine.forward(ForwardBatch(sequences: [slice]), cache: kvCache.cache).values }
            catch { throw RuntimeError(error) }
            start = end
        }
        return Logits(vocabSize: engine.engine.config.vocabSize, rowCount: ids.count, values: values)
    }
}
