// trtllm-bench's building blocks: statistics, datasets, arrivals, hashing, HTTP parsing, reports.
import Foundation
import Testing
@testable import TLLMBench

@Suite("trtllm-bench statistics and datasets")
struct BenchStatisticsTests {
    @Test("Percentiles agree with a brute-force nearest-rank computation within HdrHistogram's 0.1%", arguments: [1, 7, 100, 5000])
    func percentilesMatchBruteForce(count: Int) {
        var rng = BenchRNG(seed: UInt64(count))
        // Latencies from 50 µs to 20 s, log-uniform.
        let samples = (0..<count).map { _ in 50e-6 * pow(400_000, rng.unit()) }
        let s = LatencySummary(seconds: samples)
        let sorted = samples.sorted().map { $0 * 1000 }
        func rank(_ p: Double) -> Double { sorted[max(0, Int((p / 100 * Double(count)).rounded(.up)) - 1)] }
        for (p, value) in [(50.0, s.median), (90, s.p90), (95, s.p95), (99, s.p99)] {
            let exact = rank(p)
            #expect(abs(value - exact) <= exact * 0.002 + 0.001, "p\(p): \(value) vs \(exact)")
        }
        #expect(abs(s.mean - sorted.reduce(0, +) / Double(count)) < 1e-9 * max(1, s.mean))
        #expect(s.min == sorted.first! && s.max == sorted.last! && s.count == count)
        #expect(LatencySummary(seconds: []).count == 0)
    }

    @Test("Bad dataset lines are refused with their line number", arguments: [
        ("{\"prompt\": \"hi\", \"output_tokens\": 4}\n{\"prompt\": \"x\"}", "line 2"),
        ("\n\n{\"output_tokens\": 3}", "line 3"),
        ("{\"prompt\": \"a\", \"input_ids\": [1], \"output_tokens\": 3}", "line 1"),
        ("{\"input_ids\": [1, 2], \"output_tokens\": 0}", "line 1"),
        ("{\"input_ids\": [], \"output_tokens\": 2}", "line 1"),
        ("{\"input_ids\": [1, -2], \"output_tokens\": 2}", "line 1"),
        ("{\"prompt\": \"ok\", \"output_tokens\": 2}\nnot json", "line 2"),
        ("{\"prompt\": 5, \"output_tokens\": 2}", "line 1"),
        ("\n  \n", "no requests"),
    ])
    func badLinesNameTheirNumber(text: String, needle: String) {
        #expect {
            _ = try BenchDataset.parseJSONL(text)
        } throws: { error in
            (error as? BenchError)?.message.contains(needle) == true
        }
    }

    @Test("Datasets round-trip through JSONL and synthetic ones are reproducible")
    func datasetsRoundTrip() throws {
        let a = try BenchDataset.synthetic(count: 50, input: LengthDistribution(mean: 20, standardDeviation: 5),
                                           output: LengthDistribution(mean: 8), vocabulary: 17..<1000, seed: 9)
        let b = try BenchDataset.synthetic(count: 50, input: LengthDistribution(mean: 20, standardDeviation: 5),
                                           output: LengthDistribution(mean: 8), vocabulary: 17..<1000, seed: 9)
        #expect(a == b)
        #expect(a.allSatisfy { $0.outputTokens == 8 && $0.inputIDs!.allSatisfy { (17..<1000).contains($0) } })
        #expect(Set(a.map { $0.inputIDs!.count }).count > 3, "normal lengths vary")
        #expect(try BenchDataset.parseJSONL(BenchDataset.jsonl(a)) == a)
        let text = try BenchDataset.parseJSONL("{\"prompt\": \"Hello\", \"output_tokens\": 3}\n")
        #expect(text == [BenchRequest(prompt: "Hello", outputTokens: 3)])
    }

    @Test("Poisson arrivals have the requested mean rate; burstiness keeps the mean")
    func arrivalsHaveTheRequestedRate() {
        for burstiness in [1.0, 0.5, 4.0] {
            let offsets = LoadConfig(concurrency: 1, requestRate: 20, burstiness: burstiness, seed: 3).arrivalOffsets(count: 4000)
            let rate = Double(offsets.count - 1) / offsets.last!
            #expect(abs(rate - 20) < 1.5, "burstiness \(burstiness): rate \(rate)")
            #expect(zip(offsets.dropFirst(), offsets).allSatisfy { $0 >= $1 })
        }
        #expect(LoadConfig(concurrency: 2).arrivalOffsets(count: 3) == [0, 0, 0])
    }

    @Test("SHA-256 matches the FIPS test vectors")
    func sha256Vectors() {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("Chunked HTTP bodies and SSE events are parsed across arbitrary splits")
    func httpAndSSEParsing() throws {
        let body = "data: {\"a\":1}\n\ndata: [DONE]\n\n"
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
            + String(body.utf8.count - 10, radix: 16) + "\r\n" + String(body.prefix(body.count - 10)) + "\r\n"
            + "a\r\n" + String(body.suffix(10)) + "\r\n0\r\n\r\n"
        let bytes = Array(chunked.utf8)
        for split in [1, 3, 7, bytes.count] {
            var reader = HTTPResponseReader(), sse = SSEParser(), events: [String] = []
            var i = 0
            while i < bytes.count {
                events += sse.feed(try reader.feed(Array(bytes[i..<min(i + split, bytes.count)])))
                i += split
            }
            #expect(reader.status == 200)
            #expect(reader.finished)
            #expect(events == ["{\"a\":1}", "[DONE]"], "split \(split)")
        }
        var notHTTP = HTTPResponseReader()
        #expect(throws: BenchError.self) { _ = try notHTTP.feed(Array("garbage\r\n\r\n".utf8)) }
    }

    @Test("The SLO parser accepts the three metrics and refuses anything else")
    func sloParsing() throws {
        let slo = try ServiceLevelObjective(parsing: "ttft:200,tpot:50.5,e2e:3000")
        #expect(slo == ServiceLevelObjective(ttftMs: 200, tpotMs: 50.5, e2eMs: 3000))
        #expect(throws: BenchError.self) { _ = try ServiceLevelObjective(parsing: "latency:3") }
        #expect(throws: BenchError.self) { _ = try ServiceLevelObjective(parsing: "ttft:-1") }
    }
}
