// The C kernels against straightforward double-precision references, and AVX2 against scalar.
import Foundation
import Testing
import TLLMBackend
import TLLMKernels

/// Random GGUF blocks with finite, realistic scales.
func randomBlocks(_ type: DType, rows: Int, columns: Int, seed: UInt64) -> [UInt8] {
    var rng = SeededRNG(seed)
    let blocks = rows * columns / type.blockSize
    var bytes: [UInt8] = []
    for _ in 0..<blocks {
        let scale = Float16(Float.random(in: 0.001...0.05, using: &rng)).bitPattern
        let minimum = Float16(Float.random(in: -0.5...0.0, using: &rng)).bitPattern
        switch type {
        case .q4_0, .q8_0:
            bytes += [UInt8(scale & 0xff), UInt8(scale >> 8)]
            bytes += (0..<(type == .q4_0 ? 16 : 32)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        case .q4_1:
            bytes += [UInt8(scale & 0xff), UInt8(scale >> 8), UInt8(minimum & 0xff), UInt8(minimum >> 8)]
            bytes += (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        default:
            preconditionFailure()
        }
    }
    return bytes
}

struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func tensor(_ type: DType, rows: Int, columns: Int, seed: UInt64) -> Tensor {
    if type == .f32 {
        var rng = SeededRNG(seed)
        return Tensor(shape: [rows, columns], floats: (0..<rows * columns).map { _ in Float.random(in: -1...1, using: &rng) })
    }
    if type == .f16 {
        var rng = SeededRNG(seed)
        let halves = (0..<rows * columns).map { _ in Float16(Float.random(in: -1...1, using: &rng)).bitPattern }
        let storage = TensorStorage(byteCount: halves.count * 2) { b in halves.withUnsafeBytes { b.copyMemory(from: $0) } }
        return Tensor(shape: [rows, columns], dtype: .f16, storage: storage)
    }
    let bytes = randomBlocks(type, rows: rows, columns: columns, seed: seed)
    let storage = TensorStorage(byteCount: bytes.count) { b in bytes.withUnsafeBytes { b.copyMemory(from: $0) } }
    return Tensor(shape: [rows, columns], dtype: type, storage: storage)
}

@Suite("CPU kernels", .serialized)
struct KernelTests {
    @Test("A Q4_1 block dequantizes to d * q + m, low nibbles first")
    func q41LayoutIsGGUFs() {
        var block: [UInt8] = [0x00, 0x3c, 0x00, 0xbc]   // d = 1.0, m = -1.0 (fp16)
        block += (0..<16).map { UInt8($0 | ((15 - $0) << 4)) }
        var out = [Float](repeating: 0, count: 32)
        tllm_dequantize_row(TLLM_Q4_1, block, &out, 32)
        let low: [Float] = (0..<16).map { (i: Int) -> Float in Float(i) - 1 }
        let high: [Float] = (0..<16).map { (i: Int) -> Float in Float(15 - i) - 1 }
        #expect(Array(out[0..<16]) == low)
        #expect(Array(out[16..<32]) == high)
    }

    @Test("AVX2 dequantization is bit-identical to the scalar path", arguments: [DType.q4_0, .q4_1, .q8_0, .f16])
    func avx2DequantMatchesScalar(type: DType) {
        let t = tensor(type, rows: 4, columns: 256, seed: 5)
        let fast = t.floats()
        tllm_force_scalar(1)
        let slow = t.floats()
        tllm_force_scalar(0)
        #expect(fast.map(\.bitPattern) == slow.map(\.bitPattern))
    }

    @Test("fp16 conversion round-trips every finite half", arguments: [0])
    func halfRoundTrip(_: Int) {
        for bits in UInt16.min...UInt16.max where Float16(bitPattern: bits).isFinite {
            let f = tllm_f16_to_f32(bits)
            #expect(f == Float(Float16(bitPattern: bits)))
            if !(f == 0 && bits != 0) { #expect(tllm_f32_to_f16(f) == bits || f == 0) }
        }
    }

    @Test("Linear matches a double-precision reference for every weight type and the OpenBLAS path",
          arguments: [(DType.f32, false), (.f32, true), (.f16, false), (.q4_0, false), (.q4_1, false), (.q8_0, false)])
    func linearMatchesReference(type: DType, openBLAS: Bool) {
        let (n, k, t) = (48, 256, 5)
        let w = tensor(type, rows: n, columns: k, seed: 9)
        var rng = SeededRNG(3)
        var x = (0..<t * k).map { _ in Float.random(in: -2...2, using: &rng) }
        var y = [Float](repeating: 0, count: t * n)
        x.withUnsafeMutableBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                CPUBackend(useOpenBLAS: openBLAS).linear(Matrix(data: xb.baseAddress!, rows: t, columns: k), weight: w, bias: nil,
                                                         into: Matrix(data: yb.baseAddress!, rows: t, columns: n))
            }
        }
        let wf = w.floats()
        for i in 0..<t {
            for r in 0..<n {
                var ref = 0.0
                for c in 0..<k { ref += Double(wf[r * k + c]) * Double(x[i * k + c]) }
                #expect(abs(Double(y[i * n + r]) - ref) < 1e-4 * max(1, abs(ref)), "\(type) token \(i) row \(r)")
            }
        }
    }

    @Test("A token's linear output is bit-identical whatever the batch size", arguments: [DType.f32, .q4_1, .q8_0])
    func linearIsBatchInvariant(type: DType) {
        let (n, k) = (200, 576)
        let w = tensor(type, rows: n, columns: k, seed: 2)
        var rng = SeededRNG(8)
        var x = (0..<9 * k).map { _ in Float.random(in: -2...2, using: &rng) }
        func run(rows: Int) -> [Float] {
            var y = [Float](repeating: 0, count: rows * n)
            x.withUnsafeMutableBufferPointer { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    CPUBackend().linear(Matrix(data: xb.baseAddress!, rows: rows, columns: k), weight: w, bias: nil,
                                        into: Matrix(data: yb.baseAddress!, rows: rows, columns: n))
                }
            }
            return y
        }
        let one = run(rows: 1), nine = run(rows: 9)
        #expect(one.map(\.bitPattern) == Array(nine[0..<n]).map(\.bitPattern))
    }

    @Test("Every token of a batch gets the bits it gets alone, for every tile shape and on AVX2 and AVX-512 tiles",
          arguments: [DType.f32, .q4_1, .q8_0])
    func tileShapesAgree(type: DType) {
        let (n, k) = (40, 96)
        let w = tensor(type, rows: n, columns: k, seed: 4)
        var rng = SeededRNG(12)
        var x = (0..<17 * k).map { _ in Float.random(in: -2...2, using: &rng) }
        func run(rows: Int, forceAVX2: Bool) -> [Float] {
            var y = [Float](repeating: 0, count: rows * n)
            tllm_force_avx2(forceAVX2 ? 1 : 0)
            defer { tllm_force_avx2(0) }
            x.withUnsafeMutableBufferPointer { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    CPUBackend().linear(Matrix(data: xb.baseAddress!, rows: rows, columns: k), weight: w, bias: nil,
                                        into: Matrix(data: yb.baseAddress!, rows: rows, columns: n))
                }
            }
            return y
        }
        // Alone, each token takes the one-token kernel; in batches of 2...17 it lands in 1-, 3-, 4- and
        // 6-token tiles depending on its position.
        let alone = (0..<17).flatMap { t in
            x.withUnsafeMutableBufferPointer { xb in
                var y = [Float](repeating: 0, count: n)
                y.withUnsafeMutableBufferPointer { yb in
                    CPUBackend().linear(Matrix(data: xb.baseAddress! + t * k, rows: 1, columns: k), weight: w, bias: nil,
                                        into: Matrix(data: yb.baseAddress!, rows: 1, columns: n))
                }
                return y
            }
        }
        for rows in [2, 3, 4, 5, 6, 7, 9, 16, 17] {
            for forced in [false, true] {
                let batch = run(rows: rows, forceAVX2: forced)
                #expect(batch.map(\.bitPattern) == Array(alone[0..<rows * n]).map(\.bitPattern), "rows \(rows), AVX2 forced: \(forced)")
            }
        }
    }

    @Test("Paged attention matches a dense causal reference with grouped-query heads, vector and scalar, and the AVX-512 and AVX2 bodies agree bit for bit",
          arguments: [(4, 2, 16, 11, 4), (9, 3, 64, 13, 5), (6, 2, 64, 9, 3), (2, 2, 64, 7, 4), (8, 2, 64, 9, 3), (10, 2, 64, 7, 5)])
    func pagedAttentionMatchesReference(shape: (Int, Int, Int, Int, Int)) {
        // (heads, kv heads, head dim, tokens, tokens per block): KV groups of 1–5 heads (taken
        // three, two or one at a time), blocks that do not hold a multiple of four keys.
        let (heads, kvHeads, headDim, tokens, bs) = shape
        let kvDim = kvHeads * headDim
        var rng = SeededRNG(4)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &rng) } }
        var q = random(tokens * heads * headDim), k = random(tokens * kvDim), v = random(tokens * kvDim)
        let keys = UnsafeMutablePointer<Float>.allocate(capacity: 8 * bs * kvDim)
        let values = UnsafeMutablePointer<Float>.allocate(capacity: 8 * bs * kvDim)
        defer { keys.deallocate(); values.deallocate() }
        let cache = KVLayerView(keys: keys, values: values)
        let table: [Int32] = [6, 2, 7]   // deliberately out of order
        let slots = (0..<tokens).map { Int64(table[$0 / bs]) * Int64(bs) + Int64($0 % bs) }
        let meta = AttentionMetadata(sequenceOfToken: Array(repeating: 0, count: tokens), positions: (0..<Int32(tokens)).map { $0 },
                                     blockTables: table, maxBlocksPerSequence: 3, slots: slots, tokensPerBlock: bs)
        // The widest vector kernels, AVX2 only, then the scalar fallback (forced on this thread only).
        var widest: [Float] = []
        for isa in ["widest", "avx2", "scalar"] {
            let scalar = isa == "scalar"
            var out = [Float](repeating: 0, count: tokens * heads * headDim)
            tllm_force_scalar(scalar ? 1 : 0)
            tllm_force_avx2(isa == "avx2" ? 1 : 0)
            q.withUnsafeMutableBufferPointer { qb in k.withUnsafeMutableBufferPointer { kb in v.withUnsafeMutableBufferPointer { vb in
                out.withUnsafeMutableBufferPointer { ob in
                    CPUBackend().pagedAttention(query: Matrix(data: qb.baseAddress!, rows: tokens, columns: heads * headDim),
                                                key: Matrix(data: kb.baseAddress!, rows: tokens, columns: kvDim),
                                                value: Matrix(data: vb.baseAddress!, rows: tokens, columns: kvDim),
                                                cache: cache, heads: heads, kvHeads: kvHeads, headDim: headDim,
                                                metadata: meta, into: Matrix(data: ob.baseAddress!, rows: tokens, columns: heads * headDim))
                }
            } } }
            tllm_force_scalar(0)
            tllm_force_avx2(0)
            if isa == "widest" { widest = out }
            if isa == "avx2" { #expect(out.map(\.bitPattern) == widest.map(\.bitPattern)) }
            for t in 0..<tokens {
                for h in 0..<heads {
                    let kvh = h / (heads / kvHeads)
                    var scores = (0...t).map { j in
                        (0..<headDim).reduce(0.0) { $0 + Double(q[t * heads * headDim + h * headDim + $1]) * Double(k[j * kvDim + kvh * headDim + $1]) } / Double(headDim).squareRoot()
                    }
                    let m = scores.max()!
                    scores = scores.map { exp($0 - m) }
                    let total = scores.reduce(0, +)
                    for d in 0..<headDim {
                        let ref = (0...t).reduce(0.0) { $0 + scores[$1] / total * Double(v[$1 * kvDim + kvh * headDim + d]) }
                        #expect(abs(Double(out[t * heads * headDim + h * headDim + d]) - ref) < 1e-5, "\(isa)")
                    }
                }
            }
        }
    }

    @Test("SiLU is within 4 ulp of g / (1 + e^-g) (below 1e-35 in magnitude it may flush to zero), and the vector and scalar paths agree bit for bit")
    func siluMatchesDefinition() {
        var x: [Float] = (0..<2401).map { Float($0 - 1200) / 10 } + [0, -0.0, 1e-30, -1e-30, 88.5, -88.5, 1e4, -1e4]
        var vector = [Float](repeating: 0, count: x.count), scalar = vector
        vector.withUnsafeMutableBufferPointer { tllm_silu(&x, Int64(x.count), $0.baseAddress!) }
        tllm_force_scalar(1)
        scalar.withUnsafeMutableBufferPointer { tllm_silu(&x, Int64(x.count), $0.baseAddress!) }
        tllm_force_scalar(0)
        #expect(vector.map(\.bitPattern) == scalar.map(\.bitPattern))
        for (g, y) in zip(x, vector) {
            let ref = Double(g) / (1 + exp(-Double(g)))
            #expect(abs(Double(y) - ref) <= 4 * Double(Float(ref).ulp) + 1e-35, "silu(\(g)) = \(y), reference \(ref)")
        }
    }

    @Test("RMSNorm and adjacent-pair RoPE match their definitions")
    func normAndRopeMatchDefinitions() {
        var x: [Float] = (0..<128).map { Float($0 % 13) - 6 }
        let w = Tensor(shape: [64], floats: (0..<64).map { 0.5 + Float($0) / 64 })
        var y = [Float](repeating: 0, count: 128)
        x.withUnsafeMutableBufferPointer { xb in y.withUnsafeMutableBufferPointer { yb in
            CPUBackend().rmsNorm(Matrix(data: xb.baseAddress!, rows: 2, columns: 64), weight: w, epsilon: 1e-5,
                                 into: Matrix(data: yb.baseAddress!, rows: 2, columns: 64))
        } }
        let wf = w.floats()
        for r in 0..<2 {
            let ms = (0..<64).reduce(0.0) { $0 + Double(x[r * 64 + $1] * x[r * 64 + $1]) } / 64
            for i in 0..<64 { #expect(abs(Double(y[r * 64 + i]) - Double(x[r * 64 + i]) / (ms + 1e-5).squareRoot() * Double(wf[i])) < 1e-5) }
        }
        var v: [Float] = (0..<16).map { Float($0) / 7 }
        let original = v
        v.withUnsafeMutableBufferPointer { vb in
            CPUBackend().rope(Matrix(data: vb.baseAddress!, rows: 1, columns: 16), heads: 2, headDim: 8, ropeDim: 8,
                              positions: [3], theta: 10_000, neox: false)
        }
        for h in 0..<2 {
            for i in 0..<4 {
                let angle = 3 * pow(10_000.0, -2.0 * Double(i) / 8)
                let (a, b) = (Double(original[h * 8 + 2 * i]), Double(original[h * 8 + 2 * i + 1]))
                #expect(abs(Double(v[h * 8 + 2 * i]) - (a * cos(angle) - b * sin(angle))) < 1e-5)
                #expect(abs(Double(v[h * 8 + 2 * i + 1]) - (a * sin(angle) + b * cos(angle))) < 1e-5)
            }
        }
    }

    @Test("The thread pool runs every item exactly once, also when called from many threads at once")
    func poolCoversEveryItemOnce() async {
        await withTaskGroup(of: Bool.self) { group in
            for job in 0..<8 {
                group.addTask {
                    let n = 1000 + job * 37
                    let counts = UnsafeMutablePointer<Int32>.allocate(capacity: n)
                    counts.initialize(repeating: 0, count: n)
                    defer { counts.deallocate() }
                    tllm_parallel_for(Int64(n), { ctx, begin, end, _ in
                        let c = ctx!.assumingMemoryBound(to: Int32.self)
                        for i in Int(begin)..<Int(end) { c[i] += 1 }
                    }, counts)
                    return (0..<n).allSatisfy { counts[$0] == 1 }
                }
            }
            for await ok in group { #expect(ok) }
        }
    }
}
