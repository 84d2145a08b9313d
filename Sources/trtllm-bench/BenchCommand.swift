// trtllm-bench: throughput (in-process) and serve (over HTTP) benchmarks with vLLM's metrics.
import ArgumentParser
import Foundation
import MiniTRTLLM
import TLLMBench
import TLLMCLI

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trtllm-bench",
        abstract: "Measure latency and throughput: in-process through the LLM API, or against any OpenAI-compatible server.",
        subcommands: [PrepareDataset.self, Throughput.self, Serve.self])
}

/// Where requests come from: a JSONL file, or synthetic lengths over the model's vocabulary.
struct DatasetOptions: ParsableArguments {
    @Option(name: .long, help: "JSONL dataset: {\"prompt\": ..., \"output_tokens\": N} or {\"input_ids\": [...], \"output_tokens\": N} per line.")
    var dataset: String?
    @Option(name: .long, help: "Requests to run (synthetic), or to take from the dataset (default: all).") var numRequests: Int?
    @Option(name: .long, help: "Synthetic prompt length (tokens).") var inputMean = 128
    @Option(name: .long, help: "Standard deviation of the synthetic prompt length (0 = fixed).") var inputStddev = 0.0
    @Option(name: .long, help: "Tokens to generate per synthetic request.") var outputMean = 128
    @Option(name: .long, help: "Standard deviation of the synthetic output length (0 = fixed).") var outputStddev = 0.0
    @Option(name: .long, help: "Seed for synthetic prompts and arrivals.") var seed: UInt64 = 0

    func requests(tokenizerModel: String?) throws -> [BenchRequest] {
        if let dataset {
            var requests = try BenchDataset.parseJSONL(try readTextFile(dataset))
            if let n = numRequests { requests = Array(requests.prefix(max(1, n))) }
            return requests
        }
        guard let model = tokenizerModel else { throw ValidationError("synthetic requests need --model (its vocabulary) or use --dataset") }
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: model))
        let vocab = Int32(tokenizer.vocabularySize)
        let firstOrdinary = (0..<min(vocab, 1024)).last(where: tokenizer.isControl).map { $0 + 1 } ?? 0
        return try BenchDataset.synthetic(count: numRequests ?? 64, input: LengthDistribution(mean: inputMean, standardDeviation: inputStddev),
                                          output: LengthDistribution(mean: outputMean, standardDeviation: outputStddev),
                                          vocabulary: firstOrdinary..<vocab, seed: seed)
    }
}

/// How load is offered and what is written.
struct LoadOptions: ParsableArguments {
    @Option(name: .long, help: "Requests in flight; a comma-separated list runs a sweep (e.g. 1,4,16,64).") var concurrency = "1"
    @Option(name: .long, help: "Mean arrivals per second (Poisson), or inf to send all at once.") var requestRate = "inf"
    @Option(name: .long, help: "Gamma shape of inter-arrival times: 1 = Poisson, < 1 burstier.") var burstiness = 1.0
    @Option(name: .long, help: "Requests run before measuring and left out of the results.") var warmup = 0
    @Option(name: .long, help: "Goodput SLO in milliseconds, e.g. ttft:500,tpot:50,e2e:10000.") var slo: String?
    @Option(name: .long, help: "Write the JSON report here.") var reportJson: String?
    @Option(name: .long, help: "Write an SVG chart here (latency percentiles; throughput and p99 TTFT for a sweep).") var plot: String?
    @Flag(name: .long, help: "No progress bar on stderr.") var noProgress = false

