// Benchmark datasets: synthetic requests drawn from a real vocabulary, and JSONL files.
import Foundation
import TLLMModel

/// One benchmark request: a prompt (text or token ids) and exactly how many tokens to generate.
public struct BenchRequest: Sendable, Equatable, Codable {
    public var prompt: String?
    public var inputIDs: [Int32]?
    public var outputTokens: Int

    enum CodingKeys: String, CodingKey {
        case prompt, inputIDs = "input_ids", outputTokens = "output_tokens"
    }

    public init(prompt: String? = nil, inputIDs: [Int32]? = nil, outputTokens: Int) {
        self.prompt = prompt
        self.inputIDs = inputIDs
        self.outputTokens = outputTokens
    }
}

/// How long prompts and outputs are in a synthetic dataset: a fixed length, or normally
/// distributed (clamped to at least 1).
public struct LengthDistribution: Sendable, Equatable, Codable {
    public var mean: Int
    public var standardDeviation: Double

    public init(mean: Int, standardDeviation: Double = 0) {
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    func sample(_ rng: inout BenchRNG) -> Int {
        guard standardDeviation > 0 else { return max(1, mean) }
        return max(1, Int((Double(mean) + rng.normal() * standardDeviation).rounded()))
    }
}

/// Builds and reads benchmark datasets.
public enum BenchDataset {
    /// `count` requests whose prompts are token ids drawn uniformly from `vocabulary` (use the
    /// model's ordinary tokens, not control tokens) with lengths from `input`, and outputs from `output`.
    public static func synthetic(count: Int, input: LengthDistribution, output: LengthDistribution,
                                 vocabulary: Range<Int32>, seed: UInt64) throws(BenchError) -> [BenchRequest] {
        guard count > 0 else { throw BenchError("the dataset needs at least one request, got \(count)") }
        guard input.mean >= 1, output.mean >= 1 else { throw BenchError("input and output lengths must be at least 1") }
        guard !vocabulary.isEmpty else { throw BenchError("the vocabulary to draw prompts from is empty") }
        var rng = BenchRNG(seed: seed)
        let span = UInt64(vocabulary.count)
        return (0..<count).map { _ in
            let length = input.sample(&rng)
            let ids = (0..<length).map { _ in vocabulary.lowerBound + Int32(rng.next() % span) }
            return BenchRequest(inputIDs: ids, outputTokens: output.sample(&rng))
        }
    }

    /// Parses JSONL: one object per line with `prompt` (a string) or `input_ids` (an array of
    /// ids), and `output_tokens` (a positive integer). Blank lines are skipped.
    /// - Throws: ``BenchError`` naming the line number and what is wrong with it.
    public static func parseJSONL(_ text: String) throws(BenchError) -> [BenchRequest] {
        var out: [BenchRequest] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            let request: BenchRequest
            do {
                request = try JSONDecoder().decode(BenchRequest.self, from: Data(trimmed.utf8))
            } catch {
                throw BenchError("line \(index + 1): not a valid request object (\(Self.describe(error))); expected {\"prompt\": \"...\", \"output_tokens\": N} or {\"input_ids\": [...], \"output_tokens\": N}")
            }
            guard (request.prompt == nil) != (request.inputIDs == nil) else {
                throw BenchError("line \(index + 1): give exactly one of \"prompt\" and \"input_ids\"")
            }
            guard request.outputTokens >= 1 else {
                throw BenchError("line \(index + 1): output_tokens is \(request.outputTokens); it must be at least 1")
            }
            if let ids = request.inputIDs {
                guard !ids.isEmpty else { throw BenchError("line \(index + 1): input_ids is empty") }
                guard ids.allSatisfy({ $0 >= 0 }) else { throw BenchError("line \(index + 1): input_ids has a negative id") }
            }
            if request.prompt?.isEmpty == true { throw BenchError("line \(index + 1): prompt is empty") }
            out.append(request)
        }
        guard !out.isEmpty else { throw BenchError("the dataset has no requests") }
        return out
    }

    /// The dataset as JSONL, one request per line.
    public static func jsonl(_ requests: [BenchRequest]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return requests.map { String(decoding: (try? encoder.encode($0)) ?? Data(), as: UTF8.self) }.joined(separator: "\n") + "\n"
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let c): "wrong type at \"\(c.codingPath.map(\.stringValue).joined(separator: "."))\""
        case DecodingError.dataCorrupted: "malformed JSON"
        default: "\(error)"
        }
    }
}

/// A benchmark input or setting that cannot be used, with what to fix.
public struct BenchError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reproducible draws for datasets and arrivals: uniform, normal and gamma over ``SplitMix64``.
public struct BenchRNG: Sendable {
    private var base: SplitMix64
    public init(seed: UInt64) { base = SplitMix64(seed: seed) }

    public mutating func next() -> UInt64 { base.next() }

    /// Uniform in (0, 1].
    public mutating func unit() -> Double { (Double(next() >> 11) + 1) / Double(1 << 53) }

    public mutating func normal() -> Double {
        (-2 * log(unit())).squareRoot() * cos(2 * .pi * unit())
    }

    /// Gamma(shape, scale) by Marsaglia–Tsang (shape < 1 boosted).
    public mutating func gamma(shape: Double, scale: Double) -> Double {
        if shape < 1 { return gamma(shape: shape + 1, scale: scale) * pow(unit(), 1 / shape) }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            let x = normal(), v = pow(1 + c * x, 3)
            if v <= 0 { continue }
            if log(unit()) < 0.5 * x * x + d - d * v + d * log(v) { return d * v * scale }
        }
    }
}
