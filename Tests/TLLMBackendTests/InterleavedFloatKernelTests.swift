// The float32 linear over 8-row interleaved Q4 weights against an independent Swift rendering of
// its arithmetic (linear_x8.c's canonical order).
import Testing
import TLLMBackend
import TLLMKernels

/// What the float32 x8 path defines, written out in Swift from the GGUF rows: per token and
/// 32-column block, S = the block's input sum ((x0..7 + x8..15) + (x16..23 + x24..31) lane-wise,
/// then ((0+4) + (2+6)) + ((1+5) + (3+7))); per row, F = a chain of fma(1 + u/16, x, F) over the
/// block's nibbles u in the layout's order (column 4g + n/2 + 16·(n mod 2) for g < 4, n < 8), then
/// y = fma(16d, F, y) and y = fma(c, S, y) with c = m − 16d rounded once (Q4_1) or −24d (Q4_0).
func x8FloatReference(_ bytes: [UInt8], type: DType, rows n: Int, columns k: Int, x: [Float], tokens: Int) -> [Float] {
    let blockBytes = type.rowBytes(32)!, nb = k / 32, codes = type == .q4_1 ? 4 : 2
    func half(_ i: Int) -> Float { Float(Float16(bitPattern: UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8)) }
    var y = [Float](repeating: 0, count: tokens * n)
    for t in 0..<tokens {
        let sums = (0..<nb).map { b -> Float in
            let v = (0..<8).map { j -> Float in
                let at = t * k + 32 * b + j
                return (x[at] + x[at + 8]) + (x[at + 16] + x[at + 24])
            }
            return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
        }
        for r in 0..<n {
            var acc: Float = 0
            for b in 0..<nb {
                let at = (r * nb + b) * blockBytes
                var F: Float = 0
                for g in 0..<4 {
                    for m in 0..<8 {
                        let column = 4 * g + m / 2 + 16 * (m % 2)
                        let byte = bytes[at + codes + column % 16]
                        let u = column < 16 ? byte & 0x0f : byte >> 4
                        F = F.addingProduct(1 + Float(u) / 16, x[t * k + 32 * b + column])
                    }
                }
                let d = half(at)
                let c: Float = type == .q4_1 ? half(at + 2).addingProduct(-16, d) : -24 * d
                acc = acc.addingProduct(16 * d, F)
                acc = acc.addingProduct(c, sums[b])
            }
            y[t * n + r] = acc
        }
    }
    return y
}

@Suite("float32 linear over interleaved Q4 weights", .serialized)
struct InterleavedFloatKernelTests {
    static func interleavedTensor(_ bytes: [UInt8], _ type: DType, rows n: Int, columns k: Int) -> Tensor {
        let storage = TensorStorage(byteCount: bytes.count) { buffer in
            bytes.withUnsafeBytes { tllm_repack_x8(type.kernelType, $0.baseAddress, Int64(n), Int64(k), buffer.baseAddress) }
        }
        return Tensor(shape: [n, k], dtype: type.interleaved!, storage: storage)
    }

    static func ggufTensor(_ bytes: [UInt8], _ type: DType, rows n: Int, columns k: Int) -> Tensor {
        Tensor(shape: [n, k], dtype: type, storage: TensorStorage(byteCount: bytes.count) { b in
            bytes.withUnsafeBytes { b.copyMemory(from: $0) }
        })
    }

    @Test("equals its definition bit for bit, for both Q4 types, 1–13 tokens and every ISA path",
          arguments: [DType.q4_0, .q4_1])
    func matchesDefinition(type: DType) {
        // 11 row blocks: decode tiles of 8, 4, 2 and 1 row blocks and panels of 4 and 1 all run.
        let (n, k) = (88, 96)
        let bytes = randomBlocks(type, rows: n, columns: k, seed: 41)
        let w = Self.interleavedTensor(bytes, type, rows: n, columns: k)
        #expect(w.activations == .float32)
        expectEveryPath(w, matches: { x8FloatReference(bytes, type: type, rows: n, columns: k, x: $0, tokens: $1) },
                        tokenCounts: [1, 2, 3, 5, 7, 9, 13], "\(type)")
    }

