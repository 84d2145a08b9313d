// Tests for the GGUF reader and writer: round trips, layout, and typed errors on corrupt input.

import Foundation
import Testing
import TLLMBackend
import TLLMModel

// MARK: - Fixtures

/// Deterministic filler bytes for tensor data.
private func pattern(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
    (0 ..< count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &* 7) }
}

/// The valid file every corruption starts from.
private func makeBaseFile() -> [UInt8] {
    var w = GGUFWriter()
    w.add("general.architecture", .string("llama"))
    w.add("general.alignment", .uint32(32))
    w.add("test.u32", .uint32(7))
    w.add("test.arr", .array([.int32(1), .int32(2), .int32(3)]))
    w.add("test.strs", .array([.string("ab"), .string("cde")]))
    w.addTensor(name: "tok0", shape: [64, 2], dtype: .q4_1, data: pattern(80))
    w.addTensor(name: "norm", shape: [8], dtype: .f32, data: pattern(32, seed: 2))
    return w.serialize()
}

private let baseFile = makeBaseFile()

/// Byte offset of the first occurrence of `needle` in `hay`.
private func offset(of needle: String, in hay: [UInt8] = baseFile) -> Int {
    let n = Array(needle.utf8)
    for i in 0 ... (hay.count - n.count) where Array(hay[i ..< i + n.count]) == n {
        return i
    }
    fatalError("'\(needle)' not in fixture")
}

/// Offset of the value-type field of metadata `key` (just after the key bytes).
private func typeField(_ key: String) -> Int { offset(of: key) + key.utf8.count }
/// Offset of the value of metadata `key`.
private func valueField(_ key: String) -> Int { typeField(key) + 4 }
/// Offsets of the fields of a tensor info with `dims` dimensions.
private func tensorFields(_ name: String, dims: Int) -> (nDims: Int, ne: Int, type: Int, offset: Int) {
    let nDims = offset(of: name) + name.utf8.count
    return (nDims, nDims + 4, nDims + 4 + 8 * dims, nDims + 8 + 8 * dims)
}

private func patched<T: FixedWidthInteger>(_ bytes: [UInt8], at position: Int, _ value: T) -> [UInt8] {
    var b = bytes
    withUnsafeBytes(of: value.littleEndian) { raw in
        for (i, x) in raw.enumerated() { b[position + i] = x }
    }
    return b
}

private func readU64(_ bytes: [UInt8], at position: Int) -> UInt64 {
    (0 ..< 8).reduce(UInt64(0)) { $0 | UInt64(bytes[position + $1]) << (8 * UInt64($1)) }
}

private func parse(_ bytes: [UInt8]) throws(GGUFError) -> GGUFFile {
    try GGUFFile(storage: MappedFile(copying: bytes))
}

/// The code `body` throws, or `nil` if it returns.
private func errorCode<T>(_ body: () throws(GGUFError) -> T) -> GGUFError.Code? {
    do {
        _ = try body()
        return nil
    } catch {
        return error.code
    }
}

private func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("gguf-test-\(UUID().uuidString)-\(name)").path
}

/// One metadata value of every scalar type, arrays of each, nested and empty arrays.
private let everyValue: [(String, GGUFValue)] = [
    ("v.uint8", .uint8(250)), ("v.int8", .int8(-120)),
    ("v.uint16", .uint16(65000)), ("v.int16", .int16(-32000)),
    ("v.uint32", .uint32(4_000_000_000)), ("v.int32", .int32(-2_000_000_000)),
    ("v.uint64", .uint64(UInt64.max)), ("v.int64", .int64(Int64.min)),
    ("v.float32", .float32(-1.5e-5)), ("v.float64", .float64(.infinity)),
    ("v.bool.true", .bool(true)), ("v.bool.false", .bool(false)),
    ("v.string", .string("héllo 🦙 \"gguf\"\n")), ("v.string.empty", .string("")),
    ("v.arr.u8", .array([.uint8(0), .uint8(255)])), ("v.arr.i8", .array([.int8(-1)])),
    ("v.arr.u16", .array([.uint16(1), .uint16(2)])), ("v.arr.i16", .array([.int16(-3)])),
    ("v.arr.u32", .array([.uint32(9)])), ("v.arr.i32", .array([.int32(-9), .int32(3)])),
    ("v.arr.u64", .array([.uint64(1 << 40)])), ("v.arr.i64", .array([.int64(-1 << 40)])),
    ("v.arr.f32", .array([.float32(0.5), .float32(-2)])), ("v.arr.f64", .array([.float64(3.25)])),
    ("v.arr.bool", .array([.bool(true), .bool(false)])),
    ("v.arr.str", .array([.string("a"), .string(""), .string("ü")])),
    ("v.arr.empty", .array([])),
    ("v.arr.nested", .array([.array([.int32(1), .int32(2)]), .array([.string("x")]), .array([])])),
    ("v.arr.deep", .array([.array([.array([.array([.float64(1)])])])])),
]

