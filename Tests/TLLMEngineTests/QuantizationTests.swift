// Weight-only quantization and the int8 KV cache: formats, kernels that read them, engines built
// with them, and activation-aware scaling.
import Testing
import TLLMBackend
import TLLMBuilder
import TLLMEngine
import TLLMKernels
import TLLMModel
import TLLMPlugin
import TLLMQuantization

/// Row-major random floats with a few large "outlier" columns, as real weights have.
func randomMatrix(rows: Int, columns: Int, seed: UInt64) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<rows * columns).map { i in rng.normal() * (i % columns == 3 ? 0.5 : 0.05) }
}

let weightFormats: [DType] = [.int8Row, .int4G32, .int4G64, .int4G128, .fp8Row]

@Suite("Quantization", .serialized)
struct QuantizationTests {
    @Test("Each weight format dequantizes within its error bound, and AVX2 dequantization matches scalar bit for bit",
          arguments: weightFormats)
    func formatsRoundTrip(format: DType) {
        let rows = 6, columns = 256
        let values = randomMatrix(rows: rows, columns: columns, seed: 3)
        let tensor = Quantizer.quantizedTensor(values, shape: [rows, columns], as: format)
        #expect(tensor.byteCount == rows * format.rowBytes(columns)!)
        let back = tensor.floats()
        for r in 0..<rows {
            let row = values[r * columns ..< (r + 1) * columns]
            let amax = row.map(abs).max()!
            for c in 0..<columns {
                let v = values[r * columns + c], err = abs(back[r * columns + c] - v)
                switch format {
                case .int8Row: #expect(err <= amax / 127 * 0.5001)
                case .fp8Row: #expect(err <= max(abs(v) / 16, amax / 448 * 0.002) * 1.001)   // 3 mantissa bits; subnormals
                default:
                    let g = format.int4GroupSize!, group = values[r * columns + c / g * g ..< r * columns + c / g * g + g]
                    #expect(err <= (group.max()! - group.min()!) / 15 * 0.52 + 1e-3)
                }
            }
        }
        tllm_force_scalar(1)
        let scalar = tensor.floats()
        tllm_force_scalar(0)
        #expect(scalar == back)
    }