    @Test("agrees with the exact product to float32 rounding of the terms it forms, outliers included",
          arguments: [DType.q4_0, .q4_1])
    func closeToExact(type: DType) {
        let (n, k, tokens) = (32, 256, 4)
        let bytes = randomBlocks(type, rows: n, columns: k, seed: 7)
        let x = Int8ActivationKernelTests.activations(tokens: tokens, columns: k)   // 2e4 outliers
        let y = backendLinear(Self.interleavedTensor(bytes, type, rows: n, columns: k), x, tokens: tokens)
        let w = Self.ggufTensor(bytes, type, rows: n, columns: k).floats()
        let blockBytes = type.rowBytes(32)!, nb = k / 32
        func half(_ i: Int) -> Double { Double(Float16(bitPattern: UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8)) }
        var worstRelative = 0.0
        for t in 0..<tokens {
            for r in 0..<n {
                let exact = (0..<k).reduce(0.0) { $0 + Double(w[r * k + $1]) * Double(x[t * k + $1]) }
                // The terms the factored form adds: per block 16d · Σ f·x (f < 2) and c · Σx.
                var magnitude = 0.0
                for b in 0..<nb {
                    let at = (r * nb + b) * blockBytes, d = half(at)
                    let c = type == .q4_1 ? half(at + 2) - 16 * d : -24 * d
                    let sumAbs = (0..<32).reduce(0.0) { $0 + abs(Double(x[t * k + 32 * b + $1])) }
                    magnitude += (32 * abs(d) + abs(c)) * sumAbs
                }
                let error = abs(Double(y[t * n + r]) - exact)
                worstRelative = max(worstRelative, error / magnitude)
                #expect(error <= 64 * Double(Float.ulpOfOne) * magnitude, "row \(r) token \(t): error \(error), magnitude \(magnitude)")
            }
        }
        #expect(worstRelative > 0)
    }

    @Test("An Inf or NaN input leaves its token's outputs non-finite on every path and the other tokens alone")
    func nonFiniteInputs() {
        let (n, k, tokens) = (16, 128, 3)
        let w = Self.interleavedTensor(randomBlocks(.q4_1, rows: n, columns: k, seed: 2), .q4_1, rows: n, columns: k)
        for bad in [Float.nan, .infinity] {
            var x = Int8ActivationKernelTests.activations(tokens: tokens, columns: k)
            x[k + 40] = bad   // token 1, second block
            var outputs: [[UInt32]] = []
            for path in isaPaths {
                let y = backendLinear(w, x, tokens: tokens, path: path)
                #expect(y[n..<(2 * n)].allSatisfy { !$0.isFinite }, "\(bad), \(path)")
                #expect(y[0..<n].allSatisfy { $0.isFinite } && y[(2 * n)...].allSatisfy { $0.isFinite }, "\(bad), \(path)")
                outputs.append(y.map(\.bitPattern))
            }
            #expect(outputs[1] == outputs[0] && outputs[2] == outputs[0], "\(bad): paths differ")
        }
    }

    @Test("int8 inputs are still there for the interleaved Q4 types, and Q8_0 rows take only them")
    func precisionFollowsTheBuildSetting() {
        let (n, k) = (16, 64)
        let q4 = Self.interleavedTensor(randomBlocks(.q4_1, rows: n, columns: k, seed: 5), .q4_1, rows: n, columns: k)
        #expect(q4.activations == .float32 && q4.multiplied(with: .int8).activations == .int8)
        let q8 = Self.interleavedTensor(randomBlocks(.q8_0, rows: n, columns: k, seed: 5), .q8_0, rows: n, columns: k)
        #expect(q8.activations == .int8 && q8.multiplied(with: .float32).activations == .int8)
    }
}
