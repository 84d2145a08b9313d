// Tests the tokenizer of the default model's GGUF against the reference token ids in refdata/tokenize.json.

import Foundation
import MiniTRTLLM
import Testing
import TLLMModel

/// One entry of `tokenize.json`.
private struct TokenizeReference: Decodable {
    struct Entry: Decodable {
        let name: String
        let text: String
        let idsParseSpecial: [Int32]
        let idsNoParseSpecial: [Int32]

        enum CodingKeys: String, CodingKey {
            case name, text
            case idsParseSpecial = "ids_parse_special"
            case idsNoParseSpecial = "ids_no_parse_special"
        }
    }
    let entries: [Entry]
}

/// Checks `tokenizer` against every entry of `<refdataDirectory>/tokenize.json` in both special-token
/// modes (without BOS/EOS, which the default model does not add), plus `decode(encode(s)) == s` and the
/// incremental detokenizer reproducing `s` token by token.
func checkTokenizerAgainstReference(_ tokenizer: Tokenizer, refdataDirectory: String) throws {
    let url = URL(fileURLWithPath: refdataDirectory).appendingPathComponent("tokenize.json")
    let reference = try JSONDecoder().decode(TokenizeReference.self, from: Data(contentsOf: url))
    #expect(!reference.entries.isEmpty)
    for entry in reference.entries {
        let parsed = tokenizer.encode(entry.text, parseSpecial: true)
        let plain = tokenizer.encode(entry.text, parseSpecial: false)
        #expect(parsed == entry.idsParseSpecial, "\(entry.name): ids with special-token parsing")
        #expect(plain == entry.idsNoParseSpecial, "\(entry.name): ids without special-token parsing")
        #expect(tokenizer.decode(parsed) == entry.text, "\(entry.name): decode(encode(text))")
        #expect(tokenizer.decode(plain) == entry.text, "\(entry.name): decode(encode(text, parseSpecial: false))")
        var stream = IncrementalDetokenizer(tokenizer: tokenizer)
        var streamed = ""
        for id in parsed { streamed += stream.append(id) }
        streamed += stream.finish()
        #expect(streamed == entry.text, "\(entry.name): incremental detokenization")
    }
}

/// The default model's tokenizer against the reference data.
@Suite(.enabled(if: TestModel.enabled, "default model not available"))
struct TokenizerReferenceTests {
    @Test("Every reference string tokenizes exactly in both modes and round-trips")
    func defaultModelTokenizerMatchesReference() throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: TestModel.path()))
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.bosID == 1)
        #expect(tokenizer.eosID == 2)
        #expect(tokenizer.id(of: "<|im_end|>") == 2)
        #expect(tokenizer.isControl(2))
        #expect(tokenizer.encode("Hello world") == [19556, 905])
        try checkTokenizerAgainstReference(tokenizer, refdataDirectory: TestModel.refdataDirectory())
    }
}
