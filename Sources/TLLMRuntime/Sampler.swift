// The decoder's last step: from one row of logits to one token id, per request.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A token and its log-probability under the model's distribution.
public struct TokenLogprob: Sendable, Codable, Equatable {
    public var id: Int32
    public var logprob: Float

    public init(id: Int32, logprob: Float) {
        self.id = id
        self.logprob = logprob
    }
}

/// What the sampler picked, with log-probabilities when they were asked for.
public struct SampledToken: Sendable, Equatable {
    public var id: Int32
    /// log p(id) under the raw model distribution (before penalties and temperature); nil unless asked.
    public var logprob: Float?
    /// The most likely tokens with their log-probabilities, most likely first; empty unless asked.
    public var topLogprobs: [TokenLogprob]
}

/// Picks tokens for one request with its own random stream, so a request's samples do not depend
/// on other requests in the batch. Order of processing: penalties and min-tokens masking, then
/// greedy argmax or temperature → top-k → top-p → min-p → draw.
public struct Sampler: Sendable {
    public let params: SamplingParams
    private var rng: Xoshiro256

    public init(params: SamplingParams) {
        self.params = params
        rng = Xoshiro256(seed: params.seed ?? UInt64.random(in: .min ... .max))
    }

    /// The next token for `logits` (one vocabulary row) after `tokens` (prompt + output so far).
    public mutating func sample(_ logits: ArraySlice<Float>, tokens: ArraySlice<Int32>, promptLength: Int) -> SampledToken {
        let generated = tokens.count - promptLength
        var top: [TokenLogprob] = []
        if let n = params.logprobs { top = Self.topLogprobs(logits, count: n) }
        let needsCopy = params.hasPenalties || (generated < params.minTokens)
        let id: Int32
        if needsCopy {
            var work = Array(logits)
            applyPenalties(&work, tokens: tokens, promptLength: promptLength)
            if generated < params.minTokens {
                if let end = params.endID, !params.ignoreEOS, Int(end) < work.count { work[Int(end)] = -.infinity }
                for s in params.stopTokenIDs where Int(s) < work.count && s >= 0 { work[Int(s)] = -.infinity }
            }
            id = choose(work[...])
        } else {
            id = choose(logits)
        }
        let logprob = params.logprobs == nil ? nil : Self.logprob(of: id, in: logits)
        return SampledToken(id: id, logprob: logprob, topLogprobs: top)
    }

    private mutating func choose(_ logits: ArraySlice<Float>) -> Int32 {
        params.isGreedy ? Self.argmax(logits) : draw(logits)
    }

    /// Temperature, top-k, top-p and min-p, then one draw from this request's stream.
    private mutating func draw(_ logits: ArraySlice<Float>) -> Int32 {
        let base = logits.startIndex
        let maxLogit = logits.max() ?? 0
        let t = params.temperature
        // Tokens whose probability is below e^-30 of the best cannot matter; drop them before sorting.
        var candidates: [(id: Int32, p: Float)] = []
        for i in logits.indices where (logits[i] - maxLogit) / t > -30 {
            candidates.append((Int32(i - base), expf((logits[i] - maxLogit) / t)))
        }
        candidates.sort { $0.p > $1.p || ($0.p == $1.p && $0.id < $1.id) }
        if params.topK > 0 && candidates.count > params.topK { candidates.removeLast(candidates.count - params.topK) }
        if params.topP < 1 {
            let total = candidates.reduce(0) { $0 + $1.p }
            var cumulative: Float = 0
            var keep = 0
            for c in candidates {
                cumulative += c.p
                keep += 1
                if cumulative >= params.topP * total { break }
            }
            candidates.removeLast(candidates.count - keep)
        }
        if params.minP > 0, let best = candidates.first?.p {
            candidates.removeAll { $0.p < params.minP * best }
        }
        let kept = candidates.reduce(0) { $0 + $1.p }
        var u = Float(rng.nextUnit()) * kept
        for c in candidates {
            u -= c.p
            if u < 0 { return c.id }
        }
        return candidates.last!.id
    }

