// The engine file: round trips are bit-exact, every corruption is a typed error, and no damaged
// file crashes the reader (fuzzed).
import Foundation
import Testing
import TLLMBackend
import TLLMBuilder
import TLLMEngine
import TLLMKernels
import TLLMModel
import TLLMPlugin
import TLLMQuantization

func temporaryFile(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("tllm-\(getpid())-\(name)").path
}

/// Deserializes `bytes` in place (the engine must not outlive the call).
func withEngine<R>(_ bytes: [UInt8], verify: Bool = true, _ body: (Engine) throws -> R) throws -> R {
    try bytes.withUnsafeBytes { raw in
        let engine = try Engine.deserialize(bytes: raw, owner: MappedFile(copying: []), verifyChecksums: verify)
        return try body(engine)
    }
}

/// Byte surgery on a serialized engine: prefix fields, and the JSON header rewritten with a
/// correct checksum (so the checks behind the checksum are reached).
enum EngineBytes {
    static func u64(_ b: [UInt8], _ at: Int) -> Int { (0..<8).reduce(0) { $0 | Int(b[at + $1]) << (8 * $1) } }
    static func put<T: FixedWidthInteger>(_ b: inout [UInt8], _ at: Int, _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { for (i, x) in $0.enumerated() { b[at + i] = x } }
    }
    static func headerRange(_ b: [UInt8]) -> Range<Int> { 32 ..< 32 + u64(b, 16) }
    static func dataStart(headerEnd: Int) -> Int { (headerEnd + 4095) / 4096 * 4096 }

    /// Recomputes the header checksum after the header bytes were edited in place.
    static func fixChecksum(_ b: inout [UInt8]) {
        let range = headerRange(b)
        guard range.upperBound <= b.count else { return }
        let crc = b[range].withUnsafeBytes { tllm_crc32c(0, $0.baseAddress, $0.count) }
        put(&b, 24, crc)
    }

    /// The file with its header JSON edited through `edit` (as a JSON object), data moved to the new data start.
    static func editingHeader(_ b: [UInt8], _ edit: (inout [String: Any]) -> Void) -> [UInt8] {
        let range = headerRange(b)
        var json = try! JSONSerialization.jsonObject(with: Data(b[range])) as! [String: Any]
        edit(&json)
        let header = [UInt8](try! JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]))
        var out = Array(b[0..<32])
        put(&out, 16, UInt64(header.count))
        out += header
        out += [UInt8](repeating: 0, count: dataStart(headerEnd: out.count) - out.count)
        out += b[dataStart(headerEnd: range.upperBound)...]
        fixChecksum(&out)
        return out
    }

    static func editTensor(_ json: inout [String: Any], _ index: Int, _ key: String, _ value: Any) {
        var tensors = json["tensors"] as! [[String: Any]]
        tensors[index][key] = value
        json["tensors"] = tensors
    }
}

@Suite("Engine file", .serialized)
struct EngineFileTests {
    static let tinyEngine: [UInt8] = try! Builder.build(try! TestModels.tiny(), BuildConfig(maxSeqLen: 64)).serializedBytes()

