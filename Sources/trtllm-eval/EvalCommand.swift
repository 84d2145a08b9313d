// trtllm-eval: tokenize, teacher-forced logits and perplexity — the stable interface tests and tools drive.
import ArgumentParser
import MiniTRTLLM
import TLLMCLI
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

@main
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trtllm-eval",
        abstract: "Evaluate a model: tokenize text, print teacher-forced logits, measure perplexity.",
        subcommands: [Tokenize.self, LogitsCommand.self, Perplexity.self])
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of a text as a JSON array.")
    @OptionGroup var model: ModelOptions
    @Flag(name: .long, help: "Treat control-token text (e.g. <|im_start|>) as ordinary text.") var noParseSpecial = false
    @Option(name: .long, help: "The text to tokenize.") var text: String?
    @Option(name: .long, help: "A file whose contents to tokenize.") var textFile: String?

    func validate() throws {
        if (text == nil) == (textFile == nil) { throw ValidationError("give exactly one of --text or --text-file") }
    }

    func run() throws {
        let tokenizer = try ModelSource.open(model.model).tokenizer
        let input = try text ?? readTextFile(textFile!)
        let ids = tokenizer.encode(input, parseSpecial: !noParseSpecial)
        print("[" + ids.map(String.init).joined(separator: ", ") + "]")
    }
}

struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits",
        abstract: "One teacher-forced pass over the ids in a JSON file; prints the top-k logits of every position.")
    @OptionGroup var model: ModelOptions
    @OptionGroup var engine: EngineOptions
    @Option(name: .long, help: "A file holding a JSON array of token ids.") var idsFile: String
    @Option(name: .long, help: "How many of the largest logits to print per position.") var topK: Int = 10

    func run() throws {
        model.applyThreads()
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
        let ids = try JSONDecoder().decode([Int32].self, from: Data(readTextFile(idsFile).utf8))
        let source = try ModelSource.open(model.model)
        let config = source.preparing(try engine.buildConfig(maxSeqLen: max(ids.count, 2)))
        let llm = try LLM(model: source.model, tokenizer: source.tokenizer, buildConfig: config)
        let logits = try llm.logits(ids: ids)
        var rows: [String] = []
        for r in 0..<logits.rowCount {
            let row = logits.row(r)
            let top = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(topK)
            let ids = top.map { String($0 - row.startIndex) }.joined(separator: ", ")
            let values = top.map { "\(row[$0])" }.joined(separator: ", ")
            rows.append("{\"top_ids\": [\(ids)], \"top_logits\": [\(values)]}")
        }
        print("[\n" + rows.joined(separator: ",\n") + "\n]")
    }
}

struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Perplexity of a text: consecutive windows of --ctx tokens, each scored on its own.")
    @OptionGroup var model: ModelOptions
    @OptionGroup var engine: EngineOptions
    @Option(name: .long, help: "The text file to score.") var textFile: String
    @Option(name: .long, help: "Score only the first N tokens of the text.") var maxTokens: Int?
    @Option(name: .long, help: "Window length in tokens.") var ctx: Int = 512

    func run() throws {
        model.applyThreads()
        guard ctx >= 2 else { throw ValidationError("--ctx must be at least 2") }
        let source = try ModelSource.open(model.model)
        let config = source.preparing(try engine.buildConfig(maxSeqLen: ctx, maxNumTokens: ctx))
        let llm = try LLM(model: source.model, tokenizer: source.tokenizer, buildConfig: config)
        var ids = llm.tokenizer.encode(try readTextFile(textFile), parseSpecial: false)
        if let maxTokens { ids = Array(ids.prefix(maxTokens)) }
        let result = try PerplexityEvaluator(llm: llm).evaluate(ids: ids, window: ctx)
        print("{\"perplexity\": \(result.perplexity), \"tokens\": \(result.tokens)}")
    }
}
