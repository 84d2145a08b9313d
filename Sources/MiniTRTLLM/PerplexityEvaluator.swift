// Perplexity over consecutive, non-overlapping windows, each window evaluated on its own.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Scores a token sequence with an ``LLM``.
public struct PerplexityEvaluator: Sendable {
    public let llm: LLM

    public init(llm: LLM) { self.llm = llm }

    /// exp(mean negative log-likelihood) over every token but each window's first.
    /// - Returns: the perplexity and the number of scored tokens.
    /// - Throws: ``LLMError`` if fewer than two ids are given or the model rejects a window.
    public func evaluate(ids: [Int32], window: Int) throws(LLMError) -> (perplexity: Double, tokens: Int) {
        guard window >= 2 else { throw .invalidArgument("the window must hold at least 2 tokens") }
        guard ids.count >= 2 else { throw .invalidArgument("perplexity needs at least 2 tokens, got \(ids.count)") }
        var nll = 0.0
        var scored = 0
        var start = 0
        while start + 1 < ids.count {
            let chunk = Array(ids[start ..< min(start + window, ids.count)])
            let logits = try llm.logits(ids: chunk)
            for j in 1..<chunk.count {
                let row = logits.row(j - 1)
                let maxLogit = Double(row.max()!)
                var sum = 0.0
                for v in row { sum += exp(Double(v) - maxLogit) }
                nll -= Double(row[row.startIndex + Int(chunk[j])]) - maxLogit - log(sum)
                scored += 1
            }
            start += window
        }
        return (exp(nll / Double(scored)), scored)
    }
}
