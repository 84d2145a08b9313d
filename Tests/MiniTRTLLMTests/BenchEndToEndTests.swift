// trtllm-bench end to end on the default model: in-process throughput, its report and chart.
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import MiniTRTLLM
import Testing
import TLLMBench

/// Checks that a string is well-formed XML.
final class XMLCheck: NSObject, XMLParserDelegate {
    static func isWellFormed(_ text: String) -> Bool {
        let parser = XMLParser(data: Data(text.utf8))
        return parser.parse()
    }
}

@Suite("trtllm-bench end to end", .enabled(if: TestModel.enabled, "default model not available"))
struct BenchEndToEndTests {
    @Test("Throughput mode in-process fills every report field, and the same seed gives the same output hash")
    func throughputInProcess() async throws {
        let llm = try TestModel.sharedLLM()
        let tokenizer = llm.tokenizer
        let requests = try BenchDataset.synthetic(count: 6, input: LengthDistribution(mean: 12, standardDeviation: 3),
                                                  output: LengthDistribution(mean: 6), vocabulary: 17..<Int32(tokenizer.vocabularySize), seed: 4)
        let target = InProcessTarget(llm: llm, label: "test")
        var reports: [BenchReport] = []
        for concurrency in [1, 3] {
            let load = LoadConfig(concurrency: concurrency, warmup: 1)
            let (timings, seconds) = try await BenchRunner.run(target, requests: requests, load: load, progress: false)
            reports.append(BenchReport(mode: "throughput", target: target.label, timings: timings, seconds: seconds, load: load,
                                       slo: ServiceLevelObjective(e2eMs: 600_000)))
        }
        for r in reports {
            #expect(r.completed == 6 && r.failed == 0)
            #expect(r.outputTokens == 36)
            #expect(r.promptTokens == requests.reduce(0) { $0 + $1.inputIDs!.count })
            #expect(r.ttftMs.count == 6 && r.e2eMs.count == 6 && r.tpotMs.count == 6 && r.itlMs.count == 30)
            #expect(r.ttftMs.min > 0 && r.ttftMs.max <= r.e2eMs.max)
            #expect(r.outputTokenThroughput > 0 && r.requestThroughput > 0 && r.totalTokenThroughput > r.outputTokenThroughput)
            #expect(r.goodput == r.requestThroughput)
            #expect(r.outputHashOf == "token_ids" && r.outputHash.count == 64)
        }
        #expect(reports[0].outputHash == reports[1].outputHash, "batching must not change greedy output")

        let json = try JSONEncoder().encode(["runs": reports])
        let object = try JSONSerialization.jsonObject(with: json) as! [String: [[String: Any]]]
        let keys = Set(object["runs"]![0].keys)
        for key in ["mode", "target", "date", "num_requests", "completed", "failed", "concurrency", "request_rate", "burstiness",
                    "duration_s", "request_throughput", "output_token_throughput", "total_token_throughput", "prompt_tokens",
                    "output_tokens", "ttft_ms", "tpot_ms", "itl_ms", "e2e_ms", "slo", "goodput", "output_hash", "output_hash_of"] {
            #expect(keys.contains(key), "report lacks \(key)")
        }
        let ttft = object["runs"]![0]["ttft_ms"] as! [String: Any]
        #expect(Set(ttft.keys) == ["count", "mean", "median", "p90", "p95", "p99", "min", "max"])

        #expect(XMLCheck.isWellFormed(SVGChart.latency(reports[0])))
        #expect(XMLCheck.isWellFormed(SVGChart.sweep(reports)))
    }
}