/// One way to damage the fixture file, and the error code it must produce.
struct GGUFCorruption: Sendable, CustomTestStringConvertible {
    let name: String
    let expected: GGUFError.Code
    let damage: @Sendable ([UInt8]) -> [UInt8]
    var testDescription: String { name }
}

private let corruptions: [GGUFCorruption] = [
    GGUFCorruption(name: "wrong magic", expected: .badMagic) { patched($0, at: 0, UInt32(0x4655_4746)) },
    GGUFCorruption(name: "version 1", expected: .unsupportedVersion) { patched($0, at: 4, UInt32(1)) },
    GGUFCorruption(name: "version 99", expected: .unsupportedVersion) { patched($0, at: 4, UInt32(99)) },
    GGUFCorruption(name: "big-endian version", expected: .unsupportedVersion) { patched($0, at: 4, UInt32(0x0300_0000)) },
    GGUFCorruption(name: "empty file", expected: .truncated) { _ in [] },
    GGUFCorruption(name: "truncated in the magic", expected: .truncated) { Array($0.prefix(3)) },
    GGUFCorruption(name: "truncated in the header counts", expected: .truncated) { Array($0.prefix(12)) },
    GGUFCorruption(name: "truncated in a key", expected: .truncated) { Array($0.prefix(offset(of: "test.u32") + 3)) },
    GGUFCorruption(name: "truncated in a key length", expected: .truncated) { Array($0.prefix(offset(of: "test.u32") - 5)) },
    GGUFCorruption(name: "truncated in a scalar value", expected: .truncated) { Array($0.prefix(valueField("test.u32") + 2)) },
    GGUFCorruption(name: "truncated in a string array value", expected: .truncated) { Array($0.prefix(valueField("test.strs") + 12 + 8 + 1)) },
    GGUFCorruption(name: "truncated in tensor infos", expected: .truncated) { Array($0.prefix(offset(of: "norm") + 6)) },
    GGUFCorruption(name: "truncated in tensor data", expected: .tensorOutOfBounds) { Array($0.dropLast(10)) },
    GGUFCorruption(name: "key length 2^62", expected: .absurdLength) { patched($0, at: offset(of: "test.u32") - 8, UInt64(1) << 62) },
    GGUFCorruption(name: "string value length 2^62", expected: .absurdLength) { patched($0, at: valueField("general.architecture"), UInt64(1) << 62) },
    GGUFCorruption(name: "array count 2^60", expected: .absurdCount) { patched($0, at: valueField("test.arr") + 4, UInt64(1) << 60) },
    GGUFCorruption(name: "array count UInt64.max", expected: .absurdCount) { patched($0, at: valueField("test.strs") + 4, UInt64.max) },
    GGUFCorruption(name: "tensor count 2^62", expected: .absurdCount) { patched($0, at: 8, UInt64(1) << 62) },
    GGUFCorruption(name: "metadata count UInt64.max", expected: .absurdCount) { patched($0, at: 16, UInt64.max) },
    GGUFCorruption(name: "unknown value type 13", expected: .unknownValueType) { patched($0, at: typeField("test.u32"), UInt32(13)) },
    GGUFCorruption(name: "unknown array element type", expected: .unknownValueType) { patched($0, at: valueField("test.arr"), UInt32(77)) },
    GGUFCorruption(name: "unknown tensor type Q4_K", expected: .unknownTensorType) { patched($0, at: tensorFields("norm", dims: 1).type, UInt32(12)) },
    GGUFCorruption(name: "unknown tensor type Q5_0", expected: .unknownTensorType) { patched($0, at: tensorFields("tok0", dims: 2).type, UInt32(6)) },
    GGUFCorruption(name: "tensor offset not aligned", expected: .badAlignment) {
        let at = tensorFields("norm", dims: 1).offset
        return patched($0, at: at, readU64($0, at: at) + 4)
    },
    GGUFCorruption(name: "tensor data past end of file", expected: .tensorOutOfBounds) {
        let at = tensorFields("norm", dims: 1).offset
        return patched($0, at: at, readU64($0, at: at) + 4096)
    },
    GGUFCorruption(name: "tensor offset 2^63", expected: .tensorOutOfBounds) { patched($0, at: tensorFields("norm", dims: 1).offset, UInt64(1) << 63) },
    GGUFCorruption(name: "n_dims 0", expected: .badDimensions) { patched($0, at: tensorFields("norm", dims: 1).nDims, UInt32(0)) },
    GGUFCorruption(name: "n_dims 7", expected: .badDimensions) { patched($0, at: tensorFields("tok0", dims: 2).nDims, UInt32(7)) },
    GGUFCorruption(name: "q4_1 row length not a multiple of 32", expected: .shapeMismatch) { patched($0, at: tensorFields("tok0", dims: 2).ne, UInt64(48)) },
    GGUFCorruption(name: "element count overflows", expected: .shapeMismatch) { patched($0, at: tensorFields("tok0", dims: 2).ne + 8, UInt64(1) << 62) },
    GGUFCorruption(name: "invalid UTF-8 in a key", expected: .invalidUTF8) {
        var b = $0
        b[offset(of: "general.architecture") + 3] = 0xFF
        return b
    },
    GGUFCorruption(name: "invalid UTF-8 in a tensor name", expected: .invalidUTF8) {
        var b = $0
        b[offset(of: "norm")] = 0xC3
        return b
    },
    GGUFCorruption(name: "duplicate key", expected: .duplicateKey) {
        var b = $0
        b.replaceSubrange(offset(of: "test.arr") ..< offset(of: "test.arr") + 8, with: Array("test.u32".utf8))
        return b
    },
    GGUFCorruption(name: "duplicate tensor name", expected: .duplicateTensor) {
        var b = $0
        b.replaceSubrange(offset(of: "norm") ..< offset(of: "norm") + 4, with: Array("tok0".utf8))
        return b
    },
    GGUFCorruption(name: "alignment 0", expected: .badAlignment) { patched($0, at: valueField("general.alignment"), UInt32(0)) },
    GGUFCorruption(name: "alignment 3", expected: .badAlignment) { patched($0, at: valueField("general.alignment"), UInt32(3)) },
]

