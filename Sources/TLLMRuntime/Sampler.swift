// The decoder's last step: from one row of logits to one token id, per request.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Picks tokens for one request with its own random stream, so a request's samples do not
/// depend on other requests in the batch.
public struct Sampler: Sendable {
    public let params: SamplingParams
    private var rng: Xoshiro256

    public init(params: SamplingParams) {
        self.params = params
        rng = Xoshiro256(seed: params.seed ?? UInt64.random(in: .min ... .max))
    }

    /// The next token for `logits` (one vocabulary row).
    public mutating func sample(_ logits: ArraySlice<Float>) -> Int32 {
        if params.isGreedy { return Self.argmax(logits) }
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
        let total = candidates.reduce(0) { $0 + $1.p }
        if params.topP < 1 {
            var cumulative: Float = 0
            var keep = 0
            for c in candidates {
                cumulative += c.p
                keep += 1
                if cumulative >= params.topP * total { break }
            }
            candidates.removeLast(candidates.count - keep)
        }
        let kept = candidates.reduce(0) { $0 + $1.p }
        var u = Float(rng.nextUnit()) * kept
        for c in candidates {
            u -= c.p
            if u < 0 { return c.id }
        }
        return candidates.last!.id
    }

    /// Index of the largest logit (the first one on ties).
    public static func argmax(_ logits: ArraySlice<Float>) -> Int32 {
        var best = logits.startIndex
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return Int32(best - logits.startIndex)
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
