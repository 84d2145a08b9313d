// The float32 linear over 8-row interleaved GGUF weights against an independent Swift rendering
// of its arithmetic (linear_x8.c's canonical order).
#if canImport(Glibc)
import Glibc
#endif
import Testing
import TLLMBackend
import TLLMKernels

/// What the float32 x8 path defines, written out in Swift from the GGUF rows.
///
/// Per token: c = clamp(126 − exponent(max |x|), 0, 127) (126 if some input is not finite); per
/// 32-column block, S = the block's input sum ((x0..7 + x8..15) + (x16..23 + x24..31) lane-wise,
/// then ((0+4) + (2+6)) + ((1+5) + (3+7))), scaled by 2^(c − 149). Slot p < 32 of a block is a
/// column and a bit position: Q4 nibble n = p mod 8 of code dword g = p / 8 is column
/// 4g + n/2 + 16·(n mod 2) at bit 4n (n < 5) or 4n − 12; Q8_0 byte p is column p at bit
/// 8·(p mod 2). Per row, F = a chain of fma(f, x[column] · 2^(c − pos), F) over the slots, f the
/// float whose bits are the code (Q8_0: the byte + 128) shifted to pos — a subnormal — then
/// y = fma(d, F, y), y = fma(m', S, y) with m' = m, −8d or −128d, and the result y · 2^(149 − c)
/// in two exact steps.
func x8FloatReference(_ bytes: [UInt8], type: DType, rows n: Int, columns k: Int, x: [Float], tokens: Int) -> [Float] {
    let blockBytes = type.rowBytes(32)!, nb = k / 32, codes = type == .q4_1 ? 4 : 2, q8 = type == .q8_0
    func half(_ i: Int) -> Float { Float(Float16(bitPattern: UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8)) }
    func power(_ e: Int) -> Float { Float(sign: .plus, exponent: e, significand: 1) }
    func slot(_ p: Int) -> (column: Int, pos: Int) {
        if q8 { return (p, 8 * (p % 2)) }
        let g = p / 8, m = p % 8
        return (4 * g + m / 2 + 16 * (m % 2), m < 5 ? 4 * m : 4 * m - 12)
    }
    var y = [Float](repeating: 0, count: tokens * n)
    for t in 0..<tokens {
        let row = Array(x[(t * k)..<((t + 1) * k)])
        let finite = row.allSatisfy(\.isFinite), largest = row.map(abs).max()!
        let c = !finite || largest == 0 ? 126 : min(127, max(0, 126 - Int(largest.exponent)))
        let sums = (0..<nb).map { b -> Float in
            let v = (0..<8).map { j -> Float in
                let at = 32 * b + j
                return (row[at] + row[at + 8]) + (row[at + 16] + row[at + 24])
            }
            return (((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))) * power(c - 149)
        }
        for r in 0..<n {
            var acc: Float = 0
            for b in 0..<nb {
                let at = (r * nb + b) * blockBytes
                var F: Float = 0
                for p in 0..<32 {
                    let (column, pos) = slot(p)
                    let code: UInt32
                    if q8 {
                        code = UInt32(bytes[at + 2 + column] ^ 0x80)
                    } else {
                        let byte = bytes[at + codes + column % 16]
                        code = UInt32(column < 16 ? byte & 0x0f : byte >> 4)
                    }
                    F = F.addingProduct(Float(bitPattern: code << pos), row[32 * b + column] * power(c - pos))
                }
                let d = half(at)
                let m: Float = type == .q4_1 ? half(at + 2) : type == .q4_0 ? -8 * d : -128 * d
                acc = acc.addingProduct(d, F)
                acc = acc.addingProduct(m, sums[b])
            }
            let k = 149 - c, k1 = min(k, 127)
            y[t * n + r] = (acc * power(k1)) * power(k - k1)
        }
    }
    return y
}

@Suite("float32 linear over interleaved GGUF weights", .serialized)
struct InterleavedFloatKernelTests {
    /// The grouped layout a float32 gguf_native engine stores (``DType/q4_1x8g``, …).
    static func interleavedTensor(_ bytes: [UInt8], _ type: DType, rows n: Int, columns k: Int) -> Tensor {
        let storage = TensorStorage(byteCount: bytes.count) { buffer in
            bytes.withUnsafeBytes { tllm_repack_x8g(type.kernelType, $0.baseAddress, Int64(n), Int64(k), buffer.baseAddress) }
        }
        return Tensor(shape: [n, k], dtype: type.interleaved(for: .float32)!, storage: storage)
    }

    static func ggufTensor(_ bytes: [UInt8], _ type: DType, rows n: Int, columns k: Int) -> Tensor {
        Tensor(shape: [n, k], dtype: type, storage: TensorStorage(byteCount: bytes.count) { b in
            bytes.withUnsafeBytes { b.copyMemory(from: $0) }
        })
    }