    @Test("FP8 E4M3 encodes exact values exactly, rounds ties to even and saturates at 448")
    func fp8Encoding() {
        let cases: [(Float, UInt8)] = [(0, 0x00), (1, 0x38), (-2, 0xC0), (448, 0x7E), (1000, 0x7E), (-1e9, 0xFE),
                                       (0.001953125, 0x01), (1.0625, 0x38), (1.1875, 0x3A), (0.5, 0x30)]
        for (value, code) in cases { #expect(tllm_f32_to_fp8_e4m3(value) == code, "\(value)") }
        let table = tllm_fp8_table()!
        for code in 0..<256 where code & 0x7F != 0x7F { #expect(tllm_f32_to_fp8_e4m3(table[code]) == UInt8(code) || table[code] == 0) }
    }

    @Test("A quantized linear equals the float32 linear over its dequantized weights, and is batch-invariant",
          arguments: weightFormats)
    func quantizedLinearReadsTheBytes(format: DType) {
        let n = 40, k = 128, t = 7
        let weight = Quantizer.quantizedTensor(randomMatrix(rows: n, columns: k, seed: 9), shape: [n, k], as: format)
        let dense = Tensor(shape: [n, k], floats: weight.floats())
        var x = randomMatrix(rows: t, columns: k, seed: 1)
        var a = [Float](repeating: 0, count: t * n), b = a, single = [Float](repeating: 0, count: n)
        let backend = CPUBackend()
        x.withUnsafeMutableBufferPointer { xp in
            let input = Matrix(data: xp.baseAddress!, rows: t, columns: k)
            a.withUnsafeMutableBufferPointer { backend.linear(input, weight: weight, bias: nil, into: Matrix(data: $0.baseAddress!, rows: t, columns: n)) }
            b.withUnsafeMutableBufferPointer { backend.linear(input, weight: dense, bias: nil, into: Matrix(data: $0.baseAddress!, rows: t, columns: n)) }
            single.withUnsafeMutableBufferPointer {
                backend.linear(Matrix(data: xp.baseAddress! + 3 * k, rows: 1, columns: k), weight: weight, bias: nil,
                               into: Matrix(data: $0.baseAddress!, rows: 1, columns: n))
            }
        }
        #expect(a == b)
        #expect(single[...] == a[3 * n ..< 4 * n])
    }

    @Test("W8A16, W4A16 and FP8 engines track the float32 engine and are smaller", arguments: [QuantAlgo.w8a16, .w4a16, .fp8])
    func quantizedEnginesTrackFloat(algo: QuantAlgo) throws {
        let model = try TestModels.llama()
        let float = try ModelEngine(try Builder.build(model, BuildConfig(quantization: QuantConfig(algo: .none))))
        let quant = try ModelEngine(try Builder.build(model, BuildConfig(quantization: QuantConfig(algo: algo, groupSize: 32))))
        let matrices = quant.engine.weights.values.filter { $0.shape.count == 2 }
        #expect(matrices.allSatisfy { $0.dtype == (algo == .w8a16 ? .int8Row : algo == .fp8 ? .fp8Row : ($0.shape[0] == 320 ? .int8Row : .int4G32)) })
        #expect(quant.engine.weightBytes * (algo == .w4a16 ? 4 : 3) < float.engine.weightBytes)
        let a = try packedLogits(float, pluginTestSequences), b = try packedLogits(quant, pluginTestSequences)
        let scale = a.values.map(abs).max()!
        let bound: Float = algo == .w8a16 ? 0.02 : algo == .fp8 ? 0.08 : 0.3
        #expect(worstDifference(a, b) <= bound * scale, "\(algo): worst \(worstDifference(a, b)) vs max |logit| \(scale)")
    }

    @Test("A group size that does not divide a matrix's width is refused, naming the tensor and the sizes that fit")
    func badGroupSizeIsRefused() throws {
        #expect {
            _ = try Builder.build(try TestModels.llama(), BuildConfig(quantization: QuantConfig(algo: .w4a16, groupSize: 128)))
        } throws: { error in
            guard let e = error as? EngineError else { return false }
            // blk.0.attn_k.weight comes first in name order: 64 columns, so 32 or 64 fit.
            return e.code == .quantization && e.message.contains("'blk.0.attn_k.weight'")
                && e.message.contains("not a multiple of the group size 128") && e.message.contains("use group size 32 or 64")
        }
        for config in [QuantConfig(algo: .w8a16, activationAware: true), QuantConfig(algo: .w4a16, groupSize: 48),
                       QuantConfig(algo: .w4a16, activationAware: true)] {
            #expect(throws: EngineError.self) { _ = try Builder.build(try TestModels.llama(), BuildConfig(quantization: config)) }
        }
    }

    @Test("Activation-aware scaling brings W4A16 closer to float32 when activations have outlier channels")
    func awqHelpsWithOutliers() throws {
        let model = try TestModels.llama(outlierChannels: true)
        let float = try ModelEngine(try Builder.build(model, BuildConfig(quantization: QuantConfig(algo: .none))))
        let calibration: [[Int32]] = [[5, 17, 99, 3, 250, 31, 64, 7, 8, 200, 11, 42], [1, 2, 3, 4, 5, 6, 7, 8], [310, 300, 290, 12]]
        let plain = try ModelEngine(try Builder.build(model, BuildConfig(quantization: QuantConfig(algo: .w4a16, groupSize: 32))))
        let awq = try ModelEngine(try Builder.build(model, BuildConfig(quantization: QuantConfig(
            algo: .w4a16, groupSize: 32, activationAware: true, calibration: calibration))))
        #expect(awq.engine.buildLog.contains { $0.hasPrefix("AWQ: 8 groups") })
        let reference = try packedLogits(float, pluginTestSequences)
        func meanError(_ e: ModelEngine) throws -> Float {
            let l = try packedLogits(e, pluginTestSequences)
            return zip(l.values, reference.values).map { abs($0 - $1) }.reduce(0, +) / Float(l.values.count)
        }
        let plainError = try meanError(plain), awqError = try meanError(awq)
        #expect(awqError < plainError, "AWQ mean |Δlogit| \(awqError), plain \(plainError)")
    }

    @Test("An int8 KV cache keeps logits close to float32, uses a quarter of the memory, and stays batch-invariant")
    func int8KVCache() throws {
        let model = try TestModels.llama()
        let float = try ModelEngine(try Builder.build(model))
        let int8 = try ModelEngine(try Builder.build(model, BuildConfig(kvCacheDType: .int8)))
        let a = try packedLogits(float, pluginTestSequences), b = try packedLogits(int8, pluginTestSequences)
        #expect(worstDifference(a, b) <= 0.02 * a.values.map(abs).max()!)
        let c = model.config
        let f = PagedKVCache(numLayers: 2, numBlocks: 4, tokensPerBlock: 8, kvDim: c.kvDim)
        let q = PagedKVCache(numLayers: 2, numBlocks: 4, tokensPerBlock: 8, kvDim: c.kvDim, dtype: .int8)
        #expect(q.byteCount * 3 < f.byteCount)
        var row = 0
        for sequence in pluginTestSequences {
            let alone = try packedLogits(int8, [sequence])
            #expect(alone.values[...] == b.values[row * alone.vocabSize ..< (row + alone.rowCount) * alone.vocabSize])
            row += alone.rowCount
        }
    }

    @Test("A KV cache whose dtype differs from the engine's is refused with what to create instead")
    func cacheDTypeMismatchIsRefused() throws {
        let engine = try ModelEngine(try Builder.build(try TestModels.llama(), BuildConfig(kvCacheDType: .int8)))
        #expect {
            _ = try packedLogits(engine, [[1, 2, 3]], kv: .float32)
        } throws: { error in
            (error as? EngineError)?.code == .cacheMismatch
        }
    }
}
