// The engine file: everything an engine needs in one versioned, checksummed file whose tensor
// data is aligned so that loading maps it and copies nothing. Knows bytes and JSON, not text.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TLLMBackend
import TLLMKernels
import TLLMModel

/// The layout of an engine file (all integers little-endian):
///
/// ```
///  offset  size  field
///       0     8  magic "TLLMENG\0"
///       8     4  format version (2; version 1 stored q8_0_x8g codes unbiased, converted on load)
///      12     4  flags (0)
///      16     8  header length H
///      24     4  CRC-32C of the header bytes
///      28     4  reserved (0)
///      32     H  header: UTF-8 JSON (configs, graph, plugin names, tensor and attachment index)
///       D     …  data section, D = 32 + H rounded up to 4096; every tensor and attachment starts
///                at a 64-byte aligned offset relative to D and carries its own CRC-32C
/// ```
public enum EngineFileFormat {
    public static let magic: [UInt8] = Array("TLLMENG".utf8) + [0]
    /// The version this code writes and the newest it reads. Version 2 stores ``DType/q8_0x8g``
    /// codes biased (q + 128); a version-1 file's such tensors are converted into memory on load.
    public static let version: UInt32 = 2
    static let prefixSize = 32
    static let dataAlignment = 4096
    static let tensorAlignment = 64
    static let maxHeaderBytes = 64 << 20
    static let formatName = "minitrtllm-engine"

    /// Whether the file at `path` starts with the engine magic (false if it cannot be read).
    public static func isEngineFile(path: String) -> Bool {
        guard let f = fopen(path, "rb") else { return false }
        defer { fclose(f) }
        var head = [UInt8](repeating: 0, count: magic.count)
        return fread(&head, 1, head.count, f) == head.count && head == magic
    }
}

/// The JSON header of an engine file.
struct EngineFileHeader: Codable {
    struct TensorEntry: Codable {
        var name: String
        var dtype: String
        var shape: [Int]
        /// Bytes from the start of the data section.
        var offset: Int
        var length: Int
        var crc32c: UInt32
    }

    struct AttachmentEntry: Codable {
        var name: String
        var offset: Int
        var length: Int
        var crc32c: UInt32
    }

    var format: String
    var modelConfig: ModelConfig
    var buildConfig: BuildConfig
    var maxSeqLen: Int
    var plugins: [String]
    var graph: Graph
    var buildLog: [String]
    var tensors: [TensorEntry]
    var attachments: [AttachmentEntry]
    var dataLength: Int

    enum CodingKeys: String, CodingKey {
        case format, modelConfig = "model_config", buildConfig = "build_config", maxSeqLen = "max_seq_len", plugins,
             graph, buildLog = "build_log", tensors, attachments, dataLength = "data_length"
    }
}

extension Engine {
    // MARK: - Writing

