// The element types a tensor can hold. The backend knows bytes and blocks, nothing about models.

/// A tensor element type: plain floats and integers, the GGUF block-quantized formats and the
/// engine's own weight-only quantization formats.
///
/// Block formats store `blockSize` consecutive elements of a row in `bytesPerBlock` bytes;
/// a row's element count must be a multiple of `blockSize`. Row-scaled formats (`int8Row`,
/// `fp8Row`) start every row with a 4-byte float32 scale: use ``rowBytes(_:)``.
public enum DType: String, Sendable, Codable, CaseIterable {
    case f32, f16, bf16, int8
    /// GGUF Q4_0: fp16 scale `d`, 32 4-bit values; x = d * (q - 8).
    case q4_0
    /// GGUF Q4_1: fp16 scale `d`, fp16 minimum `m`, 32 4-bit values; x = d * q + m.
    case q4_1
    /// GGUF Q8_0: fp16 scale `d`, 32 int8 values; x = d * q.
    case q8_0
    /// W8A16: a row is a float32 scale then one int8 per element; x = scale * q, |q| ≤ 127.
    case int8Row = "int8_row"
    /// W4A16, groups of 32: per group an fp16 scale `d`, an fp16 minimum `m` and 16 bytes of
    /// nibbles (element j low, element j + 16 high); x = d * q + m. The same bytes as Q4_1.
    case int4G32 = "int4_g32"
    /// W4A16, groups of 64 (4 + 32 bytes per group, same layout).
    case int4G64 = "int4_g64"
    /// W4A16, groups of 128 (4 + 64 bytes per group, same layout).
    case int4G128 = "int4_g128"
    /// FP8: a row is a float32 scale then one E4M3 byte per element; x = scale * e4m3(q).
    case fp8Row = "fp8_e4m3_row"
    /// GGUF Q4_0 blocks with every 8 rows interleaved (the layout is in tllm_kernels.h), which the
    /// int8-input kernels (W4A8) stream best. Same bytes per row; the row count is a multiple of 8;
    /// single rows read out with `tllm_matrix_row`. Float32 inputs work too, through a slower
    /// path (engines built before ``q4_0x8g`` existed).
    case q4_0x8 = "q4_0_x8"
    /// GGUF Q4_1 blocks with every 8 rows interleaved (as ``q4_0x8``).
    case q4_1x8 = "q4_1_x8"
    /// GGUF Q8_0 blocks with every 8 rows interleaved (as ``q4_0x8``; W8A8).
    case q8_0x8 = "q8_0_x8"
    /// GGUF Q4_0 blocks interleaved in 8-row blocks and grouped 8 row blocks at a time in the order
    /// the float32-input kernel reads them (tllm_kernels.h), so it streams each group front to
    /// back: the codes multiplied as they are, the block scale applied once per block. Same bytes
    /// per row; the row count is a multiple of 8; single rows read out with `tllm_matrix_row`.
    case q4_0x8g = "q4_0_x8g"
    /// GGUF Q4_1 blocks, grouped (as ``q4_0x8g``).
    case q4_1x8g = "q4_1_x8g"
    /// GGUF Q8_0 blocks, grouped (as ``q4_0x8g``).
    case q8_0x8g = "q8_0_x8g"

