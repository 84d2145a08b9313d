// The int8-activation (W4A8) linear against an independent Swift rendering of its arithmetic.
import Testing
import TLLMBackend
import TLLMKernels

/// What the W4A8 path defines, written out in Swift: each token's 32-value blocks quantized to
/// int8 (d = amax / 127, q = x · (1/d) rounded half to even; all zero when d is below the
/// smallest normal float), exact integer block sums, then per block
/// y = fma(Σ w·q, d_w · d_x, y) and, for Q4_1, y = fma(m, d_x · Σq, y).
func w4a8Reference(_ bytes: [UInt8], type: DType, rows n: Int, columns k: Int, x: [Float], tokens: Int) -> [Float] {
    let blockBytes = type.rowBytes(32)!, nb = k / 32
    func half(_ i: Int) -> Float { Float(Float16(bitPattern: UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8)) }
    var y = [Float](repeating: 0, count: tokens * n)
    for t in 0..<tokens {
        var q = [Int](repeating: 0, count: k), dx = [Float](repeating: 0, count: nb), sx = dx, qsum = [Int](repeating: 0, count: nb)
        for b in 0..<nb {
            let block = x[(t * k + 32 * b)..<(t * k + 32 * b + 32)]
            let d = block.map { abs($0) }.max()! / 127
            let inverse: Float = d >= .leastNormalMagnitude ? 1 / d : 0
            for i in 0..<32 { q[32 * b + i] = Int(min(127, max(-127, (block[block.startIndex + i] * inverse).rounded(.toNearestOrEven)))) }
            qsum[b] = q[(32 * b)..<(32 * b + 32)].reduce(0, +)
            dx[b] = d
            sx[b] = d * Float(qsum[b])
        }
        for r in 0..<n {
            var acc: Float = 0
            for b in 0..<nb {
                let at = (r * nb + b) * blockBytes
                var isum = 0
                for i in 0..<32 {
                    let w: Int
                    switch type {
                    case .q8_0: w = Int(Int8(bitPattern: bytes[at + 2 + i]))
                    case .q4_0: w = Int(i < 16 ? bytes[at + 2 + i] & 0x0f : bytes[at + 2 + i - 16] >> 4) - 8
                    default: w = Int(i < 16 ? bytes[at + 4 + i] & 0x0f : bytes[at + 4 + i - 16] >> 4)
                    }
                    isum += w * q[32 * b + i]
                }
                acc = acc.addingProduct(Float(isum), half(at) * dx[b])
                if type == .q4_1 { acc = acc.addingProduct(half(at + 2), sx[b]) }
            }
            y[t * n + r] = acc
        }
    }
    return y
}

/// out = x · wᵀ through the CPU backend, on the ISA path named: "native", "avx2" or "scalar".
func backendLinear(_ w: Tensor, _ x: [Float], tokens: Int, path: String = "native") -> [Float] {
    let (n, k) = (w.shape[0], w.shape[1])
    var x = x, y = [Float](repeating: .nan, count: tokens * n)
    if path == "avx2" { tllm_force_avx2(1) }
    if path == "scalar" { tllm_force_scalar(1) }
    x.withUnsafeMutableBufferPointer { xb in
        y.withUnsafeMutableBufferPointer { yb in
            CPUBackend().linear(Matrix(data: xb.baseAddress!, rows: tokens, columns: k), weight: w, bias: nil,
                                into: Matrix(data: yb.baseAddress!, rows: tokens, columns: n))
        }
    }
    tllm_force_avx2(0)
    tllm_force_scalar(0)
    return y
}

let isaPaths = ["native", "avx2", "scalar"]

/// Expects the linear over `w` on every ISA path to give the bits `reference` computes, for
/// each token count, on ``Int8ActivationKernelTests/activations(tokens:columns:)``.
func expectEveryPath(_ w: Tensor, matches reference: (_ x: [Float], _ tokens: Int) -> [Float], tokenCounts: [Int],
                     _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    for tokens in tokenCounts {
        let x = Int8ActivationKernelTests.activations(tokens: tokens, columns: w.shape[1])
        let expected = reference(x, tokens)
        for path in isaPaths {
            let y = backendLinear(w, x, tokens: tokens, path: path)
            #expect(y.map(\.bitPattern) == expected.map(\.bitPattern), "\(label), \(tokens) tokens, \(path) path",
                    sourceLocation: sourceLocation)
        }
    }
}

/// Puts an Inf, then a NaN, into token 1 of 3 (second 32-value block) and expects, on every ISA
/// path, token 1's outputs to satisfy `poisoned`, the other tokens' to stay finite, and the paths
/// to agree bit for bit (on token 1 too when `poisonedBitsAgree`).
func expectPoisonStaysInItsToken(_ w: Tensor, poisoned: (Float) -> Bool, poisonedBitsAgree: Bool, _ label: String,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
    let (n, k, tokens) = (w.shape[0], w.shape[1], 3)
    for bad in [Float.nan, .infinity] {
        var x = Int8ActivationKernelTests.activations(tokens: tokens, columns: k)
        x[k + 40] = bad
        var outputs: [[UInt32]] = []
        for path in isaPaths {
            let y = backendLinear(w, x, tokens: tokens, path: path)
            let tokenPoisoned = y[n..<(2 * n)].allSatisfy { poisoned($0) }
            #expect(tokenPoisoned, "\(label), \(bad), \(path)", sourceLocation: sourceLocation)
            #expect(y[0..<n].allSatisfy(\.isFinite) && y[(2 * n)...].allSatisfy(\.isFinite), "\(label), \(bad), \(path)",
                    sourceLocation: sourceLocation)
            outputs.append(y.map(\.bitPattern))
        }
        let samePaths = outputs[0].indices.allSatisfy { i in
            (!poisonedBitsAgree && i / n == 1) || (outputs[1][i] == outputs[0][i] && outputs[2][i] == outputs[0][i])
        }
        #expect(samePaths, "\(label), \(bad): paths differ", sourceLocation: sourceLocation)
    }
}