/// SplitMix64, so the fuzz run is reproducible.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// GGUF reader and writer behaviour.
@Suite("GGUF reader")
struct GGUFReaderTests {
    // MARK: - Round trips

    @Test("every metadata type, including nested and empty arrays, survives a write and read in file order")
    func metadataRoundTrip() throws {
        var w = GGUFWriter()
        for (k, v) in everyValue { w.add(k, v) }
        let file = try parse(w.serialize())
        #expect(file.metadataKeys == everyValue.map(\.0))
        for (k, v) in everyValue {
            #expect(file.metadata[k] == v, "key \(k)")
        }
        #expect(file.tensors.isEmpty)
        #expect(file.alignment == 32)
    }

    @Test("both GGUF versions 2 and 3 round-trip metadata and tensors", arguments: [UInt32(2), 3])
    func versionsRoundTrip(version: UInt32) throws {
        var w = GGUFWriter()
        w.add("general.architecture", .string("llama"))
        w.addTensor(name: "a", shape: [32], dtype: .q8_0, data: pattern(34))
        let file = try parse(w.serialize(version: version))
        #expect(file.version == version)
        #expect(try file.string("general.architecture") == "llama")
        #expect(file.tensors.map(\.name) == ["a"])
    }

    @Test("tensor infos, aligned offsets and data bytes read back identically through a memory-mapped file", arguments: [32, 64])
    func tensorsRoundTripThroughMmap(alignment: Int) throws {
        let specs: [(String, [Int], DType)] = [
            ("f32", [3, 5], .f32), ("f16", [7], .f16), ("bf16", [2, 2, 3], .bf16), ("i8", [5, 1, 1, 3], .int8),
            ("q4_0", [64, 3], .q4_0), ("q4_1", [32, 2, 2], .q4_1), ("q8_0", [96], .q8_0),
        ]
        var w = GGUFWriter(alignment: alignment)
        w.add("general.name", .string("fixture"))
        var datas: [String: [UInt8]] = [:]
        for (i, (name, shape, dtype)) in specs.enumerated() {
            let data = pattern(dtype.byteCount(elements: shape.reduce(1, *))!, seed: UInt8(i))
            datas[name] = data
            w.addTensor(name: name, shape: shape, dtype: dtype, data: data)
        }
        let path = temporaryPath("align\(alignment).gguf")
        try w.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }

