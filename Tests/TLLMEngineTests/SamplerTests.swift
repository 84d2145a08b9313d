// The sampler: greedy is argmax, filters do what they say, seeds reproduce.
import Foundation
import Testing
import TLLMRuntime

@Suite("Sampler")
struct SamplerTests {
    let logits: [Float] = [0.1, 2.5, -1, 2.4, 0, 1.0]

    @Test("Greedy, temperature 0 and top-k 1 all pick the argmax")
    func greedyPicksArgmax() {
        for params in [SamplingParams.greedy(), SamplingParams(temperature: 0), SamplingParams(temperature: 2, topK: 1, seed: 3)] {
            var s = Sampler(params: params)
            #expect(s.sample(logits[...]) == 1)
        }
    }

    @Test("Top-k keeps only the k best tokens")
    func topKRestricts() {
        var s = Sampler(params: SamplingParams(temperature: 5, topK: 2, seed: 1))
        let picks = Set((0..<500).map { _ in s.sample(logits[...]) })
        #expect(picks == [1, 3])
    }

    @Test("A tiny top-p keeps only the most likely token")
    func topPRestricts() {
        var s = Sampler(params: SamplingParams(temperature: 1, topP: 0.01, seed: 1))
        #expect(Set((0..<200).map { _ in s.sample(logits[...]) }) == [1])
    }

    @Test("The same seed gives the same tokens; sampling follows the softmax")
    func seedsReproduceAndFrequenciesFollowSoftmax() {
        var a = Sampler(params: SamplingParams(temperature: 1, seed: 42))
        var b = Sampler(params: SamplingParams(temperature: 1, seed: 42))
        let xs = (0..<2000).map { _ in a.sample(logits[...]) }
        let ys = (0..<2000).map { _ in b.sample(logits[...]) }
        #expect(xs == ys)
        let expected = logits.map { Double(exp($0)) }
        let total = expected.reduce(0, +)
        for id in 0..<logits.count {
            let observed = Double(xs.filter { $0 == id }.count) / 2000
            #expect(abs(observed - expected[id] / total) < 0.04, "token \(id)")
        }
    }
}
