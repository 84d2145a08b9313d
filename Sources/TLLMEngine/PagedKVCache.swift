// The memory of the paged KV cache: fixed-size blocks of keys and values for every layer.
// Which block belongs to whom is the Runtime's business (BlockPool); this is only storage.
import TLLMBackend

/// Keys and values for `numBlocks` blocks of `tokensPerBlock` tokens, per layer: float32 (slots, kvDim).
public final class PagedKVCache: @unchecked Sendable {
    public let numLayers: Int
    public let numBlocks: Int
    public let tokensPerBlock: Int
    public let kvDim: Int
    private let keys: UnsafeMutablePointer<Float>
    private let values: UnsafeMutablePointer<Float>

    /// Reserves the cache; pages are committed by the OS when first written.
    public init(numLayers: Int, numBlocks: Int, tokensPerBlock: Int, kvDim: Int) {
        precondition(numLayers > 0 && numBlocks > 0 && tokensPerBlock > 0 && kvDim > 0)
        self.numLayers = numLayers
        self.numBlocks = numBlocks
        self.tokensPerBlock = tokensPerBlock
        self.kvDim = kvDim
        let count = numLayers * numBlocks * tokensPerBlock * kvDim
        keys = .allocate(capacity: count)
        values = .allocate(capacity: count)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Bytes reserved for keys and values together.
    public var byteCount: Int { 2 * numLayers * numBlocks * tokensPerBlock * kvDim * 4 }

    /// Layer `index`'s keys and values.
    public func layer(_ index: Int) -> KVLayerView {
        let offset = index * numBlocks * tokensPerBlock * kvDim
        return KVLayerView(keys: keys + offset, values: values + offset)
    }
}
