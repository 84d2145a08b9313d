// The runtime: one request at a time over an engine and its KV cache — prefill, then decode.
import TLLMEngine

/// What a finished generation produced.
public struct GenerationResult: Sendable, Equatable {
    public var outputIDs: [Int32]
    public var finishReason: FinishReason

    public init(outputIDs: [Int32], finishReason: FinishReason) {
        self.outputIDs = outputIDs
        self.finishReason = finishReason
    }
}

/// Runs single requests (TensorRT-LLM's `GenerationSession`): prompt chunks through the engine,
/// then one token per step until a stop condition.
public final class Runtime {
    public let engine: ModelEngine
    public private(set) var kvCache: KVCacheManager
    private static let sequenceID = 0

    /// - Throws: ``RuntimeError`` if the cache configuration is invalid.
    public init(engine: ModelEngine, kvCacheConfig: KvCacheConfig = KvCacheConfig()) throws(RuntimeError) {
        self.engine = engine
        let c = engine.engine.config
        kvCache = try KVCacheManager(config: kvCacheConfig, numLayers: c.numHiddenLayers, kvDim: c.kvDim,
                                     dtype: engine.engine.buildConfig.kvCacheDType)
    }

    /// Generates up to `params.maxTokens` tokens after `promptIDs`.
    /// - Throws: ``RuntimeError`` for invalid parameters, a prompt that does not fit, or an engine error.
    public func generate(promptIDs: [Int32], params: SamplingParams) throws(RuntimeError) -> GenerationResult {
        try params.validate()
        let maxSeqLen = engine.engine.maxSeqLen
        guard !promptIDs.isEmpty else { throw RuntimeError(.invalidRequest, "the prompt has no tokens") }
        guard promptIDs.count < maxSeqLen else {
            throw RuntimeError(.invalidRequest, "the prompt has \(promptIDs.count) tokens; max_seq_len is \(maxSeqLen), so it must be shorter")
        }
        var state = SequenceState(prompt: promptIDs, params: params, maxSeqLen: maxSeqLen)
        defer { kvCache.free(Self.sequenceID) }
        guard kvCache.blocksNeeded(state.maxLength) <= kvCache.pool.numBlocks else {
            throw RuntimeError(.cacheFull, "the KV cache holds \(kvCache.capacityTokens) tokens; this request may need \(state.maxLength). Raise KvCacheConfig.maxTokens")
        }
        let chunk = engine.engine.buildConfig.maxNumTokens
        var logits = Logits()  // reused: each step overwrites it in place
        while !state.isFinished {
            let count = min(state.pending, chunk)
            let start = state.numComputed
            guard kvCache.reserve(Self.sequenceID, tokens: start + count) else {
                throw RuntimeError(.cacheFull, "the KV cache holds \(kvCache.capacityTokens) tokens; this request needs \(start + count). Raise KvCacheConfig.maxTokens")
            }
            let sequence = ForwardBatch.Sequence(tokens: Array(state.tokens[start ..< start + count]), startPosition: start,
                                                 blockTable: kvCache.blockTable(Self.sequenceID),
                                                 logits: count == state.pending ? .last : .none)
            do { try engine.forward(ForwardBatch(sequences: [sequence]), cache: kvCache.cache, into: &logits) }
            catch { throw RuntimeError(error) }
            state.numComputed += count
            if state.pending == 0 { _ = state.accept(logits: logits.row(0)) }
        }
        return GenerationResult(outputIDs: Array(state.generated), finishReason: state.finishReason!)
    }

    /// Teacher-forced logits for every position of `ids` (row j predicts `ids[j + 1]`), run in
    /// chunks of max_num_tokens.
    /// - Throws: ``RuntimeError`` for empty, out-of-vocabulary or over-long input.
    public func logits(ids: [Int32]) throws(RuntimeError) -> Logits {
        try TeacherForcing.logits(ids, engine: engine, kvCache: &kvCache, sequence: Self.sequenceID)
    }
}
