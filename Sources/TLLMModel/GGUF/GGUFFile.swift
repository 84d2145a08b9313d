// GGUF reader: parses header, metadata and tensor infos from mapped bytes with bounds-checked reads; no tensor math.

import TLLMBackend

/// One tensor's description from a GGUF file.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. "blk.0.attn_q.weight".
    public let name: String
    /// Dimensions in GGUF/ggml order: `shape[0]` is the innermost (contiguous) dimension, the row length.
    public let shape: [Int]
    /// The element type.
    public let dtype: DType
    /// Absolute byte offset of the tensor's data in the file.
    public let offset: Int
    /// Size of the tensor's data in bytes.
    public let byteCount: Int

    /// Creates a tensor description.
    public init(name: String, shape: [Int], dtype: DType, offset: Int, byteCount: Int) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.offset = offset
        self.byteCount = byteCount
    }

    /// The number of elements (product of `shape`).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// Mapping between ggml tensor type ids and `DType`.
enum GGMLTypeMap {
    static func dtype(forGGMLType id: UInt32) -> DType? {
        switch id {
        case 0: .f32
        case 1: .f16
        case 2: .q4_0
        case 3: .q4_1
        case 8: .q8_0
        case 24: .int8
        case 30: .bf16
        default: nil
        }
    }

    static func ggmlType(for dtype: DType) -> UInt32 {
        switch dtype {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q4_1: 3
        case .q8_0: 8
        case .int8: 24
        case .bf16: 30
        case .int8Row, .int4G32, .int4G64, .int4G128, .fp8Row, .q4_0x8, .q4_1x8, .q8_0x8, .q4_0x8g, .q4_1x8g, .q8_0x8g:
            preconditionFailure("\(dtype.rawValue) is an engine format with no GGUF type")
        }
    }

    static func name(ofGGMLType id: UInt32) -> String {
        switch id {
        case 0: "F32"
        case 1: "F16"
        case 2: "Q4_0"
        case 3: "Q4_1"
        case 6: "Q5_0"
        case 7: "Q5_1"
        case 8: "Q8_0"
        case 9: "Q8_1"
        case 10: "Q2_K"
        case 11: "Q3_K"
        case 12: "Q4_K"
        case 13: "Q5_K"
        case 14: "Q6_K"
        case 15: "Q8_K"
        case 24: "I8"
        case 25: "I16"
        case 26: "I32"
        case 27: "I64"
        case 28: "F64"
        case 30: "BF16"
        default: "unknown"
        }
    }
}

/// The GGUF magic "GGUF" read as a little-endian UInt32.
let ggufMagic: UInt32 = 0x4655_4747
/// The default data alignment when `general.alignment` is absent.
let ggufDefaultAlignment = 32
/// The deepest array nesting the reader accepts.
let ggufMaxArrayDepth = 8

