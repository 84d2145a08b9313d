// Batch invariance as the tests check it: every position's logits, packed versus alone.
import MiniTRTLLM
import Testing

/// Runs `sequences` (from position 0, logits at every position) packed into one forward batch and
/// then one at a time on the same paged cache, expecting every row bit-identical; returns the
/// packed logits and the cache (its blocks hold the sequences' keys and values).
func expectPackedEqualsAlone(_ engine: ModelEngine, _ sequences: [[Int32]]) throws -> (packed: Logits, cache: KVCacheManager) {
    var cache = try KVCacheManager(config: KvCacheConfig(maxTokens: 1024, tokensPerBlock: 16),
                                   numLayers: engine.engine.config.numHiddenLayers, kvDim: engine.engine.config.kvDim)
    func batchSequence(_ id: Int) -> ForwardBatch.Sequence {
        ForwardBatch.Sequence(tokens: sequences[id], startPosition: 0, blockTable: cache.blockTable(id), logits: .all)
    }
    for id in sequences.indices { #expect(cache.reserve(id, tokens: sequences[id].count) == true) }
    let packed = try engine.forward(ForwardBatch(sequences: sequences.indices.map(batchSequence)), cache: cache.cache)
    var row = 0
    for id in sequences.indices {
        let alone = try engine.forward(ForwardBatch(sequences: [batchSequence(id)]), cache: cache.cache)
        for r in 0..<alone.rowCount {
            #expect(alone.row(r).elementsEqual(packed.row(row)), "sequence \(id) row \(r) differs when packed")
            row += 1
        }
    }
    return (packed, cache)
}
