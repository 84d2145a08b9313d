// The element types a tensor can hold. The backend knows bytes and blocks, nothing about models.

/// A tensor element type: plain floats and integers, and the GGUF block-quantized formats.
///
/// Block formats store `blockSize` consecutive elements of a row in `bytesPerBlock` bytes;
/// a row's element count must be a multiple of `blockSize`.
public enum DType: String, Sendable, Codable, CaseIterable {
    case f32, f16, bf16, int8
    /// GGUF Q4_0: fp16 scale `d`, 32 4-bit values; x = d * (q - 8).
    case q4_0
    /// GGUF Q4_1: fp16 scale `d`, fp16 minimum `m`, 32 4-bit values; x = d * q + m.
    case q4_1
    /// GGUF Q8_0: fp16 scale `d`, 32 int8 values; x = d * q.
    case q8_0

    /// Elements per block (1 for plain types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .int8: 1
        case .q4_0, .q4_1, .q8_0: 32
        }
    }

    /// Bytes per block (the element size for plain types).
    public var bytesPerBlock: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .int8: 1
        case .q4_0: 18
        case .q4_1: 20
        case .q8_0: 34
        }
    }

    /// Whether this is a block-quantized GGUF format.
    public var isBlockQuantized: Bool { blockSize > 1 }

    /// Bytes taken by `count` elements, or `nil` if `count` is not a whole number of blocks
    /// or the size would overflow.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }
}