    @Test("Build → serialize → deserialize gives bit-identical logits and the same header, through a real file",
          arguments: ["native-f16", "w4a16-g32", "w8a16-kv-int8", "fp8", "gpt-no-plugins"])
    func roundTripIsBitExact(variant: String) throws {
        let model: any CausalLM = variant.hasPrefix("gpt") ? try TestModels.gpt() : try TestModels.llama(matrixType: .f16)
        var config = BuildConfig(maxSeqLen: 128)
        switch variant {
        case "w4a16-g32": config.quantization = QuantConfig(algo: .w4a16, groupSize: 32)
        case "w8a16-kv-int8": config.quantization = QuantConfig(algo: .w8a16); config.kvCacheDType = .int8
        case "fp8": config.quantization = QuantConfig(algo: .fp8)
        case "gpt-no-plugins": config.pluginDefault = false
        default: break
        }
        var built = try Builder.build(model, config)
        built.attachments["note.txt"] = Array("hello".utf8)
        let path = temporaryFile("\(variant).engine")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try built.serialize(to: path)
        let loaded = try Engine.deserialize(from: path)
        #expect(loaded.graph == built.graph && loaded.config == built.config && loaded.buildConfig == built.buildConfig)
        #expect(loaded.pluginNames == built.pluginNames && loaded.buildLog == built.buildLog && loaded.maxSeqLen == built.maxSeqLen)
        #expect(loaded.attachments == built.attachments)
        #expect(Set(loaded.weights.keys) == Set(built.weights.keys))
        for (name, w) in built.weights { #expect(loaded.weights[name]!.dtype == w.dtype && loaded.weights[name]!.shape == w.shape) }
        let a = try packedLogits(try ModelEngine(built), pluginTestSequences)
        let b = try packedLogits(try ModelEngine(loaded), pluginTestSequences)
        #expect(a.values == b.values)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == built.serializedBytes())
    }

    @Test("Loaded in place, tensors point into the file's mapping: nothing is copied")
    func tensorsBorrowTheMapping() throws {
        let path = temporaryFile("map.engine")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Builder.build(try TestModels.llama()).serialize(to: path)
        let file = try MappedFile(path: path)
        let engine = try Engine.deserialize(file: file, placement: .fileMapping)
        let range = UInt(bitPattern: file.base!) ..< UInt(bitPattern: file.base!) + UInt(file.count)
        for tensor in engine.weights.values {
            #expect(range.contains(UInt(bitPattern: tensor.pointer)))
            #expect(UInt(bitPattern: tensor.pointer) % 64 == 0)
        }
    }

    @Test("Loaded onto huge pages, the large tensors are copies holding the file's bytes and the small ones stay in the mapping")
    func largeTensorsAreCopiedOntoHugePages() throws {
        let path = temporaryFile("huge.engine")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Builder.build(try TestModels.llama()).serialize(to: path)   // its f32 embedding table is 80 KiB
        let file = try MappedFile(path: path)
        let mapped = try Engine.deserialize(file: file, placement: .fileMapping)
        let placed = try Engine.deserialize(file: file, placement: .hugePages)
        let range = UInt(bitPattern: file.base!) ..< UInt(bitPattern: file.base!) + UInt(file.count)
        var copied = 0
        for (name, tensor) in placed.weights {
            let original = try #require(mapped.weights[name])
            let large = tensor.byteCount >= HugePageArena.shared.minimumBytes && HugePageArena.shared.isEnabled
            #expect(range.contains(UInt(bitPattern: tensor.pointer)) == !large, "\(name)")
            #expect(memcmp(tensor.pointer, original.pointer, tensor.byteCount) == 0, "\(name)")
            copied += large ? 1 : 0
        }
        #expect(copied > 0 || !HugePageArena.shared.isEnabled)
    }

    static let corruptions: [(String, EngineFileError.Code, @Sendable ([UInt8]) -> [UInt8])] = [
        ("empty file", .truncated, { _ in [] }),
        ("cut inside the prefix", .truncated, { Array($0.prefix(20)) }),
        ("wrong magic", .badMagic, { var b = $0; b[0] = UInt8(ascii: "X"); return b }),
        ("a GGUF file", .badMagic, { var b = $0; b.replaceSubrange(0..<4, with: Array("GGUF".utf8)); return b }),
        ("newer version", .unsupportedVersion, { var b = $0; EngineBytes.put(&b, 8, EngineFileFormat.version + 1); return b }),
        ("version 0", .unsupportedVersion, { var b = $0; EngineBytes.put(&b, 8, UInt32(0)); return b }),
        ("absurd header length", .badHeaderLength, { var b = $0; EngineBytes.put(&b, 16, UInt64(1) << 40); return b }),
        ("header longer than the file", .truncated, { var b = $0; EngineBytes.put(&b, 16, UInt64(b.count)); return b }),
        ("header byte changed", .headerChecksumMismatch, { var b = $0; b[40] ^= 0x20; return b }),
        ("header checksum changed", .headerChecksumMismatch, { var b = $0; b[24] ^= 1; return b }),
        ("header is not engine JSON", .malformedHeader, { var b = $0; b[32] = UInt8(ascii: "["); EngineBytes.fixChecksum(&b); return b }),
        ("wrong format name", .malformedHeader, { EngineBytes.editingHeader($0) { $0["format"] = "other" } }),
        ("unknown dtype", .unknownDType, { EngineBytes.editingHeader($0) { EngineBytes.editTensor(&$0, 0, "dtype", "q5_k") } }),
        ("length does not match shape", .tensorSizeMismatch, { EngineBytes.editingHeader($0) { EngineBytes.editTensor(&$0, 1, "length", 12) } }),
        ("negative dimension", .tensorSizeMismatch, { EngineBytes.editingHeader($0) { EngineBytes.editTensor(&$0, 1, "shape", [-32]) } }),
        ("tensor past the data", .tensorOutOfBounds, { EngineBytes.editingHeader($0) { json in
            EngineBytes.editTensor(&json, 0, "offset", (json["data_length"] as! Int) + 64) } }),
        ("huge offset", .tensorOutOfBounds, { EngineBytes.editingHeader($0) { EngineBytes.editTensor(&$0, 0, "offset", Int.max - 10) } }),
        ("misaligned tensor", .misalignedTensor, { EngineBytes.editingHeader($0) { EngineBytes.editTensor(&$0, 0, "offset", 4) } }),
        ("overlapping tensors", .overlappingTensors, { EngineBytes.editingHeader($0) { json in
            let tensors = json["tensors"] as! [[String: Any]]
            EngineBytes.editTensor(&json, 2, "offset", tensors[3]["offset"]!) } }),
        ("tensor checksum in the index changed", .tensorChecksumMismatch, { EngineBytes.editingHeader($0) { EngineBytes.editTensor(&$0, 0, "crc32c", 12345) } }),
        ("tensor byte changed", .tensorChecksumMismatch, { var b = $0; b[b.count - 100] ^= 0x40; return b }),
        ("last byte cut", .truncated, { Array($0.dropLast()) }),
        ("bytes appended", .trailingData, { $0 + [0, 0, 0, 0] }),
        ("data length larger than the file", .truncated, { EngineBytes.editingHeader($0) { $0["data_length"] = ($0["data_length"] as! Int) + 64 } }),
        ("invalid model config", .invalidConfig, { EngineBytes.editingHeader($0) { json in
            var m = json["model_config"] as! [String: Any]; m["num_key_value_heads"] = 3; json["model_config"] = m } }),
        ("int8 KV cache on a width not a multiple of 32", .invalidConfig, { EngineBytes.editingHeader($0) { json in
            var b = json["build_config"] as! [String: Any]; b["kvCacheDType"] = "int8"; json["build_config"] = b } }),
        ("graph reads a tensor the file lacks", .invalidGraph, { EngineBytes.editingHeader($0) { EngineBytes.editTensor(&$0, 0, "name", "renamed") } }),
        ("plugin list disagrees with the graph", .invalidGraph, { EngineBytes.editingHeader($0) { $0["plugins"] = ["SwiGLUPlugin"] } }),
        ("graph output out of range", .invalidGraph, { EngineBytes.editingHeader($0) { json in
            var g = json["graph"] as! [String: Any]; g["output"] = 100_000; json["graph"] = g } }),
    ]

    @Test("Every corruption in the table gives its own typed error", arguments: 0..<corruptions.count)
    func corruptionIsTyped(index: Int) throws {
        let (name, code, corrupt) = Self.corruptions[index]
        let bytes = corrupt(Self.tinyEngine)
        #expect(throws: EngineFileError.self, "\(name)") { try withEngine(bytes) { _ in () } }
        do { try withEngine(bytes) { _ in () } } catch let error as EngineFileError {
            #expect(error.code == code, "\(name): got \(error)")
            #expect(!error.message.isEmpty)
        }
    }

    @Test("The unmodified tiny engine loads, and the surgery helper alone changes nothing")
    func fixtureLoads() throws {
        // 11 checkpoint weights, Q, K and V stacked into one: 9.
        try withEngine(Self.tinyEngine) { #expect($0.weights.count == 9) }
        try withEngine(EngineBytes.editingHeader(Self.tinyEngine) { _ in }) { #expect($0.weights.count == 9) }
    }

    @Test("A version-1 file's q8_0_x8g tensor, stored with plain codes, loads converted to the biased ones: the same weights")
    func version1GroupedQ8IsConverted() throws {
        let built = try Builder.build(try TestModels.tiny(), BuildConfig(maxSeqLen: 64))
        let (n, k) = (built.weights["token_embd.weight"]!.shape[0], built.weights["token_embd.weight"]!.shape[1])
        // Random GGUF Q8_0 rows (d = 0.01), stored grouped as this version stores them.
        var rng = SplitMix64(seed: 5)
        let d = Float16(0.01).bitPattern
        let gguf = (0..<n * k / 32).flatMap { _ in [UInt8(d & 0xff), UInt8(d >> 8)] + (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        let grouped = Tensor(shape: [n, k], dtype: .q8_0x8g, storage: TensorStorage(byteCount: gguf.count) { b in
            gguf.withUnsafeBytes { tllm_repack_x8g(TLLM_Q8_0, $0.baseAddress, Int64(n), Int64(k), b.baseAddress) }
        })
        var weights = built.weights
        weights["token_embd.weight"] = grouped
        let engine = Engine(config: built.config, buildConfig: built.buildConfig, maxSeqLen: built.maxSeqLen, graph: built.graph,
                            weights: weights, pluginNames: built.pluginNames, buildLog: [])
        let current = engine.serializedBytes()
        let expected = Tensor(shape: [n, k], dtype: .q8_0, storage: TensorStorage(byteCount: gguf.count) { b in
            gguf.withUnsafeBytes { b.copyMemory(from: $0) }
        }).floats()
        #expect(grouped.floats() == expected)
        try withEngine(current) { #expect($0.weights["token_embd.weight"]!.floats() == expected) }
        // The same file as version 1 wrote it: plain codes, their checksum, version 1.
        let json = try JSONSerialization.jsonObject(with: Data(current[EngineBytes.headerRange(current)])) as! [String: Any]
        let tensors = json["tensors"] as! [[String: Any]]
        let index = tensors.firstIndex { $0["name"] as? String == "token_embd.weight" }!
        let start = EngineBytes.dataStart(headerEnd: EngineBytes.headerRange(current).upperBound) + (tensors[index]["offset"] as! Int)
        var old = current
        old.withUnsafeMutableBytes { tllm_q8_0_x8g_flip_codes($0.baseAddress! + start, Int64(n), Int64(k)) }
        #expect(old != current)
        let crc = old[start ..< start + grouped.byteCount].withUnsafeBytes { tllm_crc32c(0, $0.baseAddress, $0.count) }
        old = EngineBytes.editingHeader(old) { EngineBytes.editTensor(&$0, index, "crc32c", crc) }
        EngineBytes.put(&old, 8, UInt32(1))
        try withEngine(old) { #expect($0.weights["token_embd.weight"]!.floats() == expected) }
    }

    @Test("10,000 random flips, byte writes and truncations of a real engine file never crash the reader or loader")
    func fuzzNeverCrashes() throws {
        var rng = SplitMix64(seed: 0x454E_4749)
        let base = Self.tinyEngine
        let header = EngineBytes.headerRange(base)
        var loaded = 0, ran = 0, codes: [EngineFileError.Code: Int] = [:]
        for i in 0..<10_000 {
            var b = base
            switch i % 5 {
            case 0:  // flip bits anywhere
                for _ in 0..<Int.random(in: 1...4, using: &rng) { b[Int.random(in: 0..<b.count, using: &rng)] ^= 1 << UInt8.random(in: 0..<8, using: &rng) }
            case 1:  // random bytes in the header, checksum fixed so the JSON and index checks run
                for _ in 0..<Int.random(in: 1...3, using: &rng) { b[Int.random(in: header, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                EngineBytes.fixChecksum(&b)
            case 2:  // truncate
                b = Array(b.prefix(Int.random(in: 0..<b.count, using: &rng)))
            case 3:  // overwrite 8 bytes of the prefix or header with a random integer, checksum fixed
                let at = Int.random(in: 8..<header.upperBound - 8, using: &rng)
                EngineBytes.put(&b, at, UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0..<64, using: &rng))
                if at >= 32 { EngineBytes.fixChecksum(&b) }
            default:  // digits in the header changed (numbers stay numbers), checksum fixed
                let digits = header.filter { (48...57).contains(b[$0]) }
                for _ in 0..<Int.random(in: 1...2, using: &rng) { b[digits.randomElement(using: &rng)!] = UInt8(48 + Int.random(in: 0...9, using: &rng)) }
                EngineBytes.fixChecksum(&b)
            }
            do {
                try withEngine(b) { engine in
                    loaded += 1
                    // A file that reads back must also load or be refused with a typed error, then run.
                    guard let runner = try? ModelEngine(engine) else { return }
                    let c = engine.config
                    guard c.numHiddenLayers <= 4, c.kvDim <= 256, engine.maxSeqLen >= 4 else { return }
                    let cache = PagedKVCache(numLayers: c.numHiddenLayers, numBlocks: 1, tokensPerBlock: 4, kvDim: c.kvDim,
                                             dtype: engine.buildConfig.kvCacheDType)
                    if (try? runner.forward(ForwardBatch(sequences: [.init(tokens: [1, 2, 3], startPosition: 0, blockTable: [0])]), cache: cache)) != nil {
                        ran += 1
                    }
                }
            } catch let error as EngineFileError {
                codes[error.code, default: 0] += 1
            } catch {
                Issue.record("untyped error \(error)")
            }
        }
        #expect(loaded + codes.values.reduce(0, +) == 10_000)
        #expect(codes.count >= 8, "only \(codes.keys.map(\.rawValue)) were exercised")
        print("engine fuzz: \(loaded) loaded (\(ran) ran a forward), rejected by code: \(codes.map { "\($0.key.rawValue) \($0.value)" }.sorted())")
    }
}
