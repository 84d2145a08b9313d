// GGUF writer: serializes metadata and tensors to GGUF v2/v3 bytes (for tests and synthesized models).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TLLMBackend

/// `write(2)`, outside the writer so its `write(to:)` method does not shadow it.
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    write(fd, p, n)
}

/// Builds a GGUF file in memory: metadata in insertion order, tensors laid out aligned in order.
///
/// If `alignment` is not 32 and no `general.alignment` entry was added, `serialize` adds one
/// (UINT32) so readers find the data.
public struct GGUFWriter {
    /// The data alignment used to lay out tensors.
    public let alignment: Int
    private var entries: [(key: String, value: GGUFValue)] = []
    private var tensors: [(name: String, shape: [Int], dtype: DType, data: [UInt8])] = []

    /// Creates an empty writer. `alignment` must be a nonzero power of two.
    public init(alignment: Int = 32) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "GGUF alignment must be a nonzero power of two, got \(alignment)")
        self.alignment = alignment
    }

    /// Appends a metadata entry (replaces the value in place if `key` was already added).
    ///
    /// Array elements must all have the same type (nested arrays may differ from each other).
    public mutating func add(_ key: String, _ value: GGUFValue) {
        GGUFWriter.checkHomogeneous(value, key: key)
        if let i = entries.firstIndex(where: { $0.key == key }) {
            entries[i].value = value
        } else {
            entries.append((key, value))
        }
    }

    /// Appends a tensor. `shape` is in ggml order (`shape[0]` is the row length) with 1...4 dimensions,
    /// and `data` must be exactly `dtype.byteCount(elements: product(shape))` bytes.
    public mutating func addTensor(name: String, shape: [Int], dtype: DType, data: [UInt8]) {
        precondition((1 ... 4).contains(shape.count), "tensor '\(name)': GGUF needs 1...4 dimensions, got \(shape.count)")
        precondition(shape.allSatisfy { $0 >= 0 }, "tensor '\(name)': negative dimension in \(shape)")
        precondition(shape[0] % dtype.blockSize == 0, "tensor '\(name)': row length \(shape[0]) is not a multiple of the \(dtype.rawValue) block size \(dtype.blockSize)")
        let expected = dtype.byteCount(elements: shape.reduce(1, *))
        precondition(expected == data.count, "tensor '\(name)': \(dtype.rawValue) \(shape) needs \(expected.map(String.init) ?? "?") bytes, got \(data.count)")
        precondition(!tensors.contains { $0.name == name }, "tensor '\(name)' added twice")
        tensors.append((name, shape, dtype, data))
    }

    /// The complete file bytes. `version` should be 2 or 3 (both use 64-bit counts).
    public func serialize(version: UInt32 = 3) -> [UInt8] {
        var out: [UInt8] = []
        var kv = entries
        if alignment != ggufDefaultAlignment && !kv.contains(where: { $0.key == "general.alignment" }) {
            kv.append(("general.alignment", .uint32(UInt32(alignment))))
        }
        out.append(contentsOf: [0x47, 0x47, 0x55, 0x46])
        GGUFWriter.put(version, into: &out)
        GGUFWriter.put(UInt64(tensors.count), into: &out)
        GGUFWriter.put(UInt64(kv.count), into: &out)
        for (key, value) in kv {
            GGUFWriter.putString(key, into: &out)
            GGUFWriter.put(value.typeID, into: &out)
            GGUFWriter.putValue(value, into: &out)
        }
        var relative = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(relative)
            relative = GGUFWriter.roundUp(relative + t.data.count, alignment)
        }
        for (t, offset) in zip(tensors, offsets) {
            GGUFWriter.putString(t.name, into: &out)
            GGUFWriter.put(UInt32(t.shape.count), into: &out)
            for d in t.shape { GGUFWriter.put(UInt64(d), into: &out) }
            GGUFWriter.put(GGMLTypeMap.ggmlType(for: t.dtype), into: &out)
            GGUFWriter.put(UInt64(offset), into: &out)
        }
        if !tensors.isEmpty {
            out.append(contentsOf: repeatElement(0, count: GGUFWriter.roundUp(out.count, alignment) - out.count))
            let dataStart = out.count
            for (t, offset) in zip(tensors, offsets) {
                out.append(contentsOf: repeatElement(0, count: dataStart + offset - out.count))
                out.append(contentsOf: t.data)
            }
        }
        return out
    }

    /// Serializes (version 3) and writes the file at `path`, replacing it.
    ///
    /// - Throws: `GGUFError` with code `.io` naming the path and the system error.
    public func write(to path: String) throws {
        let bytes = serialize()
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw GGUFError(.io, "cannot create '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { _ = close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                posixWrite(fd, buf.baseAddress! + written, buf.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw GGUFError(.io, "cannot write '\(path)': \(String(cString: strerror(errno)))")
            }
            written += n
        }
    }

    // MARK: - Encoding

    private static func roundUp(_ x: Int, _ a: Int) -> Int { (x + a - 1) / a * a }

    private static func put<T: FixedWidthInteger>(_ v: T, into out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func putString(_ s: String, into out: inout [UInt8]) {
        let utf8 = Array(s.utf8)
        put(UInt64(utf8.count), into: &out)
        out.append(contentsOf: utf8)
    }

    private static func putValue(_ value: GGUFValue, into out: inout [UInt8]) {
        switch value {
        case .uint8(let v): put(v, into: &out)
        case .int8(let v): put(v, into: &out)
        case .uint16(let v): put(v, into: &out)
        case .int16(let v): put(v, into: &out)
        case .uint32(let v): put(v, into: &out)
        case .int32(let v): put(v, into: &out)
        case .uint64(let v): put(v, into: &out)
        case .int64(let v): put(v, into: &out)
        case .float32(let v): put(v.bitPattern, into: &out)
        case .float64(let v): put(v.bitPattern, into: &out)
        case .bool(let v): out.append(v ? 1 : 0)
        case .string(let s): putString(s, into: &out)
        case .array(let elements):
            // Element type from the first element; an empty array is written as UINT32 with count 0.
            put(elements.first?.typeID ?? 4, into: &out)
            put(UInt64(elements.count), into: &out)
            for e in elements { putValue(e, into: &out) }
        }
    }

    private static func checkHomogeneous(_ value: GGUFValue, key: String) {
        guard case .array(let elements) = value else { return }
        if let first = elements.first {
            precondition(elements.allSatisfy { $0.typeID == first.typeID },
                         "GGUF array '\(key)' mixes element types; all elements must share one type")
        }
        for e in elements { checkHomogeneous(e, key: key) }
    }
}