    /// Elements per block (1 for plain types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .int8, .int8Row, .fp8Row: 1
        case .q4_0, .q4_1, .q8_0, .int4G32, .q4_0x8, .q4_1x8, .q8_0x8, .q4_0x8g, .q4_1x8g, .q8_0x8g: 32
        case .int4G64: 64
        case .int4G128: 128
        }
    }

    /// Bytes per block (the element size for plain types).
    public var bytesPerBlock: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .int8, .int8Row, .fp8Row: 1
        case .q4_0, .q4_0x8, .q4_0x8g: 18
        case .q4_1, .q4_1x8, .q4_1x8g: 20
        case .q8_0, .q8_0x8, .q8_0x8g: 34
        case .int4G32: 20
        case .int4G64: 36
        case .int4G128: 68
        }
    }

    /// Bytes at the start of every row before its elements (the float32 scale of `int8Row` and `fp8Row`).
    public var rowHeaderBytes: Int {
        switch self {
        case .int8Row, .fp8Row: 4
        default: 0
        }
    }

    /// The int4 group size (32, 64 or 128), or nil for other types.
    public var int4GroupSize: Int? {
        switch self {
        case .int4G32: 32
        case .int4G64: 64
        case .int4G128: 128
        default: nil
        }
    }

    /// Rows stored together (8 for the interleaved formats): a tensor's row count must be a multiple.
    public var rowsInterleaved: Int { interleavedBase == nil ? 1 : 8 }

    /// Rows a tensor of this type must hold for another's bytes appended to its own to be their
    /// row concatenation: 64 for the grouped formats (a group of 8 row blocks; a matrix's last group
    /// may be partial), 8 for the 8-row interleaved ones, 1 for row-major types.
    public var rowsPerStoredGroup: Int {
        switch self {
        case .q4_0x8g, .q4_1x8g, .q8_0x8g: 64
        default: rowsInterleaved
        }
    }

    /// The GGUF format an interleaved format was made from (nil for every other type).
    public var interleavedBase: DType? {
        switch self {
        case .q4_0x8, .q4_0x8g: .q4_0
        case .q4_1x8, .q4_1x8g: .q4_1
        case .q8_0x8, .q8_0x8g: .q8_0
        default: nil
        }
    }

    /// The interleaved format of a GGUF Q4_0, Q4_1 or Q8_0 type (nil for every other type): the
    /// grouped one (``q4_1x8g``, …) for float32 activations, the 8-row one (``q4_1x8``, …) for int8.
    public func interleaved(for activations: ActivationPrecision) -> DType? {
        switch (self, activations) {
        case (.q4_0, .float32): .q4_0x8g
        case (.q4_1, .float32): .q4_1x8g
        case (.q8_0, .float32): .q8_0x8g
        case (.q4_0, .int8): .q4_0x8
        case (.q4_1, .int8): .q4_1x8
        case (.q8_0, .int8): .q8_0x8
        default: nil
        }
    }

    /// Whether this is a block-quantized GGUF format.
    public var isBlockQuantized: Bool { blockSize > 1 }

    /// Bytes taken by `count` elements, or `nil` if `count` is not a whole number of blocks
    /// or the size would overflow.
    /// Row-scaled types (``rowHeaderBytes`` > 0) need the row length: they return nil here.
    public func byteCount(elements count: Int) -> Int? {
        guard rowHeaderBytes == 0, count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }

    /// Bytes one row of `rowLength` elements takes, or nil if the length is not a whole number
    /// of blocks (or is negative).
    public func rowBytes(_ rowLength: Int) -> Int? {
        guard rowLength >= 0, rowLength % blockSize == 0, rowLength < 1 << 40 else { return nil }
        return rowHeaderBytes + rowLength / blockSize * bytesPerBlock
    }

    /// Bytes a tensor of `shape` (row-major, rows of `shape.last` elements) takes, or nil if a
    /// dimension is negative, the rows are not whole blocks (or, interleaved, whole row groups),
    /// or the size overflows.
    public func byteCount(shape: [Int]) -> Int? {
        guard shape.allSatisfy({ $0 >= 0 }) else { return nil }
        let rowLength = shape.last ?? 1
        guard let perRow = rowBytes(rowLength) else { return nil }
        var rows = 1
        for d in shape.dropLast() {
            let (r, overflow) = rows.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            rows = r
        }
        guard rows % rowsInterleaved == 0 else { return nil }
        let (bytes, overflow) = rows.multipliedReportingOverflow(by: perRow)
        return overflow ? nil : bytes
    }
}