    @Test("equals its definition bit for bit, for every interleaved type, 1–13 tokens and every ISA path",
          arguments: [DType.q4_0, .q4_1, .q8_0])
    func matchesDefinition(type: DType) {
        // 11 row blocks: decode tiles of 8, 4, 2 and 1 row blocks, pair tiles of 1–8 tokens (AVX-512F)
        // and single-row-block panels all run.
        let (n, k) = (88, 96)
        let bytes = randomBlocks(type, rows: n, columns: k, seed: 41)
        let w = Self.interleavedTensor(bytes, type, rows: n, columns: k)
        #expect(w.activations == .float32)
        expectEveryPath(w, matches: { x8FloatReference(bytes, type: type, rows: n, columns: k, x: $0, tokens: $1) },
                        tokenCounts: [1, 2, 3, 5, 7, 9, 13], "\(type)")
    }

    @Test("agrees with the exact product to float32 rounding of the terms it forms, outliers included",
          arguments: [DType.q4_0, .q4_1, .q8_0])
    func closeToExact(type: DType) {
        let (n, k, tokens) = (32, 256, 4)
        let bytes = randomBlocks(type, rows: n, columns: k, seed: 7)
        let x = Int8ActivationKernelTests.activations(tokens: tokens, columns: k)   // 2e4 outliers
        let y = backendLinear(Self.interleavedTensor(bytes, type, rows: n, columns: k), x, tokens: tokens)
        let w = Self.ggufTensor(bytes, type, rows: n, columns: k).floats()
        let blockBytes = type.rowBytes(32)!, nb = k / 32, largestCode: Double = type == .q8_0 ? 255 : 15
        func half(_ i: Int) -> Double { Double(Float16(bitPattern: UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8)) }
        var worstRelative = 0.0
        for t in 0..<tokens {
            for r in 0..<n {
                let exact = (0..<k).reduce(0.0) { $0 + Double(w[r * k + $1]) * Double(x[t * k + $1]) }
                // The terms the kernel adds: per block d · Σ u·x (u ≤ 15 or 255) and m' · Σx.
                var magnitude = 0.0
                for b in 0..<nb {
                    let at = (r * nb + b) * blockBytes, d = half(at)
                    let m = type == .q4_1 ? half(at + 2) : type == .q4_0 ? -8 * d : -128 * d
                    let sumAbs = (0..<32).reduce(0.0) { $0 + abs(Double(x[t * k + 32 * b + $1])) }
                    magnitude += (largestCode * abs(d) + abs(m)) * sumAbs
                }
                let error = abs(Double(y[t * n + r]) - exact)
                worstRelative = max(worstRelative, error / magnitude)
                #expect(error <= 64 * Double(Float.ulpOfOne) * magnitude, "row \(r) token \(t): error \(error), magnitude \(magnitude)")
            }
        }
        #expect(worstRelative > 0)
    }

    @Test("An Inf or NaN input leaves its token's outputs non-finite on every path and the other tokens alone",
          arguments: [DType.q4_1, .q8_0])
    func nonFiniteInputs(type: DType) {
        let (n, k) = (16, 128)
        let w = Self.interleavedTensor(randomBlocks(type, rows: n, columns: k, seed: 2), type, rows: n, columns: k)
        expectPoisonStaysInItsToken(w, poisoned: { !$0.isFinite }, poisonedBitsAgree: true, "\(type)")
    }

    @Test("Grouped types take float32 inputs whatever the engine asks; the 8-row types take int8 when asked",
          arguments: [DType.q4_0, .q4_1, .q8_0])
    func precisionFollowsTheBuildSetting(type: DType) {
        let (n, k) = (16, 64)
        let w = Self.interleavedTensor(randomBlocks(type, rows: n, columns: k, seed: 5), type, rows: n, columns: k)
        #expect(w.activations == .float32 && w.multiplied(with: .int8).activations == .float32)
        #expect(type.interleaved(for: .int8)!.takesInt8Activations && !w.dtype.takesInt8Activations)
    }

    @Test("Rows read out of the grouped layout equal the GGUF rows, a group of fewer than 8 row blocks included",
          arguments: [DType.q4_0, .q4_1, .q8_0])
    func rowsReadOut(type: DType) {
        let (n, k) = (88, 96)   // a group of 8 row blocks, then one of 3
        let bytes = randomBlocks(type, rows: n, columns: k, seed: 13)
        let w = Self.interleavedTensor(bytes, type, rows: n, columns: k)
        let expected = Self.ggufTensor(bytes, type, rows: n, columns: k).floats()
        #expect(w.floats().map(\.bitPattern) == expected.map(\.bitPattern))
        for r in [0, 7, 8, 63, 64, 71, 87] {
            var row = [Float](repeating: .nan, count: k)
            tllm_matrix_row(w.pointer, w.dtype.kernelType, Int64(n), Int64(k), Int64(r), &row)
            #expect(row.map(\.bitPattern) == expected[(r * k)..<((r + 1) * k)].map(\.bitPattern), "row \(r)")
        }
    }