@Suite("int8-activation linear", .serialized)
struct Int8ActivationKernelTests {
    /// Activations with an outlier block (2e4, as SmolLM2's hidden state has), an all-zero block
    /// and a block so small that its scale is subnormal (its codes are all zero).
    static func activations(tokens: Int, columns k: Int) -> [Float] {
        var rng = SeededRNG(11)
        var x = (0..<tokens * k).map { _ in Float.random(in: -3...3, using: &rng) }
        for t in 0..<tokens {
            x[t * k + 5] = 2e4 * (t % 2 == 0 ? 1 : -1)
            for i in 32..<64 { x[t * k + i] = 0 }
            for i in 64..<96 { x[t * k + i] = i % 3 == 0 ? 0 : 1e-37 * x[t * k + i] }
        }
        return x
    }

    @Test("equals its definition bit for bit, for every type, token count and ISA path",
          arguments: [DType.q4_0, .q4_1, .q8_0])
    func matchesDefinition(type: DType) {
        let (n, k) = (21, 128)   // two full 8-row blocks and a 5-row tail; four 32-value blocks
        let bytes = randomBlocks(type, rows: n, columns: k, seed: 21)
        let storage = TensorStorage(byteCount: bytes.count) { b in bytes.withUnsafeBytes { b.copyMemory(from: $0) } }
        let w = Tensor(shape: [n, k], dtype: type, storage: storage).multiplied(with: .int8)
        #expect(w.activations == .int8)
        // 9 tokens: the input is quantized on the pool.
        expectEveryPath(w, matches: { w4a8Reference(bytes, type: type, rows: n, columns: k, x: $0, tokens: $1) },
                        tokenCounts: [1, 2, 3, 6, 9], "\(type)")
    }

    @Test("8-row interleaved weights give the same bits as their GGUF rows, and dequantize to the same values, whole or a row at a time",
          arguments: [DType.q4_0, .q4_1, .q8_0])
    func interleavedMatchesDefinition(type: DType) {
        let (n, k) = (24, 128)
        let bytes = randomBlocks(type, rows: n, columns: k, seed: 33)
        let x8 = type.interleaved(for: .int8)!
        let storage = TensorStorage(byteCount: bytes.count) { buffer in
            bytes.withUnsafeBytes { tllm_repack_x8(type.kernelType, $0.baseAddress, Int64(n), Int64(k), buffer.baseAddress) }
        }
        let w = Tensor(shape: [n, k], dtype: x8, storage: storage).multiplied(with: .int8)
        #expect(w.activations == .int8)
        #expect(storage.byteCount == bytes.count && !bytes.elementsEqual(UnsafeRawBufferPointer(start: storage.base, count: bytes.count)))
        let gguf = Tensor(shape: [n, k], dtype: type, storage: TensorStorage(byteCount: bytes.count) { b in
            bytes.withUnsafeBytes { b.copyMemory(from: $0) }
        })
        let expectedRows = gguf.floats()
        for r in [0, 5, 7, 8, 13, 23] {   // lookups (tllm_matrix_row), as an embedding reads a tied table
            var row = [Float](repeating: .nan, count: k)
            tllm_matrix_row(storage.base, x8.kernelType, Int64(n), Int64(k), Int64(r), &row)
            #expect(row.map(\.bitPattern) == expectedRows[(r * k)..<((r + 1) * k)].map(\.bitPattern), "row \(r)")
        }
        #expect(w.floats().map(\.bitPattern) == gguf.floats().map(\.bitPattern))
        expectEveryPath(w, matches: { w4a8Reference(bytes, type: type, rows: n, columns: k, x: $0, tokens: $1) },
                        tokenCounts: [1, 2, 3, 6], "\(x8)")
    }

    @Test("An Inf or NaN input makes every output of its token NaN on every path, and leaves the other tokens alone")
    func nonFiniteInputs() {
        let w = tensor(.q4_1, rows: 16, columns: 128, seed: 2).multiplied(with: .int8)
        expectPoisonStaysInItsToken(w, poisoned: \.isNaN, poisonedBitsAgree: false, "q4_1")
    }

    @Test("stays close to the float32 linear (the cost of 8-bit activations) and float32 weights keep float32")
    func closeToFloat() {
        let (n, k, tokens) = (16, 256, 2)
        let q = tensor(.q4_1, rows: n, columns: k, seed: 4)
        var rng = SeededRNG(8)
        let x = (0..<tokens * k).map { _ in Float.random(in: -1...1, using: &rng) }
        func run(_ w: Tensor) -> [Float] { backendLinear(w, x, tokens: tokens) }
        let exact = run(q), int8 = run(q.multiplied(with: .int8))
        // Per element the int8 rounding error is at most d_x / 2 = amax / 254; over 256 terms of
        // |w| ≤ ~0.8 it stays well below 1 % of Σ|w·x|.
        let scale = exact.map { abs($0) }.max()!
        let worst = zip(exact, int8).map { abs($0 - $1) }.max()!
        #expect(worst > 0 && worst < 0.02 * scale, "worst \(worst) vs scale \(scale)")
        let f32 = tensor(.f32, rows: n, columns: k, seed: 4)
        #expect(f32.multiplied(with: .int8).activations == .float32)
        #expect(run(f32.multiplied(with: .int8)) == run(f32))
    }
}