    /// HF-style repetition penalty over prompt and output; OpenAI-style presence and frequency over the output.
    private func applyPenalties(_ logits: inout [Float], tokens: ArraySlice<Int32>, promptLength: Int) {
        guard params.hasPenalties else { return }
        if params.repetitionPenalty != 1 {
            for id in Set(tokens) where id >= 0 && Int(id) < logits.count {
                let v = logits[Int(id)]
                logits[Int(id)] = v > 0 ? v / params.repetitionPenalty : v * params.repetitionPenalty
            }
        }
        if params.presencePenalty != 0 || params.frequencyPenalty != 0 {
            var counts: [Int32: Int] = [:]
            for id in tokens[(tokens.startIndex + promptLength)...] { counts[id, default: 0] += 1 }
            for (id, n) in counts where id >= 0 && Int(id) < logits.count {
                logits[Int(id)] -= params.presencePenalty + params.frequencyPenalty * Float(n)
            }
        }
    }

    /// Index of the largest logit (the first one on ties).
    ///
    /// The index the scan `best = i where logits[i] > logits[best]` ends on: NaN is never chosen
    /// (unless it comes first, when nothing compares greater). Computed as the largest non-NaN
    /// value, 16 lanes at a time, then its first occurrence: a 49,152-entry vocabulary every
    /// decode step costs a few microseconds, not tens.
    public static func argmax(_ logits: ArraySlice<Float>) -> Int32 {
        logits.withUnsafeBufferPointer { buffer -> Int32 in
            guard let x = buffer.baseAddress, buffer.count > 0, !x[0].isNaN else { return 0 }
            let n = buffer.count, raw = UnsafeRawPointer(x)
            var lanes = SIMD16<Float>(repeating: x[0]), i = 0
            while i + 16 <= n {
                let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                lanes.replace(with: v, where: v .> lanes)   // NaN compares false: never taken
                i += 16
            }
            var largest = x[0]
            for lane in 0..<16 where lanes[lane] > largest { largest = lanes[lane] }
            for j in i..<n where x[j] > largest { largest = x[j] }
            var j = 0
            while j + 16 <= n, !any(raw.loadUnaligned(fromByteOffset: 4 * j, as: SIMD16<Float>.self) .== largest) { j += 16 }
            while x[j] != largest { j += 1 }
            return Int32(j)
        }
    }

    /// log-softmax of one entry, computed in double precision.
    public static func logprob(of id: Int32, in logits: ArraySlice<Float>) -> Float {
        Float(Double(logits[logits.startIndex + Int(id)]) - logSumExp(logits))
    }

    /// The `count` most likely tokens with their log-probabilities (ties broken by lower id).
    public static func topLogprobs(_ logits: ArraySlice<Float>, count: Int) -> [TokenLogprob] {
        guard count > 0 else { return [] }
        var best: [(id: Int, v: Float)] = []
        for i in logits.indices {
            let v = logits[i]
            if best.count == count, let last = best.last, v <= last.v { continue }
            let at = best.firstIndex { v > $0.v } ?? best.count
            best.insert((i, v), at: at)
            if best.count > count { best.removeLast() }
        }
        let lse = logSumExp(logits)
        return best.map { TokenLogprob(id: Int32($0.id - logits.startIndex), logprob: Float(Double($0.v) - lse)) }
    }

    static func logSumExp(_ logits: ArraySlice<Float>) -> Double {
        let m = Double(logits.max() ?? 0)
        var sum = 0.0
        for v in logits { sum += exp(Double(v) - m) }
        return m + log(sum)
    }
}

/// xoshiro256** seeded through SplitMix64: a small, fast, high-quality per-request random stream.
struct Xoshiro256: Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
