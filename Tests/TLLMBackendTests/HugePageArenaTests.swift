// The huge-page arena: where large tensors are placed, that placements are zeroed and apart, and
// that a region is unmapped with its last tensor.
import Testing
import TLLMBackend

@Suite("Huge-page arena")
struct HugePageArenaTests {
    @Test("Large tensors share a 2 MiB-aligned region front to back, 4 KiB apart; small ones are refused")
    func placementsFillARegionInOrder() throws {
        let arena = HugePageArena(minimumBytes: 64 << 10, regionBytes: 4 << 20, enabled: true)
        #expect(arena.place(byteCount: 1000) == nil)
        let a = try #require(arena.place(byteCount: 100_000)), b = try #require(arena.place(byteCount: 70_000))
        #expect(a.region === b.region)
        #expect(Int(bitPattern: a.region.base) % HugePageArena.hugePageBytes == 0)
        #expect(a.memory == a.region.base)
        #expect(b.memory == a.memory + 102_400)   // 100 000 rounded up to whole 4 KiB pages
        // Past the region's end a new region starts; over a quarter region a tensor gets its own.
        let more = try (0..<4).map { _ in try #require(arena.place(byteCount: 1 << 20)) }
        #expect(more.prefix(3).allSatisfy { $0.region === a.region })
        #expect(more[3].region !== a.region && more[3].memory == more[3].region.base)
        let big = try #require(arena.place(byteCount: 3 << 20))
        #expect(big.region !== more[3].region && big.region.byteCount == 4 << 20)
        #expect(try #require(arena.place(byteCount: 1 << 20)).region === more[3].region)
    }

    @Test("A placement is zero-filled and writable, and different placements do not overlap")
    func placementsAreZeroedAndDisjoint() throws {
        let arena = HugePageArena(regionBytes: 4 << 20, enabled: true)
        let sizes = [65_536, 200_000, 90_001]
        let placed = try sizes.map { try #require(arena.place(byteCount: $0)) }
        for (p, n) in zip(placed, sizes) {
            let bytes = UnsafeMutableRawBufferPointer(start: p.memory, count: n)
            #expect(bytes.allSatisfy { $0 == 0 })
            bytes.initializeMemory(as: UInt8.self, repeating: UInt8(n % 251))
        }
        for (p, n) in zip(placed, sizes) {
            #expect(UnsafeRawBufferPointer(start: p.memory, count: n).allSatisfy { $0 == UInt8(n % 251) })
        }
    }

    @Test("A region lives as long as a tensor in it, and no longer")
    func regionIsFreedWithItsLastTensor() throws {
        let arena = HugePageArena(regionBytes: 4 << 20, enabled: true)
        weak var region: HugePageRegion?
        do {
            let placed = try #require(arena.place(byteCount: 100_000))
            let storage = TensorStorage(borrowing: UnsafeRawPointer(placed.memory), byteCount: 100_000, owner: placed.region)
            region = placed.region
            #expect(region != nil && storage.byteCount == 100_000)
        }
        #expect(region == nil)
    }

    @Test("Switched off, the arena places nothing and tensors come from the heap")
    func switchedOffPlacesNothing() {
        let arena = HugePageArena(enabled: false)
        #expect(arena.place(byteCount: 1 << 20) == nil)
        arena.isEnabled = true
        #expect(arena.place(byteCount: 1 << 20) != nil)
    }

    @Test("onHugePages copies a large tensor into the arena, bytes intact, and leaves a small one where it is")
    func onHugePagesCopiesLargeTensors() {
        let arena = HugePageArena(regionBytes: 4 << 20, enabled: true)
        let large = Tensor(shape: [256, 128], floats: (0..<32768).map { Float($0) * 0.5 })   // 128 KiB
        let small = Tensor(shape: [64], floats: (0..<64).map(Float.init))
        let moved = large.onHugePages(arena), kept = small.onHugePages(arena)
        #expect(moved.storage.hugePageRegion != nil && large.storage.hugePageRegion == nil)
        #expect(moved.pointer != large.pointer && moved.shape == large.shape && moved.dtype == large.dtype)
        #expect(moved.floats() == large.floats())
        #expect(kept.pointer == small.pointer && kept.storage.hugePageRegion == nil)
    }
}
