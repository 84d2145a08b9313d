// Stacking weight matrices row-wise (how the Builder fuses Q, K and V): the bytes of the stacked
// tensor are those of the stacked rows stored afresh, for row-major and interleaved types alike.
import Testing
import TLLMBackend
import TLLMKernels

@Suite("Tensor row concatenation")
struct TensorConcatenationTests {
    /// `bytes` (GGUF rows of `type`) stored as `stored`: as they are, or repacked 8-row or grouped.
    static func tensor(_ bytes: [UInt8], _ type: DType, stored: DType, rows n: Int, columns k: Int) -> Tensor {
        let count = stored.byteCount(shape: [n, k])!
        let storage = TensorStorage(byteCount: count) { buffer in
            bytes.withUnsafeBytes { src in
                switch stored {
                case type: buffer.copyMemory(from: src)
                case type.interleaved(for: .float32): tllm_repack_x8g(type.kernelType, src.baseAddress, Int64(n), Int64(k), buffer.baseAddress)
                default: tllm_repack_x8(type.kernelType, src.baseAddress, Int64(n), Int64(k), buffer.baseAddress)
                }
            }
        }
        return Tensor(shape: [n, k], dtype: stored, storage: storage)
    }

    static func bytes(_ t: Tensor) -> [UInt8] { Array(UnsafeRawBufferPointer(start: t.pointer, count: t.byteCount)) }

    @Test("Stacked Q4_1 and Q8_0 matrices, plain, 8-row and grouped, hold the bytes of their stacked rows stored afresh",
          arguments: [DType.q4_1, .q8_0])
    func stackingEqualsStoringTheStackedRows(type: DType) throws {
        let k = 96, rows = [128, 64, 40]   // Q, K, V sized: whole groups, then a partial last one
        let parts = rows.enumerated().map { i, n in randomBlocks(type, rows: n, columns: k, seed: UInt64(20 + i)) }
        let all = parts.reduce([], +), total = rows.reduce(0, +)
        for stored in [type, type.interleaved(for: .int8)!, type.interleaved(for: .float32)!] {
            let stacked = try #require(Tensor.concatenatingRows(zip(parts, rows).map { Self.tensor($0, type, stored: stored, rows: $1, columns: k) }),
                                       "\(stored)")
            #expect(stacked.shape == [total, k] && stacked.dtype == stored)
            #expect(Self.bytes(stacked) == Self.bytes(Self.tensor(all, type, stored: stored, rows: total, columns: k)), "\(stored)")
        }
    }

    @Test("A grouped part that is not whole groups of 64 rows, unless it comes last, does not stack")
    func groupedPartsMustFillTheirGroups() {
        let k = 64
        func part(_ n: Int, _ stored: DType) -> Tensor {
            Self.tensor(randomBlocks(.q4_1, rows: n, columns: k, seed: UInt64(n)), .q4_1, stored: stored, rows: n, columns: k)
        }
        #expect(Tensor.concatenatingRows([part(32, .q4_1x8g), part(64, .q4_1x8g)]) == nil)
        #expect(Tensor.concatenatingRows([part(64, .q4_1x8g), part(32, .q4_1x8g)])?.shape == [96, k])
        // The 8-row layout only needs whole row blocks, which its tensors always are.
        #expect(Tensor.concatenatingRows([part(32, .q4_1x8), part(64, .q4_1x8)])?.shape == [96, k])
    }

    @Test("Parts of different types or row lengths, a single part, or row-scaled vectors do not stack")
    func mismatchedPartsDoNotStack() {
        let a = Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        #expect(Tensor.concatenatingRows([a]) == nil)
        #expect(Tensor.concatenatingRows([a, Tensor(shape: [1, 4], floats: [1, 2, 3, 4])]) == nil)
        #expect(Tensor.concatenatingRows([a, Tensor(shape: [6], floats: [1, 2, 3, 4, 5, 6])]) == nil)
        let f16 = Tensor(shape: [1, 3], dtype: .f16, storage: TensorStorage(byteCount: 6) { _ in })
        #expect(Tensor.concatenatingRows([a, f16]) == nil)
        let stacked = Tensor.concatenatingRows([a, Tensor(shape: [1, 3], floats: [7, 8, 9])])
        #expect(stacked?.shape == [3, 3] && stacked?.floats() == [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let bias = Tensor.concatenatingRows([Tensor(shape: [2], floats: [1, 2]), Tensor(shape: [1], floats: [3])])
        #expect(bias?.shape == [3] && bias?.floats() == [1, 2, 3])
    }
}