    func levels() throws -> [Int] {
        let values = concurrency.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.count == concurrency.split(separator: ",").count, values.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--concurrency must be positive integers separated by commas, got \(concurrency)")
        }
        return values
    }

    func rate() throws -> Double {
        if requestRate == "inf" { return .infinity }
        guard let r = Double(requestRate), r > 0 else { throw ValidationError("--request-rate must be a positive number or inf") }
        return r
    }

    /// Runs every concurrency level, prints tables, writes the JSON report and the chart.
    func run(mode: String, target: any BenchTarget, requests: [BenchRequest], seed: UInt64) async throws {
        let objective = try slo.map { try ServiceLevelObjective(parsing: $0) }
        var reports: [BenchReport] = []
        for level in try levels() {
            let load = LoadConfig(concurrency: level, requestRate: try rate(), burstiness: burstiness, warmup: warmup, seed: seed)
            let (timings, seconds) = try await BenchRunner.run(target, requests: requests, load: load, progress: !noProgress)
            let report = BenchReport(mode: mode, target: target.label, timings: timings, seconds: seconds, load: load, slo: objective)
            print(report.table)
            reports.append(report)
        }
        if let reportJson {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(["runs": reports]).write(to: URL(fileURLWithPath: reportJson))
        }
        if let plot {
            let svg = reports.count > 1 ? SVGChart.sweep(reports) : SVGChart.latency(reports[0])
            try svg.write(toFile: plot, atomically: true, encoding: .utf8)
        }
        if reports.contains(where: { $0.completed == 0 }) { throw ExitCode(1) }
    }
}

struct PrepareDataset: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prepare-dataset",
                                                    abstract: "Write a synthetic JSONL dataset drawn from a model's vocabulary.")
    @Option(name: .long, help: "GGUF whose vocabulary the prompts are drawn from.") var model = DefaultModel.path
    @OptionGroup var data: DatasetOptions
    @Option(name: .long, help: "Where to write the JSONL (default: stdout).") var output: String?

    func run() throws {
        guard data.dataset == nil else { throw ValidationError("prepare-dataset writes a synthetic dataset; drop --dataset") }
        let text = BenchDataset.jsonl(try data.requests(tokenizerModel: model))
        if let output { try text.write(toFile: output, atomically: true, encoding: .utf8) } else { print(text, terminator: "") }
    }
}

struct Throughput: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Offline: run the dataset through the LLM API in this process.")
    @OptionGroup var model: ModelOptions
    @OptionGroup var data: DatasetOptions
    @OptionGroup var load: LoadOptions
    @Option(name: .long, help: "KV-cache size in tokens.") var kvCacheMaxTokens = 16384
    @Option(name: .long, help: "Tokens per forward step (max_num_tokens).") var maxNumTokens = 2048

    func run() async throws {
        model.applyThreads()
        let requests = try data.requests(tokenizerModel: model.model)
        let maxBatch = max(try load.levels().max() ?? 1, 1)
        let llm = try LLM(model: model.model, buildConfig: BuildConfig(maxBatchSize: maxBatch, maxNumTokens: maxNumTokens),
                          kvCacheConfig: KvCacheConfig(maxTokens: kvCacheMaxTokens))
        let target = InProcessTarget(llm: llm, label: "in-process \(URL(fileURLWithPath: model.model).lastPathComponent) on \(CPUBackend().description)")
        try await load.run(mode: "throughput", target: target, requests: requests, seed: data.seed)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Online: send the dataset to an OpenAI-compatible server (streaming /v1/completions).",
                                                    aliases: ["latency"])
    @Option(name: .long, help: "Server base URL (http only), e.g. http://127.0.0.1:8000.") var url = "http://127.0.0.1:8000"
    @Option(name: .long, help: "Model name to send in requests.") var servedModelName = "default"
    @Option(name: .long, help: "GGUF for synthetic prompts' vocabulary (not needed with --dataset).") var model: String?
    @OptionGroup var data: DatasetOptions
    @OptionGroup var load: LoadOptions

    func run() async throws {
        let requests = try data.requests(tokenizerModel: model ?? (data.dataset == nil ? DefaultModel.path : nil))
        let target = try HTTPCompletionsTarget(url: url, model: servedModelName)
        try await load.run(mode: "serve", target: target, requests: requests, seed: data.seed)
    }
}