        let file = try GGUFFile(path: path)
        #expect(file.alignment == alignment)
        #expect(file.dataOffset % alignment == 0)
        if alignment != 32 {
            #expect(try file.int("general.alignment") == alignment)
        }
        #expect(file.tensors.map(\.name) == specs.map(\.0))
        for (name, shape, dtype) in specs {
            let info = try #require(file.tensorInfo(named: name))
            #expect(info.shape == shape)
            #expect(info.dtype == dtype)
            #expect(info.elementCount == shape.reduce(1, *))
            #expect(info.byteCount == datas[name]!.count)
            #expect((info.offset - file.dataOffset) % alignment == 0)
            #expect(Array(file.tensorData(info)) == datas[name]!)
        }
        #expect(file.tensorInfo(named: "missing") == nil)
        let last = file.tensors.last!
        #expect(last.offset + last.byteCount == file.storage.count)
    }

    @Test("typed metadata helpers return values and throw missingKey or wrongType")
    func typedHelpers() throws {
        var w = GGUFWriter()
        w.add("n", .uint32(30))
        w.add("eps", .float32(0.5))
        w.add("s", .string("gpt2"))
        w.add("toks", .array([.string("a"), .string("b")]))
        w.add("mixed", .array([.array([.string("a")])]))
        w.add("ids", .array([.int32(3), .int32(-1)]))
        let f = try parse(w.serialize())
        #expect(try f.int("n") == 30)
        #expect(try f.float("eps") == 0.5)
        #expect(try f.float("n") == 30)
        #expect(try f.string("s") == "gpt2")
        #expect(try f.strings("toks") == ["a", "b"])
        #expect(try f.ints("ids") == [3, -1])
        #expect(errorCode { () throws(GGUFError) in try f.int("absent") } == .missingKey)
        #expect(errorCode { () throws(GGUFError) in try f.int("s") } == .wrongType)
        #expect(errorCode { () throws(GGUFError) in try f.float("s") } == .wrongType)
        #expect(errorCode { () throws(GGUFError) in try f.string("n") } == .wrongType)
        #expect(errorCode { () throws(GGUFError) in try f.strings("s") } == .wrongType)
        #expect(errorCode { () throws(GGUFError) in try f.strings("mixed") } == .wrongType)
        #expect(errorCode { () throws(GGUFError) in try f.ints("toks") } == .wrongType)
        #expect(errorCode { () throws(GGUFError) in try f.strings("gone") } == .missingKey)
    }

    @Test("value accessors convert integers and floats but not booleans")
    func valueAccessors() {
        #expect(GGUFValue.uint64(UInt64.max).intValue == nil)
        #expect(GGUFValue.int16(-4).intValue == -4)
        #expect(GGUFValue.bool(true).intValue == nil)
        #expect(GGUFValue.bool(true).boolValue == true)
        #expect(GGUFValue.int8(-2).floatValue == -2)
        #expect(GGUFValue.float32(0.25).floatValue == 0.25)
        #expect(GGUFValue.string("x").floatValue == nil)
        #expect(GGUFValue.array([.uint8(1)]).arrayValue == [.uint8(1)])
        #expect(GGUFValue.string("x").stringValue == "x")
    }

    // MARK: - Errors

    @Test("the unmodified fixture parses")
    func fixtureParses() throws {
        let f = try parse(baseFile)
        #expect(f.tensors.map(\.name) == ["tok0", "norm"])
        #expect(try f.int("test.u32") == 7)
        #expect(try f.strings("test.strs") == ["ab", "cde"])
    }

    @Test("each corruption of a valid file throws the exact GGUFError code", arguments: corruptions)
    func corruptionIsRejected(_ corruption: GGUFCorruption) {
        let damaged = corruption.damage(baseFile)
        do {
            _ = try parse(damaged)
            Issue.record("\(corruption.name): parsed without error")
        } catch {
            #expect(error.code == corruption.expected, "\(corruption.name): \(error)")
            #expect(!error.message.isEmpty)
        }
    }

    @Test("arrays nested deeper than the limit are rejected as absurdCount")
    func deepNestingRejected() {
        var v = GGUFValue.uint8(1)
        for _ in 0 ..< 12 { v = .array([v]) }
        var w = GGUFWriter()
        w.add("deep", v)
        let bytes = w.serialize()
        #expect(errorCode { () throws(GGUFError) in try parse(bytes) } == .absurdCount)
    }

    @Test("a missing file throws io naming the path")
    func missingFileIsIOError() {
        let path = "/nonexistent/dir/model.gguf"
        do {
            _ = try GGUFFile(path: path)
            Issue.record("opened a missing file")
        } catch {
            #expect(error.code == .io)
            #expect(error.message.contains(path))
        }
    }

    @Test("an empty file maps to no bytes and fails to parse as truncated")
    func emptyFileMapping() throws {
        let path = temporaryPath("empty.gguf")
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let mapped = try MappedFile(path: path)
        #expect(mapped.base == nil)
        #expect(mapped.count == 0)
        #expect(mapped.bytes.isEmpty)
        do {
            _ = try GGUFFile(path: path)
            Issue.record("parsed an empty file")
        } catch {
            #expect(error.code == .truncated)
        }
    }

    // MARK: - Fuzz

    @Test("2000 random byte flips and truncations of a valid file each parse or throw GGUFError")
    func fuzzNeverCrashes() {
        var rng = SplitMix64(state: 0x6767_5546)
        var parsed = 0
        var rejected = 0
        for _ in 0 ..< 2000 {
            var b = baseFile
            switch Int.random(in: 0 ..< 4, using: &rng) {
            case 0: // flip a few bits
                for _ in 0 ..< Int.random(in: 1 ... 4, using: &rng) {
                    b[Int.random(in: 0 ..< b.count, using: &rng)] ^= UInt8(1) << UInt8.random(in: 0 ..< 8, using: &rng)
                }
            case 1: // random bytes
                for _ in 0 ..< Int.random(in: 1 ... 8, using: &rng) {
                    b[Int.random(in: 0 ..< b.count, using: &rng)] = UInt8.random(in: 0 ... 255, using: &rng)
                }
            case 2: // truncate
                b = Array(b.prefix(Int.random(in: 0 ..< b.count, using: &rng)))
            default: // overwrite 8 bytes with a random (often huge) integer
                let at = Int.random(in: 0 ..< b.count - 8, using: &rng)
                b = patched(b, at: at, UInt64.random(in: 0 ... UInt64.max, using: &rng) >> UInt64.random(in: 0 ..< 64, using: &rng))
            }
            do {
                let f = try parse(b)
                for t in f.tensors {
                    #expect(t.offset + t.byteCount <= f.storage.count)
                    _ = f.tensorData(t).reduce(0, &+)
                }
                parsed += 1
            } catch {
                #expect(!error.message.isEmpty)
                rejected += 1
            }
        }
        #expect(parsed + rejected == 2000)
        #expect(rejected > 0)
    }
}