    /// Writes the engine to one file at `path` (atomically: a temporary file renamed into place).
    /// - Throws: ``EngineFileError`` `.io` naming the path and the system error.
    public func serialize(to path: String) throws(EngineFileError) {
        let (head, blobs) = fileLayout()
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EngineFileError(.io, "cannot create '\(temporary)': \(Self.errnoText())") }
        var ok = true
        func put(_ bytes: UnsafeRawBufferPointer) {
            var done = 0
            while ok && done < bytes.count {
                let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n <= 0 { ok = false } else { done += n }
            }
        }
        head.withUnsafeBytes(put)
        var position = 0
        let zeros = [UInt8](repeating: 0, count: EngineFileFormat.tensorAlignment)
        for (offset, blob) in blobs {
            if offset > position { zeros.withUnsafeBytes { put(UnsafeRawBufferPointer(rebasing: $0[..<(offset - position)])) } }
            blob.withBytes(put)
            position = offset + blob.count
        }
        let closed = close(fd) == 0
        guard ok && closed else {
            let text = Self.errnoText()
            unlink(temporary)
            throw EngineFileError(.io, "cannot write '\(temporary)': \(text)")
        }
        guard rename(temporary, path) == 0 else {
            let text = Self.errnoText()
            unlink(temporary)
            throw EngineFileError(.io, "cannot rename '\(temporary)' to '\(path)': \(text)")
        }
    }

    /// The whole file in memory (for tests and small engines).
    public func serializedBytes() -> [UInt8] {
        let (head, blobs) = fileLayout()
        let dataLength = blobs.last.map { $0.offset + $0.blob.count } ?? 0
        var out = head + [UInt8](repeating: 0, count: dataLength)
        out.withUnsafeMutableBytes { file in
            for (offset, blob) in blobs {
                blob.withBytes { if $0.count > 0 { (file.baseAddress! + head.count + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
            }
        }
        return out
    }

    /// Bytes stored in the data section: a tensor's, or an attachment's.
    private enum Blob {
        case tensor(Tensor)
        case bytes([UInt8])

        var count: Int {
            switch self {
            case .tensor(let t): t.byteCount
            case .bytes(let b): b.count
            }
        }

        func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
            switch self {
            case .tensor(let t): body(UnsafeRawBufferPointer(start: t.pointer, count: t.byteCount))
            case .bytes(let b): b.withUnsafeBytes(body)
            }
        }
    }

    /// The prefix, header and padding up to the data section, and each blob with its data offset.
    private func fileLayout() -> (head: [UInt8], blobs: [(offset: Int, blob: Blob)]) {
        let used = Set(graph.weightNames)
        let names = graph.weightNames.filter { weights[$0] != nil } + weights.keys.filter { !used.contains($0) }.sorted()
        let attachmentNames = attachments.keys.sorted()
        var blobs: [(offset: Int, blob: Blob)] = []
        var offset = 0
        let a = EngineFileFormat.tensorAlignment
        for blob in names.map({ Blob.tensor(weights[$0]!) }) + attachmentNames.map({ Blob.bytes(attachments[$0]!) }) {
            offset = (offset + a - 1) / a * a
            blobs.append((offset, blob))
            offset += blob.count
        }
        // Tensor checksums in parallel (they are most of the bytes), attachments one by one.
        var pointers: [UnsafeRawPointer?] = names.map { weights[$0]!.pointer }
        var lengths = names.map { weights[$0]!.byteCount }
        var sums = [UInt32](repeating: 0, count: names.count)
        tllm_crc32c_many(&pointers, &lengths, Int64(names.count), &sums)
        sums += attachmentNames.map { name in attachments[name]!.withUnsafeBytes { tllm_crc32c(0, $0.baseAddress, $0.count) } }
        let tensors = names.enumerated().map { i, name in
            EngineFileHeader.TensorEntry(name: name, dtype: weights[name]!.dtype.rawValue, shape: weights[name]!.shape,
                                         offset: blobs[i].offset, length: blobs[i].blob.count, crc32c: sums[i])
        }
        let entries = attachmentNames.enumerated().map { i, name in
            EngineFileHeader.AttachmentEntry(name: name, offset: blobs[names.count + i].offset,
                                             length: blobs[names.count + i].blob.count, crc32c: sums[names.count + i])
        }
        let header = EngineFileHeader(format: EngineFileFormat.formatName, modelConfig: config, buildConfig: buildConfig,
                                      maxSeqLen: maxSeqLen, plugins: pluginNames, graph: graph, buildLog: buildLog,
                                      tensors: tensors, attachments: entries, dataLength: offset)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = [UInt8](try! encoder.encode(header))   // every field is finite and encodable
        var head: [UInt8] = EngineFileFormat.magic
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { head += $0 } }
        le(EngineFileFormat.version)
        le(UInt32(0))
        le(UInt64(json.count))
        le(json.withUnsafeBytes { tllm_crc32c(0, $0.baseAddress, $0.count) })
        le(UInt32(0))
        head += json
        let d = EngineFileFormat.dataAlignment
        head += [UInt8](repeating: 0, count: (head.count + d - 1) / d * d - head.count)
        return (head, blobs)
    }

    static func errnoText() -> String {
        let code = errno
        return strerror(code).map { "\(String(cString: $0)) (errno \(code))" } ?? "errno \(code)"
    }
}
