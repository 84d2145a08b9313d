// The memory of the paged KV cache: fixed-size blocks of keys and values for every layer.
// Which block belongs to whom is the Runtime's business (BlockPool); this is only storage.
import TLLMBackend

/// Keys and values for `numBlocks` blocks of `tokensPerBlock` tokens, per layer: float32 (slots, kvDim),
/// or int8 codes (slots, kvDim) with float32 scales (slots, kvDim / 32).
public final class PagedKVCache: @unchecked Sendable {
    public let numLayers: Int
    public let numBlocks: Int
    public let tokensPerBlock: Int
    public let kvDim: Int
    /// How keys and values are stored.
    public let dtype: KVCacheDType
    /// float32 keys and values, or the int8 cache's scales.
    private let keys: UnsafeMutablePointer<Float>
    private let values: UnsafeMutablePointer<Float>
    private let keyCodes: UnsafeMutablePointer<Int8>?
    private let valueCodes: UnsafeMutablePointer<Int8>?

    /// Values sharing one scale in an int8 cache.
    public static let int8BlockSize = 32

    /// Reserves the cache; pages are committed by the OS when first written.
    /// - Precondition: sizes are positive; for `.int8`, `kvDim` is a multiple of 32 (the Builder checks this).
    public init(numLayers: Int, numBlocks: Int, tokensPerBlock: Int, kvDim: Int, dtype: KVCacheDType = .float32) {
        precondition(numLayers > 0 && numBlocks > 0 && tokensPerBlock > 0 && kvDim > 0)
        precondition(dtype == .float32 || kvDim % Self.int8BlockSize == 0, "an int8 KV cache needs kvDim % 32 == 0")
        self.numLayers = numLayers
        self.numBlocks = numBlocks
        self.tokensPerBlock = tokensPerBlock
        self.kvDim = kvDim
        self.dtype = dtype
        let count = numLayers * numBlocks * tokensPerBlock * kvDim
        switch dtype {
        case .float32:
            keys = .allocate(capacity: count)
            values = .allocate(capacity: count)
            keyCodes = nil
            valueCodes = nil
        case .int8:
            keys = .allocate(capacity: count / Self.int8BlockSize)
            values = .allocate(capacity: count / Self.int8BlockSize)
            keyCodes = .allocate(capacity: count)
            valueCodes = .allocate(capacity: count)
        }
    }

    deinit {
        keys.deallocate()
        values.deallocate()
        keyCodes?.deallocate()
        valueCodes?.deallocate()
    }

    /// Bytes reserved for keys and values together.
    public var byteCount: Int {
        let count = numLayers * numBlocks * tokensPerBlock * kvDim
        return dtype == .float32 ? 2 * count * 4 : 2 * (count + count / Self.int8BlockSize * 4)
    }

    /// Layer `index`'s keys and values.
    public func layer(_ index: Int) -> KVLayerView {
        let offset = index * numBlocks * tokensPerBlock * kvDim
        guard let keyCodes, let valueCodes else { return KVLayerView(keys: keys + offset, values: values + offset) }
        let scales = offset / Self.int8BlockSize
        return KVLayerView(keyCodes: keyCodes + offset, keyScales: keys + scales,
                           valueCodes: valueCodes + offset, valueScales: values + scales)
    }
}
