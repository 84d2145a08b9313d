// The sampler: greedy is argmax, every filter and penalty does what it says, seeds reproduce.
import Foundation
import Testing
import TLLMRuntime

@Suite("Sampler")
struct SamplerTests {
    let logits: [Float] = [0.1, 2.5, -1, 2.4, 0, 1.0]

    func pick(_ s: inout Sampler, tokens: [Int32] = [], promptLength: Int = 0) -> Int32 {
        s.sample(logits[...], tokens: tokens[...], promptLength: promptLength).id
    }

    @Test("Greedy, temperature 0 and top-k 1 all pick the argmax")
    func greedyPicksArgmax() {
        for params in [SamplingParams.greedy(), SamplingParams(temperature: 0), SamplingParams(temperature: 2, topK: 1, seed: 3)] {
            var s = Sampler(params: params)
            #expect(pick(&s) == 1)
        }
    }

    @Test("Argmax is the first largest logit, never a NaN, at every length and offset")
    func argmaxIsTheFirstLargest() {
        /// The definition: scan, keeping the first strictly larger value.
        func scan(_ x: ArraySlice<Float>) -> Int32 {
            var best = x.startIndex
            for i in x.indices where x[i] > x[best] { best = i }
            return Int32(best - x.startIndex)
        }
        var rng = SystemRandomNumberGenerator()
        let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 7, 7]
        for trial in 0..<400 {
            let n = 1 + trial % 70
            // Few distinct values, so ties are common; specials dropped in at random places.
            var x = (0..<(n + 3)).map { _ in Float(Int.random(in: -4...4, using: &rng)) }
            for _ in 0..<(trial % 4) { x[Int.random(in: 0..<x.count, using: &rng)] = specials.randomElement(using: &rng)! }
            let slice = x[(trial % 3)..<(trial % 3 + n)]   // slices that do not start at 0
            #expect(Sampler.argmax(slice) == scan(slice), "\(Array(slice))")
        }
        #expect(Sampler.argmax([Float.nan, 1, 2][...]) == 0)
        #expect(Sampler.argmax([1, .nan, 2, 2][...]) == 2)
        #expect(Sampler.argmax([Float](repeating: -.infinity, count: 40)[...]) == 0)
    }

    @Test("Top-k keeps only the k best tokens")
    func topKRestricts() {
        var s = Sampler(params: SamplingParams(temperature: 5, topK: 2, seed: 1))
        #expect(Set((0..<500).map { _ in pick(&s) }) == [1, 3])
    }

    @Test("A tiny top-p keeps only the most likely token")
    func topPRestricts() {
        var s = Sampler(params: SamplingParams(temperature: 1, topP: 0.01, seed: 1))
        #expect(Set((0..<200).map { _ in pick(&s) }) == [1])
    }

    @Test("Min-p drops tokens less likely than min_p times the best")
    func minPRestricts() {
        // p(3)/p(1) = e^-0.1 ≈ 0.905, p(5)/p(1) = e^-1.5 ≈ 0.22
        var s = Sampler(params: SamplingParams(temperature: 1, minP: 0.5, seed: 2))
        #expect(Set((0..<500).map { _ in pick(&s) }) == [1, 3])
        var wide = Sampler(params: SamplingParams(temperature: 1, minP: 0.2, seed: 2))
        #expect(Set((0..<2000).map { _ in pick(&wide) }) == [1, 3, 5])
    }

    @Test("The same seed gives the same tokens; sampling follows the softmax")
    func seedsReproduceAndFrequenciesFollowSoftmax() {
        var a = Sampler(params: SamplingParams(temperature: 1, seed: 42))
        var b = Sampler(params: SamplingParams(temperature: 1, seed: 42))
        let xs = (0..<2000).map { _ in pick(&a) }
        let ys = (0..<2000).map { _ in pick(&b) }
        #expect(xs == ys)
        let expected = logits.map { Double(exp($0)) }
        let total = expected.reduce(0, +)
        for id in 0..<logits.count {
            let observed = Double(xs.filter { $0 == id }.count) / 2000
            #expect(abs(observed - expected[id] / total) < 0.04, "token \(id)")
        }
    }

    @Test("Repetition penalty demotes tokens seen in the prompt or output")
    func repetitionPenaltyDemotes() {
        var s = Sampler(params: SamplingParams(temperature: 0, repetitionPenalty: 1.2))
        #expect(pick(&s, tokens: [1], promptLength: 1) == 3)        // 2.5 / 1.2 < 2.4
        #expect(pick(&s, tokens: [4], promptLength: 1) == 1)
    }

    @Test("Presence and frequency penalties count only generated tokens")
    func presenceAndFrequencyPenalties() {
        var presence = Sampler(params: SamplingParams(temperature: 0, presencePenalty: 0.2))
        #expect(pick(&presence, tokens: [1], promptLength: 1) == 1)  // in the prompt: no penalty
        #expect(pick(&presence, tokens: [9, 1], promptLength: 1) == 3)
        var frequency = Sampler(params: SamplingParams(temperature: 0, frequencyPenalty: 0.05))
        #expect(pick(&frequency, tokens: [9, 1], promptLength: 1) == 1)        // 2.45 > 2.4
        #expect(pick(&frequency, tokens: [9, 1, 1, 1], promptLength: 1) == 3)  // 2.35 < 2.4
    }

    @Test("min_tokens masks the end id and stop ids until enough tokens are generated")
    func minTokensMasksEnd() {
        var s = Sampler(params: SamplingParams(minTokens: 2, temperature: 0, endID: 1, stopTokenIDs: [3]))
        #expect(pick(&s, tokens: [7], promptLength: 1) == 5)
        #expect(pick(&s, tokens: [7, 5], promptLength: 1) == 5)
        #expect(pick(&s, tokens: [7, 5, 5], promptLength: 1) == 1)
    }

    @Test("Logprobs are the raw log-softmax, with the top alternatives sorted")
    func logprobsAreLogSoftmax() {
        var s = Sampler(params: SamplingParams(temperature: 0, logprobs: 3))
        let out = s.sample(logits[...], tokens: [], promptLength: 0)
        let lse = log(logits.map { exp(Double($0)) }.reduce(0, +))
        #expect(abs(Double(out.logprob!) - (2.5 - lse)) < 1e-6)
        #expect(out.topLogprobs.map(\.id) == [1, 3, 5])
        for t in out.topLogprobs { #expect(abs(Double(t.logprob) - (Double(logits[Int(t.id)]) - lse)) < 1e-6) }
        var none = Sampler(params: .greedy())
        #expect(none.sample(logits[...], tokens: [], promptLength: 0).logprob == nil)
    }

    @Test("Invalid parameters are refused with the field named")
    func invalidParametersAreRefused() {
        let cases: [(SamplingParams, String)] = [
            (SamplingParams(maxTokens: 0), "max_tokens"), (SamplingParams(minTokens: 20), "min_tokens"),
            (SamplingParams(temperature: .nan), "temperature"), (SamplingParams(topK: -1), "top_k"),
            (SamplingParams(topP: 1.5), "top_p"), (SamplingParams(minP: -0.1), "min_p"),
            (SamplingParams(repetitionPenalty: 0), "repetition_penalty"), (SamplingParams(presencePenalty: 3), "presence_penalty"),
            (SamplingParams(frequencyPenalty: -2.5), "frequency_penalty"), (SamplingParams(stop: [""]), "stop"),
            (SamplingParams(logprobs: 21), "logprobs"),
        ]
        for (params, field) in cases {
            #expect(throws: RuntimeError.self) { try params.validate() }
            do { try params.validate() } catch { #expect(error.message.contains(field), "\(error.message)") }
        }
    }
}