/// A bounds-checked little-endian reader over a byte buffer. Never reads past the end,
/// never traps on overflow, never allocates more than the remaining bytes could justify.
struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - position }

    /// Throws `.truncated` unless `n` more bytes are available.
    func need(_ n: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        guard n >= 0, n <= remaining else {
            throw GGUFError(.truncated, "file ends at byte \(bytes.count) while reading \(what()) at byte offset \(position) (needs \(n) bytes, \(remaining) left); the file is truncated — re-download or re-export it")
        }
    }

    /// Checks that `count` items of at least `minSize` bytes each could fit; otherwise
    /// `.absurdCount` if they could not fit even in the whole file, `.truncated` if only the rest is short.
    func needItems(_ count: UInt64, minSize: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        let (total, overflow) = UInt64(minSize).multipliedReportingOverflow(by: count)
        if overflow || total > UInt64(bytes.count) {
            throw GGUFError(.absurdCount, "\(what()) at byte offset \(position) is \(count), which needs \(overflow ? "more than 2^64" : "at least \(total)") bytes but the whole file has \(bytes.count); the value is corrupt")
        }
        if total > UInt64(remaining) {
            throw GGUFError(.truncated, "\(what()) at byte offset \(position) is \(count), which needs at least \(total) bytes but only \(remaining) remain; the file is truncated — re-download or re-export it")
        }
    }

    mutating func skip(_ n: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        try need(n, what())
        position += n
    }

    mutating func readU8(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt8 {
        try need(1, what())
        defer { position += 1 }
        return bytes[position]
    }

    mutating func readU16(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt16 {
        try need(2, what())
        defer { position += 2 }
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt16.self))
    }

    mutating func readU32(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt32 {
        try need(4, what())
        defer { position += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    mutating func readU64(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt64 {
        try need(8, what())
        defer { position += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    /// Reads a GGUF string: uint64 byte length, then that many UTF-8 bytes.
    mutating func readString(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let start = position
        let length = try readU64("the length of \(what())")
        if length > UInt64(bytes.count) {
            throw GGUFError(.absurdLength, "\(what()) at byte offset \(start) claims length \(length) but the whole file has \(bytes.count) bytes; the length field is corrupt")
        }
        let n = Int(length)
        try need(n, what())
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position ..< position + n])
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw GGUFError(.invalidUTF8, "\(what()) at byte offset \(start) (\(n) bytes) is not valid UTF-8; the file is corrupt or was written by a broken exporter")
        }
        position += n
        return s
    }
}

/// A parsed GGUF file: header, metadata, tensor infos, and the mapping that holds the tensor data.
///
/// Parsing validates every count, length, type, shape and offset against the file's size, so a
/// damaged file produces a `GGUFError` instead of a crash or a huge allocation. Tensor data is not
/// copied: `tensorData(_:)` returns a slice of the mapping.
public struct GGUFFile: Sendable {
    /// The format version (2 or 3).
    public let version: UInt32
    /// The data alignment in bytes (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute byte offset of the tensor data section.
    public let dataOffset: Int
    /// All metadata entries by key.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor descriptions in file order.
    public let tensors: [GGUFTensorInfo]
    /// The bytes the file was parsed from; keeps the mapping alive for `tensorData(_:)`.
    public let storage: MappedFile
    private let tensorIndex: [String: Int]

    /// Maps and parses the GGUF file at `path`.
    ///
    /// - Throws: `GGUFError` with code `.io` if the file cannot be mapped, or the parse error.
    public init(path: String) throws(GGUFError) {
        let storage: MappedFile
        do {
            storage = try MappedFile(path: path)
        } catch {
            throw GGUFError(.io, "\(error.message); check the model path")
        }
        do {
            try self.init(storage: storage)
        } catch {
            throw GGUFError(error.code, "\(path): \(error.message)")
        }
    }

    /// Parses GGUF bytes already in memory or mapped.
    ///
    /// - Throws: `GGUFError` describing the first problem found.
    public init(storage: MappedFile) throws(GGUFError) {
        self.storage = storage
        let bytes = storage.bytes
        var c = GGUFCursor(bytes)

        // Header.
        let magic = try c.readU32("the magic")
        guard magic == ggufMagic else {
            let shown = (0 ..< 4).map { i in String(UInt8(truncatingIfNeeded: magic >> (8 * UInt32(i))), radix: 16) }.joined(separator: " ")
            throw GGUFError(.badMagic, "bytes 0..<4 are [\(shown)], not \"GGUF\" (47 47 55 46); this is not a GGUF file")
        }
        let version = try c.readU32("the version")
        guard version == 2 || version == 3 else {
            let hint: String
            if version == 1 {
                hint = "version 1 used 32-bit counts and is not supported; re-convert the model with a current llama.cpp"
            } else if version & 0xFFFF == 0 && version != 0 {
                hint = "this looks like a big-endian GGUF, which is not supported; use a little-endian export"
            } else {
                hint = "only versions 2 and 3 are supported"
            }
            throw GGUFError(.unsupportedVersion, "version at byte offset 4 is \(version); \(hint)")
        }
        self.version = version
        let tensorCount = try c.readU64("the tensor count")
        let kvCount = try c.readU64("the metadata key/value count")
        // A count that could not fit in the rest of the file even at one byte per item is corrupt.
        // Smaller counts are checked lazily: a file that ends early then fails with `.truncated`
        // where it ends. Capacity is reserved only for what the remaining bytes could hold.
        guard tensorCount <= UInt64(c.remaining) else {
            throw GGUFError(.absurdCount, "the tensor count at byte offset 8 is \(tensorCount), but only \(c.remaining) bytes follow the header (each tensor info needs at least 32); the count is corrupt")
        }
        guard kvCount <= UInt64(c.remaining) else {
            throw GGUFError(.absurdCount, "the metadata key/value count at byte offset 16 is \(kvCount), but only \(c.remaining) bytes follow the header (each entry needs at least 13); the count is corrupt")
        }

        // Metadata.
        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        metadata.reserveCapacity(min(Int(kvCount), c.remaining / 13))
        keys.reserveCapacity(min(Int(kvCount), c.remaining / 13))
        for i in 0 ..< Int(kvCount) {
            let keyOffset = c.position
            let key = try c.readString("metadata key #\(i)")
            if metadata[key] != nil {
                throw GGUFError(.duplicateKey, "metadata key '\(key)' (entry #\(i), byte offset \(keyOffset)) appears twice; the file is corrupt")
            }
            let typeOffset = c.position
            let type = try c.readU32("the value type of '\(key)'")
            let value = try GGUFFile.readValue(&c, type: type, typeOffset: typeOffset, key: key, depth: 0)
            metadata[key] = value
            keys.append(key)
        }
        self.metadata = metadata
        self.metadataKeys = keys

        // Alignment.
        var alignment = ggufDefaultAlignment
        if let a = metadata["general.alignment"] {
            guard let v = a.intValue else {
                throw GGUFError(.badAlignment, "'general.alignment' has type \(a.typeName), expected UINT32; the file is corrupt")
            }
            guard v > 0, v & (v - 1) == 0 else {
                throw GGUFError(.badAlignment, "'general.alignment' is \(v), expected a nonzero power of two (usually 32); the file is corrupt")
            }
            alignment = v
        }
        self.alignment = alignment

        // Tensor infos (offsets relative to the data section for now).
        var raw: [(name: String, shape: [Int], dtype: DType, rel: Int, bytes: Int)] = []
        raw.reserveCapacity(min(Int(tensorCount), c.remaining / 32))
        var index: [String: Int] = [:]
        index.reserveCapacity(min(Int(tensorCount), c.remaining / 32))
        for i in 0 ..< Int(tensorCount) {
            let infoOffset = c.position
            let name = try c.readString("the name of tensor #\(i)")
            if index[name] != nil {
                throw GGUFError(.duplicateTensor, "tensor name '\(name)' (tensor #\(i), byte offset \(infoOffset)) appears twice; the file is corrupt")
            }
            let dimsOffset = c.position
            let nDims = try c.readU32("n_dims of tensor '\(name)'")
            guard (1 ... 4).contains(nDims) else {
                throw GGUFError(.badDimensions, "tensor '\(name)' has n_dims \(nDims) at byte offset \(dimsOffset); expected 1...4")
            }
            var shape: [Int] = []
            shape.reserveCapacity(Int(nDims))
            var elements = 1
            for d in 0 ..< Int(nDims) {
                let ne = try c.readU64("ne[\(d)] of tensor '\(name)'")
                guard let n = Int(exactly: ne) else {
                    throw GGUFError(.shapeMismatch, "tensor '\(name)' has ne[\(d)] = \(ne), which overflows; the file is corrupt")
                }
                let (p, o) = elements.multipliedReportingOverflow(by: n)
                if o {
                    throw GGUFError(.shapeMismatch, "tensor '\(name)' has shape \(shape + [n]) whose element count overflows; the file is corrupt")
                }
                elements = p
                shape.append(n)
            }
            let typeOffset = c.position
            let typeID = try c.readU32("the type of tensor '\(name)'")
            guard let dtype = GGMLTypeMap.dtype(forGGMLType: typeID) else {
                throw GGUFError(.unknownTensorType, "tensor '\(name)' has ggml type \(typeID) (\(GGMLTypeMap.name(ofGGMLType: typeID))) at byte offset \(typeOffset); supported types are F32, F16, BF16, I8, Q4_0, Q4_1, Q8_0 — re-quantize the model to one of them")
            }
            guard shape[0] % dtype.blockSize == 0 else {
                throw GGUFError(.shapeMismatch, "tensor '\(name)' of type \(dtype.rawValue) has row length ne[0] = \(shape[0]), not a multiple of the block size \(dtype.blockSize)")
            }
            guard let byteCount = dtype.byteCount(elements: elements) else {
                throw GGUFError(.shapeMismatch, "tensor '\(name)' of type \(dtype.rawValue) with shape \(shape) has a byte size that overflows; the file is corrupt")
            }
            let relOffsetAt = c.position
            let rel = try c.readU64("the data offset of tensor '\(name)'")
            guard let relInt = Int(exactly: rel), rel <= UInt64(bytes.count) else {
                throw GGUFError(.tensorOutOfBounds, "tensor '\(name)' has data offset \(rel) (byte offset \(relOffsetAt)), beyond the end of the \(bytes.count)-byte file; the file is corrupt or truncated")
            }
            guard relInt % alignment == 0 else {
                throw GGUFError(.badAlignment, "tensor '\(name)' has data offset \(rel) (byte offset \(relOffsetAt)), not a multiple of the alignment \(alignment); the file is corrupt")
            }
            index[name] = i
            raw.append((name, shape, dtype, relInt, byteCount))
        }

        // Data section.
        let (padded, o) = c.position.addingReportingOverflow(alignment - 1)
        guard !o else {
            throw GGUFError(.badAlignment, "alignment \(alignment) overflows the data section offset; the file is corrupt")
        }
        let dataOffset = padded & ~(alignment - 1)
        self.dataOffset = dataOffset

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(raw.count)
        for t in raw {
            let (start, o1) = dataOffset.addingReportingOverflow(t.rel)
            let (end, o2) = start.addingReportingOverflow(t.bytes)
            guard !o1, !o2, end <= bytes.count else {
                throw GGUFError(.tensorOutOfBounds, "tensor '\(t.name)' (\(t.dtype.rawValue) \(t.shape), \(t.bytes) bytes at data offset \(t.rel)) ends at byte \(o1 || o2 ? "past 2^63" : String(end)), past the end of the \(bytes.count)-byte file; the file is truncated — re-download or re-export it")
            }
            tensors.append(GGUFTensorInfo(name: t.name, shape: t.shape, dtype: t.dtype, offset: start, byteCount: t.bytes))
        }
        self.tensors = tensors
        self.tensorIndex = index
    }

    /// Reads one value of GGUF type `type` (the cursor is just past the type field).
    private static func readValue(_ c: inout GGUFCursor, type: UInt32, typeOffset: Int, key: String, depth: Int) throws(GGUFError) -> GGUFValue {
        switch type {
        case 0: return .uint8(try c.readU8("the UINT8 value of '\(key)'"))
        case 1: return .int8(Int8(bitPattern: try c.readU8("the INT8 value of '\(key)'")))
        case 2: return .uint16(try c.readU16("the UINT16 value of '\(key)'"))
        case 3: return .int16(Int16(bitPattern: try c.readU16("the INT16 value of '\(key)'")))
        case 4: return .uint32(try c.readU32("the UINT32 value of '\(key)'"))
        case 5: return .int32(Int32(bitPattern: try c.readU32("the INT32 value of '\(key)'")))
        case 6: return .float32(Float(bitPattern: try c.readU32("the FLOAT32 value of '\(key)'")))
        case 7: return .bool(try c.readU8("the BOOL value of '\(key)'") != 0)
        case 8: return .string(try c.readString("the STRING value of '\(key)'"))
        case 10: return .uint64(try c.readU64("the UINT64 value of '\(key)'"))
        case 11: return .int64(Int64(bitPattern: try c.readU64("the INT64 value of '\(key)'")))
        case 12: return .float64(Double(bitPattern: try c.readU64("the FLOAT64 value of '\(key)'")))
        case 9:
            guard depth < ggufMaxArrayDepth else {
                throw GGUFError(.absurdCount, "the value of '\(key)' nests arrays deeper than \(ggufMaxArrayDepth) levels (byte offset \(typeOffset)); the file is corrupt")
            }
            let elemTypeOffset = c.position
            let elemType = try c.readU32("the array element type of '\(key)'")
            let minSize: Int
            switch elemType {
            case 0, 1, 7: minSize = 1
            case 2, 3: minSize = 2
            case 4, 5, 6: minSize = 4
            case 8, 10, 11, 12: minSize = 8
            case 9: minSize = 12
            default:
                throw GGUFError(.unknownValueType, "the array '\(key)' has element type \(elemType) at byte offset \(elemTypeOffset); valid types are 0...12 — the file is corrupt or from a newer GGUF")
            }
            let count = try c.readU64("the array length of '\(key)'")
            try c.needItems(count, minSize: minSize, "the length of array '\(key)'")
            var elements: [GGUFValue] = []
            elements.reserveCapacity(Int(count))
            for _ in 0 ..< Int(count) {
                elements.append(try readValue(&c, type: elemType, typeOffset: elemTypeOffset, key: key, depth: depth + 1))
            }
            return .array(elements)
        default:
            throw GGUFError(.unknownValueType, "metadata key '\(key)' has value type \(type) at byte offset \(typeOffset); valid types are 0...12 — the file is corrupt or from a newer GGUF")
        }
    }

    /// The tensor named `name`, or `nil`.
    public func tensorInfo(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The bytes of a tensor of this file, as a slice of the mapping (no copy).
    ///
    /// Valid while this `GGUFFile` (or its `storage`) is alive. `info` must come from this file.
    public func tensorData(_ info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        precondition(info.offset >= 0 && info.byteCount >= 0 && info.offset <= storage.count - info.byteCount,
                     "tensor '\(info.name)' does not lie inside this GGUF file")
        return UnsafeRawBufferPointer(rebasing: storage.bytes[info.offset ..< info.offset + info.byteCount])
    }

    /// The raw metadata value for `key`, or `nil`.
    public func value(_ key: String) -> GGUFValue? { metadata[key] }

    private func require(_ key: String) throws(GGUFError) -> GGUFValue {
        guard let v = metadata[key] else {
            throw GGUFError(.missingKey, "metadata key '\(key)' is missing; the model file lacks a required hyperparameter")
        }
        return v
    }

    /// The integer value of `key`.
    /// - Throws: `.missingKey` if absent, `.wrongType` if not an integer.
    public func int(_ key: String) throws(GGUFError) -> Int {
        let v = try require(key)
        guard let i = v.intValue else {
            throw GGUFError(.wrongType, "metadata key '\(key)' has type \(v.typeName), expected an integer")
        }
        return i
    }

    /// The numeric value of `key` (float or integer) as `Double`.
    /// - Throws: `.missingKey` if absent, `.wrongType` if not a number.
    public func float(_ key: String) throws(GGUFError) -> Double {
        let v = try require(key)
        guard let f = v.floatValue else {
            throw GGUFError(.wrongType, "metadata key '\(key)' has type \(v.typeName), expected a number")
        }
        return f
    }

    /// The string value of `key`.
    /// - Throws: `.missingKey` if absent, `.wrongType` if not a string.
    public func string(_ key: String) throws(GGUFError) -> String {
        let v = try require(key)
        guard let s = v.stringValue else {
            throw GGUFError(.wrongType, "metadata key '\(key)' has type \(v.typeName), expected STRING")
        }
        return s
    }

    /// The boolean value of `key`.
    /// - Throws: `.missingKey` if absent, `.wrongType` if not a bool.
    public func bool(_ key: String) throws(GGUFError) -> Bool {
        let v = try require(key)
        guard let b = v.boolValue else {
            throw GGUFError(.wrongType, "metadata key '\(key)' has type \(v.typeName), expected BOOL")
        }
        return b
    }

    /// The array-of-strings value of `key`.
    /// - Throws: `.missingKey` if absent, `.wrongType` if not an array of strings.
    public func strings(_ key: String) throws(GGUFError) -> [String] {
        let elements = try array(key)
        var out: [String] = []
        out.reserveCapacity(elements.count)
        for (i, e) in elements.enumerated() {
            guard let s = e.stringValue else {
                throw GGUFError(.wrongType, "metadata array '\(key)' element \(i) has type \(e.typeName), expected STRING")
            }
            out.append(s)
        }
        return out
    }

    /// The array-of-integers value of `key`.
    /// - Throws: `.missingKey` if absent, `.wrongType` if not an array of integers.
    public func ints(_ key: String) throws(GGUFError) -> [Int] {
        let elements = try array(key)
        var out: [Int] = []
        out.reserveCapacity(elements.count)
        for (i, e) in elements.enumerated() {
            guard let v = e.intValue else {
                throw GGUFError(.wrongType, "metadata array '\(key)' element \(i) has type \(e.typeName), expected an integer")
            }
            out.append(v)
        }
        return out
    }

    /// The array-of-numbers value of `key` as `Double`s.
    /// - Throws: `.missingKey` if absent, `.wrongType` if not an array of numbers.
    public func floats(_ key: String) throws(GGUFError) -> [Double] {
        let elements = try array(key)
        var out: [Double] = []
        out.reserveCapacity(elements.count)
        for (i, e) in elements.enumerated() {
            guard let v = e.floatValue else {
                throw GGUFError(.wrongType, "metadata array '\(key)' element \(i) has type \(e.typeName), expected a number")
            }
            out.append(v)
        }
        return out
    }

    private func array(_ key: String) throws(GGUFError) -> [GGUFValue] {
        let v = try require(key)
        guard let a = v.arrayValue else {
            throw GGUFError(.wrongType, "metadata key '\(key)' has type \(v.typeName), expected ARRAY")
        }
        return a
    }
}
