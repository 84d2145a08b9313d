// Reading an engine file: every field is checked before it is trusted; tensors borrow the mapping.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import TLLMBackend
import TLLMKernels
import TLLMModel

/// Where a loaded engine's weights live.
public enum WeightPlacement: Sendable {
    /// Every tensor points into the file's bytes, on the mapping's 4 KiB pages: nothing is copied
    /// but a version-1 file's `q8_0_x8g` tensors, converted onto the heap.
    case fileMapping
    /// Tensors of 64 KiB or more (the weight matrices) are copied into ``HugePageArena``'s
    /// huge-page memory, where decode streams them faster (Docs/Performance.md, tenth pass); the
    /// rest, and all of them where the arena is off (`TLLM_HUGE_PAGES=0`), point into the file.
    case hugePages
}

extension Engine {
    /// Maps the engine file at `path` and rebuilds the engine.
    /// - Parameters:
    ///   - verifyChecksums: Check every tensor's CRC-32C (reads all bytes once; on by default).
    ///   - placement: Where the weights live: copied onto huge pages (the default) or in the mapping.
    /// - Throws: ``EngineFileError`` with a code for each kind of corruption.
    public static func deserialize(from path: String, verifyChecksums: Bool = true,
                                   placement: WeightPlacement = .hugePages) throws(EngineFileError) -> Engine {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw EngineFileError(.io, error.message) }
        return try deserialize(file: file, verifyChecksums: verifyChecksums, placement: placement)
    }

    /// Rebuilds the engine held by `file`'s bytes; tensors borrow them, or are copied onto huge pages.
    public static func deserialize(file: MappedFile, verifyChecksums: Bool = true,
                                   placement: WeightPlacement = .hugePages) throws(EngineFileError) -> Engine {
        try deserialize(bytes: file.bytes, owner: file, verifyChecksums: verifyChecksums, placement: placement)
    }

    /// Rebuilds the engine held by `bytes`, which `owner` keeps alive as long as a tensor borrows them.
    public static func deserialize(bytes: UnsafeRawBufferPointer, owner: AnyObject, verifyChecksums: Bool = true,
                                   placement: WeightPlacement = .hugePages) throws(EngineFileError) -> Engine {
        let f = EngineFileFormat.self
        func fail(_ code: EngineFileError.Code, _ message: String) -> EngineFileError { EngineFileError(code, message) }
        func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }

        // Prefix: magic, version, header length and checksum.
        let magicBytes = Array(bytes.prefix(f.magic.count))
        guard magicBytes == Array(f.magic.prefix(magicBytes.count)) else {
            throw fail(.badMagic, "the file does not start with the engine magic \"TLLMENG\"; it is not an engine file (build one with trtllm-build)")
        }
        guard bytes.count >= f.prefixSize else {
            throw fail(.truncated, "the file has \(bytes.count) bytes, fewer than the \(f.prefixSize)-byte prefix")
        }
        let version = u32(8)
        guard version >= 1 && version <= f.version else {
            throw fail(.unsupportedVersion, "format version \(version); this build reads versions 1...\(f.version). Rebuild the engine with this trtllm-build or upgrade MiniTRTLLM")
        }
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        guard headerLength > 0 && headerLength <= UInt64(f.maxHeaderBytes) else {
            throw fail(.badHeaderLength, "header length \(headerLength) is outside 1...\(f.maxHeaderBytes)")
        }
        let headerEnd = f.prefixSize + Int(headerLength)
        guard headerEnd <= bytes.count else {
            throw fail(.truncated, "the header ends at byte \(headerEnd) but the file has \(bytes.count) bytes")
        }
        let header = UnsafeRawBufferPointer(rebasing: bytes[f.prefixSize ..< headerEnd])
        let headerCRC = tllm_crc32c(0, header.baseAddress, header.count)
        guard headerCRC == u32(24) else {
            throw fail(.headerChecksumMismatch, "the header's CRC-32C is \(hex(headerCRC)), the prefix records \(hex(u32(24))); the header was modified or damaged")
        }
        let h: EngineFileHeader
        do { h = try JSONDecoder().decode(EngineFileHeader.self, from: Data(header)) } catch {
            throw fail(.malformedHeader, "the header is not valid engine JSON: \(String(describing: error).prefix(300))")
        }
        guard h.format == f.formatName else { throw fail(.malformedHeader, "header format is '\(h.format)', expected '\(f.formatName)'") }

        // Sizes: the data section must end exactly at the end of the file.
        let dataStart = (headerEnd + f.dataAlignment - 1) / f.dataAlignment * f.dataAlignment
        guard h.dataLength >= 0, h.dataLength <= Int.max - dataStart else { throw fail(.malformedHeader, "data length \(h.dataLength) is impossible") }
        let expected = dataStart + h.dataLength
        guard bytes.count >= expected else { throw fail(.truncated, "the file has \(bytes.count) bytes; its header describes \(expected)") }
        guard bytes.count == expected else { throw fail(.trailingData, "the file has \(bytes.count - expected) bytes after the \(expected) its header describes") }

        try checkConfigs(h)

        // Tensor and attachment index: known dtypes, sizes that match shapes, aligned, in bounds, disjoint.
        var ranges: [(start: Int, end: Int, name: String)] = []
        func place(_ name: String, _ offset: Int, _ length: Int) throws(EngineFileError) {
            guard offset >= 0, length >= 0, offset <= h.dataLength, length <= h.dataLength - offset else {
                throw fail(.tensorOutOfBounds, "'\(name)' spans bytes \(offset)..<\(offset &+ length) of a \(h.dataLength)-byte data section")
            }
            guard offset % f.tensorAlignment == 0 else { throw fail(.misalignedTensor, "'\(name)' starts at data offset \(offset), not a multiple of \(f.tensorAlignment)") }
            ranges.append((offset, offset + length, name))
        }
        var dtypes: [DType] = []
        for t in h.tensors {
            guard let dtype = DType(rawValue: t.dtype) else {
                throw fail(.unknownDType, "tensor '\(t.name)' has dtype '\(t.dtype)'; this build knows \(DType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard (1...4).contains(t.shape.count), t.shape.allSatisfy({ $0 > 0 }), let size = dtype.byteCount(shape: t.shape), size == t.length else {
                throw fail(.tensorSizeMismatch, "tensor '\(t.name)' is \(t.shape) \(t.dtype) but records \(t.length) bytes")
            }
            try place(t.name, t.offset, t.length)
            dtypes.append(dtype)
        }
        for a in h.attachments { try place("attachment \(a.name)", a.offset, a.length) }
        let names = h.tensors.map(\.name) + h.attachments.map { "attachment \($0.name)" }
        guard Set(names).count == names.count else { throw fail(.overlappingTensors, "two tensors or attachments share a name") }
        let sorted = ranges.sorted { $0.start < $1.start }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.start < a.end {
            throw fail(.overlappingTensors, "'\(a.name)' and '\(b.name)' overlap")
        }

        // The graph must be well formed and read only tensors the file holds.
        if let problem = h.graph.validationError() { throw fail(.invalidGraph, problem) }
        let held = Set(h.tensors.map(\.name))
        if let missing = h.graph.weightNames.first(where: { !held.contains($0) }) {
            throw fail(.invalidGraph, "the graph reads tensor '\(missing)', which the file does not hold")
        }
        var graphPlugins = Set<String>()
        for op in h.graph.ops { if case .plugin(let name, _) = op.kind { graphPlugins.insert(name) } }
        guard graphPlugins == Set(h.plugins) else {
            throw fail(.invalidGraph, "the header lists plugins \(h.plugins.sorted()) but the graph uses \(graphPlugins.sorted())")
        }

        // Checksums of every tensor and attachment, in parallel.
        let base = bytes.baseAddress! + dataStart
        if verifyChecksums {
            let entries = h.tensors.map { ($0.name, $0.offset, $0.length, $0.crc32c) } + h.attachments.map { ("attachment \($0.name)", $0.offset, $0.length, $0.crc32c) }
            var pointers: [UnsafeRawPointer?] = entries.map { base + $0.1 }
            var lengths = entries.map { $0.2 }
            var sums = [UInt32](repeating: 0, count: entries.count)
            tllm_crc32c_many(&pointers, &lengths, Int64(entries.count), &sums)
            let bad = entries.indices.filter { sums[$0] != entries[$0].3 }.map { entries[$0].0 }
            guard bad.isEmpty else {
                throw fail(.tensorChecksumMismatch, "CRC-32C mismatch in \(bad.count) of \(entries.count): \(bad.prefix(5).joined(separator: ", "))\(bad.count > 5 ? ", …" : ""); the file is damaged, rebuild it")
            }
        }

        let storage = TensorStorage(borrowing: bytes.baseAddress!, byteCount: bytes.count, owner: owner)
        var weights: [String: Tensor] = [:]
        for (t, dtype) in zip(h.tensors, dtypes) {
            let stored = Tensor(shape: t.shape, dtype: dtype, storage: storage, byteOffset: dataStart + t.offset)
            let loaded = version < 2 && dtype == .q8_0x8g ? biasedQ8Codes(stored) : stored
            let placed = placement == .hugePages ? loaded.onHugePages() : loaded
            // Bytes now held elsewhere need not stay resident in the mapping too.
            if placed.pointer != stored.pointer { (owner as? MappedFile)?.dropPages(from: stored.pointer, byteCount: stored.byteCount) }
            weights[t.name] = placed
        }
        var attachments: [String: [UInt8]] = [:]
        for a in h.attachments { attachments[a.name] = Array(UnsafeRawBufferPointer(start: base + a.offset, count: a.length)) }
        return Engine(config: h.modelConfig, buildConfig: h.buildConfig, maxSeqLen: h.maxSeqLen, graph: h.graph,
                      weights: weights, pluginNames: h.plugins, buildLog: h.buildLog, attachments: attachments)
    }

    /// A version-1 ``DType/q8_0x8g`` tensor (plain codes q) in the layout this version multiplies
    /// (q + 128), copied out of the file.
    private static func biasedQ8Codes(_ t: Tensor) -> Tensor {
        let storage = TensorStorage(byteCount: t.byteCount) { buffer in
            buffer.copyMemory(from: UnsafeRawBufferPointer(start: t.pointer, count: t.byteCount))
            tllm_q8_0_x8g_flip_codes(buffer.baseAddress, Int64(t.rowCount), Int64(t.rowLength))
        }
        return Tensor(shape: t.shape, dtype: t.dtype, storage: storage)
    }

    /// The configurations must be ones the Builder could have produced.
    private static func checkConfigs(_ h: EngineFileHeader) throws(EngineFileError) {
        do { try h.modelConfig.validate() } catch { throw EngineFileError(.invalidConfig, error.message) }
        let b = h.buildConfig, c = h.modelConfig
        let problems = [
            (h.maxSeqLen >= 2 && h.maxSeqLen <= 1 << 24, "max_seq_len \(h.maxSeqLen)"),
            (b.maxBatchSize >= 1 && b.maxBatchSize <= 4096, "max_batch_size \(b.maxBatchSize)"),
            (b.maxNumTokens >= 1 && b.maxNumTokens <= 1 << 20, "max_num_tokens \(b.maxNumTokens)"),
            (b.kvCacheDType == .float32 || c.kvDim % 32 == 0, "an int8 KV cache with KV width \(c.kvDim)"),
        ].filter { !$0.0 }.map(\.1)
        if let first = problems.first { throw EngineFileError(.invalidConfig, "the build config has an invalid \(first)") }
    }
}

private func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
