// Read-only memory mapping of a whole file (or an owned in-memory copy); knows bytes, not formats.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure to open or map a file; the message names the path and the system error.
public struct MappedFileError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The file that could not be mapped.
    public let path: String
    /// What went wrong, including the path and the `errno` text.
    public let message: String

    /// Creates an error for `path` with a full human-readable `message`.
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { message }
}

/// An immutable view of a file's bytes, memory-mapped read-only, or of an owned in-memory copy.
///
/// The mapping lives as long as the object; slices handed out by `bytes` must not outlive it.
public final class MappedFile: @unchecked Sendable {
    /// Start of the bytes, or `nil` for an empty file.
    public let base: UnsafeRawPointer?
    /// Number of bytes.
    public let count: Int
    /// Whether `base` came from `mmap` (otherwise from an owned allocation, or `nil`).
    private let isMapped: Bool

    /// The whole contents as a raw buffer (empty for an empty file).
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: count)
    }

    /// Maps the file at `path` read-only.
    ///
    /// - Throws: `MappedFileError` naming the path and the `errno` text if the file cannot
    ///   be opened, inspected or mapped.
    public init(path: String) throws(MappedFileError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw MappedFileError(path: path, message: "cannot open '\(path)': \(MappedFile.errnoText())")
        }
        defer { _ = close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw MappedFileError(path: path, message: "cannot stat '\(path)': \(MappedFile.errnoText())")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw MappedFileError(path: path, message: "'\(path)' is not a regular file")
        }
        let size = Int(st.st_size)
        guard size > 0 else {
            base = nil
            count = 0
            isMapped = false
            return
        }
        guard let ptr = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), ptr != MAP_FAILED else {
            throw MappedFileError(path: path, message: "cannot mmap '\(path)' (\(size) bytes): \(MappedFile.errnoText())")
        }
        base = UnsafeRawPointer(ptr)
        count = size
        isMapped = true
    }

    /// Wraps a private copy of `bytes` (for tests and in-memory files).
    public init(copying bytes: [UInt8]) {
        count = bytes.count
        isMapped = false
        guard !bytes.isEmpty else {
            base = nil
            return
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        bytes.withUnsafeBytes { src in
            buffer.copyMemory(from: src.baseAddress!, byteCount: src.count)
        }
        base = UnsafeRawPointer(buffer)
    }

    deinit {
        guard let base else { return }
        if isMapped {
            _ = munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    /// Gives back this process's copies of the whole 4 KiB pages among the `byteCount` bytes at
    /// `start`, for bytes copied elsewhere: they leave the resident set, and a later read maps them
    /// in from the file again (the mapping is read-only, so nothing is lost). Does nothing for an
    /// owned copy or for bytes outside the mapping.
    public func dropPages(from start: UnsafeRawPointer, byteCount: Int) {
        guard isMapped, let base, start >= base, byteCount >= 0, start - base <= count - byteCount else { return }
        let offset = start - base
        let firstPage = (offset + 4095) / 4096 * 4096, endPage = (offset + byteCount) / 4096 * 4096
        guard endPage > firstPage else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + firstPage), endPage - firstPage, MADV_DONTNEED)
    }

    private static func errnoText() -> String {
        let code = errno
        if let s = strerror(code) {
            return "\(String(cString: s)) (errno \(code))"
        }
        return "errno \(code)"
    }
}
