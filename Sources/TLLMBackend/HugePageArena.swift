// Where large weights live: anonymous memory the kernel is asked to back with 2 MiB pages.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Memory for large tensors in 2 MiB-aligned anonymous mappings marked `MADV_HUGEPAGE`, so that the
/// kernel backs them with transparent huge pages.
///
/// Decode streams every weight once per token. On 4 KiB pages that is a TLB miss every 64 cache
/// lines, and the hardware prefetchers stop at every page boundary; on 2 MiB pages neither happens
/// (Docs/Performance.md, tenth pass: batch-1 decode 17–20 % faster than from the heap).
///
/// Invariants: tensors of at least ``minimumBytes`` are placed front to back, 4 KiB-aligned, in
/// regions of ``regionBytes``; one over a quarter of that gets a region of its own. Space is never reused, so a
/// placement is zero-filled. Each placement keeps its region alive; the arena itself holds only
/// the region it is filling, and weakly, so a region is unmapped when its last tensor is freed.
/// Where transparent huge pages are off the regions are ordinary pages; where mapping fails, or
/// the arena is switched off (``isEnabled``, or `TLLM_HUGE_PAGES=0` in the environment),
/// ``place(byteCount:)`` returns nil and the caller uses the heap.
public final class HugePageArena: Sendable {
    /// The arena the Builder and the engine-file loader place weights in (``Tensor/onHugePages(_:)``).
    public static let shared = HugePageArena()

    /// The huge page size on x86-64 Linux (and arm64 Linux with 4 KiB base pages).
    public static let hugePageBytes = 2 << 20
    /// The smallest tensor placed here: smaller ones (norm weights, biases) stay on the heap.
    public let minimumBytes: Int
    /// The size of a shared region (a multiple of the huge page size).
    public let regionBytes: Int

    /// The region being filled, held weakly, and how far it is used.
    private struct Cursor {
        weak var region: HugePageRegion?
        var used = 0
    }
    private let cursor = Mutex(Cursor())
    private let enabled: Atomic<Bool>

    /// Creates an arena; `enabled` defaults to the environment's `TLLM_HUGE_PAGES` (off for `0`).
    public init(minimumBytes: Int = 64 << 10, regionBytes: Int = 32 << 20,
                enabled: Bool = getenv("TLLM_HUGE_PAGES").map { String(cString: $0) != "0" } ?? true) {
        precondition(minimumBytes > 0 && regionBytes > 0 && regionBytes % Self.hugePageBytes == 0)
        self.minimumBytes = minimumBytes
        self.regionBytes = regionBytes
        self.enabled = Atomic(enabled)
    }

    /// Whether tensors placed from now on come from the arena (those already placed stay).
    public var isEnabled: Bool {
        get { enabled.load(ordering: .relaxed) }
        set { enabled.store(newValue, ordering: .relaxed) }
    }

    /// Zero-filled, 4 KiB-aligned memory for `byteCount` bytes.
    /// - Parameter byteCount: the tensor's size.
    /// - Returns: the memory and the region that keeps it mapped (retain the region as long as the
    ///   memory is used), or nil for a tensor under ``minimumBytes``, with the arena switched off,
    ///   or when the system refuses the mapping.
    public func place(byteCount: Int) -> (memory: UnsafeMutableRawPointer, region: HugePageRegion)? {
        guard byteCount >= minimumBytes, isEnabled else { return nil }
        let size = (byteCount + 4095) / 4096 * 4096
        if size > regionBytes / 4 {
            guard let own = HugePageRegion(byteCount: size) else { return nil }
            return (own.base, own)
        }
        return cursor.withLock { cursor in
            if let region = cursor.region, cursor.used + size <= region.byteCount {
                defer { cursor.used += size }
                return (region.base + cursor.used, region)
            }
            guard let region = HugePageRegion(byteCount: regionBytes) else { return nil }
            cursor = Cursor(region: region, used: size)
            return (region.base, region)
        }
    }
}

/// One 2 MiB-aligned anonymous mapping, marked `MADV_HUGEPAGE`, unmapped when the last tensor
/// placed in it is freed.
public final class HugePageRegion: @unchecked Sendable {
    /// Start of the mapping (2 MiB-aligned).
    public let base: UnsafeMutableRawPointer
    /// Length of the mapping: `byteCount` rounded up to whole huge pages.
    public let byteCount: Int

    /// Maps at least `byteCount` bytes, or nil if the system refuses.
    init?(byteCount: Int) {
        let page = HugePageArena.hugePageBytes
        let size = (byteCount + page - 1) / page * page
        // Map a huge page more than needed, then trim both ends to a 2 MiB boundary.
        guard let raw = mmap(nil, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              raw != MAP_FAILED else { return nil }
        let start = (Int(bitPattern: raw) + page - 1) / page * page, head = start - Int(bitPattern: raw)
        if head > 0 { munmap(raw, head) }
        munmap(UnsafeMutableRawPointer(bitPattern: start + size), page - head)   // head < page: never empty
        base = UnsafeMutableRawPointer(bitPattern: start)!
        self.byteCount = size
        #if os(Linux)
        _ = madvise(base, size, MADV_HUGEPAGE)   // only advice: where it is refused the pages stay small
        #endif
    }

    deinit { munmap(base, byteCount) }
}