    @Test("The decode prefetch distance, off or far past the matrix's end, changes no result",
          arguments: [DType.q4_1, .q8_0])
    func prefetchChangesNothing(type: DType) {
        // Two full groups and one of 3 row blocks: the tiles that prefetch and the one that does not.
        let (n, k) = (152, 128)
        let bytes = randomBlocks(type, rows: n, columns: k, seed: 23)
        let w = Self.interleavedTensor(bytes, type, rows: n, columns: k)
        let x = Int8ActivationKernelTests.activations(tokens: 2, columns: k)
        let saved = tllm_decode_prefetch()
        defer { tllm_set_decode_prefetch(saved) }
        let outputs = [0, 1, 4, 64].map { ahead in
            tllm_set_decode_prefetch(Int32(ahead))
            return [1, 2].map { backendLinear(w, Array(x.prefix($0 * k)), tokens: $0).map(\.bitPattern) }
        }
        #expect(tllm_decode_prefetch() == 64)
        for output in outputs.dropFirst() { #expect(output == outputs[0]) }
        let reference = [1, 2].map { x8FloatReference(bytes, type: type, rows: n, columns: k, x: Array(x.prefix($0 * k)), tokens: $0).map(\.bitPattern) }
        #expect(outputs[0] == reference)
    }

    @Test("An 8-row interleaved matrix (an older float32 engine's layout) still multiplies float32 inputs exactly",
          arguments: [DType.q4_1, .q8_0])
    func olderLayoutStillRuns(type: DType) {
        let (n, k, tokens) = (24, 128, 2)
        let bytes = randomBlocks(type, rows: n, columns: k, seed: 17)
        let storage = TensorStorage(byteCount: bytes.count) { buffer in
            bytes.withUnsafeBytes { tllm_repack_x8(type.kernelType, $0.baseAddress, Int64(n), Int64(k), buffer.baseAddress) }
        }
        let old = Tensor(shape: [n, k], dtype: type.interleaved(for: .int8)!, storage: storage).multiplied(with: .float32)
        let x = Int8ActivationKernelTests.activations(tokens: tokens, columns: k)
        let y = backendLinear(old, x, tokens: tokens)
        let gguf = backendLinear(Self.ggufTensor(bytes, type, rows: n, columns: k), x, tokens: tokens)
        #expect(y.map(\.bitPattern) == gguf.map(\.bitPattern))
    }

    @Test("Inputs scaled by a power of two, tiny or huge, keep the definition's bits and scale the result exactly",
          arguments: [-100, -10, 30, 100])
    func inputScale(exponent: Int) {
        let (n, k, tokens) = (16, 128, 2)
        let bytes = randomBlocks(.q4_1, rows: n, columns: k, seed: 9)
        let w = Self.interleavedTensor(bytes, .q4_1, rows: n, columns: k)
        let plainX = Int8ActivationKernelTests.activations(tokens: tokens, columns: k)
        let scale = Float(sign: .plus, exponent: exponent, significand: 1)
        let x = plainX.map { $0 * scale }
        let expected = x8FloatReference(bytes, type: .q4_1, rows: n, columns: k, x: x, tokens: tokens)
        let plain = backendLinear(w, plainX, tokens: tokens)
        for path in isaPaths {
            let y = backendLinear(w, x, tokens: tokens, path: path)
            #expect(y.map(\.bitPattern) == expected.map(\.bitPattern), "2^\(exponent), \(path) path")
            if exponent == -100 {
                // The largest input is 2e4 · 2^-100: the scale its products take is capped, and the
                // tiniest inputs underflow (as they would in any float32 product).
                let largest = Double(plain.map(abs).max()!)
                #expect(zip(y, plain).allSatisfy { abs(Double($0) / Double(scale) - Double($1)) <= 1e-6 * largest }, "\(path) path")
            } else {
                #expect(y.map(\.bitPattern) == plain.map { ($0 * scale).bitPattern }, "2^\(exponent), \(path) path")
            }
        }
    }

#if canImport(Glibc) && arch(x86_64)
    @Test("A caller's flush-to-zero and denormals-are-zero modes change no result and stay set afterwards")
    func callerFloatingPointModes() {
        let (n, k, tokens) = (24, 96, 3)
        let bytes = randomBlocks(.q8_0, rows: n, columns: k, seed: 3)
        let w = Self.interleavedTensor(bytes, .q8_0, rows: n, columns: k)
        let x = Int8ActivationKernelTests.activations(tokens: tokens, columns: k)
        let expected = backendLinear(w, x, tokens: tokens)
        var saved = fenv_t(), flushing = fenv_t()
        fegetenv(&saved)
        flushing = saved
        flushing.__mxcsr |= 0x8040   // FTZ | DAZ, as code built with -ffast-math leaves them
        fesetenv(&flushing)
        var outputs: [[UInt32]] = []
        for tokenCount in [1, tokens] {
            for path in isaPaths {
                outputs.append(backendLinear(w, Array(x[0..<(tokenCount * k)]), tokens: tokenCount, path: path).map(\.bitPattern))
            }
        }
        var after = fenv_t()
        fegetenv(&after)
        fesetenv(&saved)
        #expect(after.__mxcsr & 0x8040 == 0x8040)
        for (i, y) in outputs.enumerated() {
            let count = i < isaPaths.count ? n : tokens * n
            #expect(y == expected[0..<count].map(\.bitPattern), "run \(i)")
        }
    }
#endif
}
