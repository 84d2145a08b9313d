// Tests for the byte-level BPE tokenizer on small hand-made vocabularies: merges, pre-tokenizers, special tokens, UTF-8 streaming.

import Foundation
import MiniTRTLLM
import Testing
import TLLMModel

// MARK: - Fixtures

/// The byte-level form of `text` (as vocabulary and merge strings are written).
private func bl(_ text: String) -> String { ByteLevel.encode(Array(text.utf8)) }

/// A tokenizer whose vocabulary is: `control` (type 3), `userDefined` (type 4), the 256 byte tokens in
/// byte order, then `words` (given as plain text, stored in byte-level form). Merges are given as plain
/// text pairs and converted to byte-level form.
private func makeTokenizer(words: [String] = [], merges: [(String, String)] = [], control: [String] = [],
                           userDefined: [String] = [], pre: String = "gpt2", bosID: Int32? = nil,
                           eosID: Int32? = nil, addBOS: Bool = false, addEOS: Bool = false) throws -> Tokenizer {
    var tokens = control + userDefined
    var types = [Int](repeating: 3, count: control.count) + [Int](repeating: 4, count: userDefined.count)
    for byte in 0..<256 {
        tokens.append(String(ByteLevel.byteToScalar[byte]))
        types.append(1)
    }
    for word in words {
        tokens.append(bl(word))
        types.append(1)
    }
    return try Tokenizer(tokens: tokens, tokenTypes: types, merges: merges.map { "\(bl($0.0)) \(bl($0.1))" },
                         preTokenizer: pre, bosID: bosID, eosID: eosID, addBOS: addBOS, addEOS: addEOS)
}

/// The vocabulary strings of `ids`, decoded to plain text (one entry per id).
private func pieces(_ tokenizer: Tokenizer, _ ids: [Int32]) -> [String] {
    ids.map { String(decoding: tokenizer.bytes(of: $0), as: UTF8.self) }
}

/// Token ids of the single bytes of `text` in a `makeTokenizer` vocabulary with `specials` specials first.
private func byteIDs(_ text: String, specials: Int = 0) -> [Int32] {
    text.utf8.map { Int32(specials + Int($0)) }
}

/// Writes a GGUF holding `metadata` to a temporary file and opens it.
private func ggufFile(_ metadata: [(String, GGUFValue)]) throws -> GGUFFile {
    var writer = GGUFWriter()
    for (key, value) in metadata { writer.add(key, value) }
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("tokenizer-test-\(UUID().uuidString).gguf").path
    try writer.write(to: path)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try GGUFFile(path: path)
}

/// Tokenizer behaviour on hand-made vocabularies (no model file needed).
@Suite struct TokenizerTests {
    // MARK: - Byte-level alphabet

    @Test func byteLevelAlphabetIsGPT2s() {
        #expect(ByteLevel.byteToScalar.count == 256)
        #expect(Set(ByteLevel.byteToScalar).count == 256)
        #expect(ByteLevel.byteToScalar[0x20] == "\u{0120}")  // "Ġ"
        #expect(ByteLevel.byteToScalar[0x0A] == "\u{010A}")  // "Ċ"
        #expect(ByteLevel.byteToScalar[0x00] == "\u{0100}")
        #expect(ByteLevel.byteToScalar[0x41] == "A")
        #expect(ByteLevel.byteToScalar[0xAD] == "\u{0143}")  // the last non-printable byte
        #expect(ByteLevel.encode(Array(" hi".utf8)) == "Ġhi")
        let all = (0...255).map { UInt8($0) }
        #expect(ByteLevel.decode(ByteLevel.encode(all)) == all)
    }

    // MARK: - BPE

    @Test func mergesApplyInRankOrder() throws {
        let words = ["ab", "bc", "abc"]
        // "b c" outranks "a b": a + bc, then "a bc" makes abc.
        let first = try makeTokenizer(words: words, merges: [("b", "c"), ("a", "b"), ("a", "bc")])
        #expect(pieces(first, first.encode("abc")) == ["abc"])
        // Without the final merge, the rank order alone decides the segmentation.
        let bcFirst = try makeTokenizer(words: words, merges: [("b", "c"), ("a", "b")])
        #expect(pieces(bcFirst, bcFirst.encode("abc")) == ["a", "bc"])
        let abFirst = try makeTokenizer(words: words, merges: [("a", "b"), ("b", "c")])
        #expect(pieces(abFirst, abFirst.encode("abc")) == ["ab", "c"])
    }

    @Test func equalRankMergesGoLeftmostFirst() throws {
        let tokenizer = try makeTokenizer(words: ["aa", "aaaa"], merges: [("a", "a"), ("aa", "aa")])
        #expect(pieces(tokenizer, tokenizer.encode("aaa")) == ["aa", "a"])
        #expect(pieces(tokenizer, tokenizer.encode("aaaaa")) == ["aaaa", "a"])
        #expect(pieces(tokenizer, tokenizer.encode("aaaaaaaa")) == ["aaaa", "aaaa"])
    }

    @Test func mergesUseByteLevelSpaces() throws {
        let tokenizer = try makeTokenizer(words: [" t", " the", "he"],
                                          merges: [(" ", "t"), ("h", "e"), (" t", "he")])
        let ids = tokenizer.encode("the the")
        #expect(pieces(tokenizer, ids) == ["t", "he", " the"])
        #expect(tokenizer.id(of: "Ġthe") == ids.last)
        #expect(tokenizer.decode(ids) == "the the")
    }

    @Test func charactersWithoutMergesFallBackToByteTokens() throws {
        let tokenizer = try makeTokenizer()
        // "é" is two bytes; with no merges each byte is its own token.
        #expect(tokenizer.encode("é") == byteIDs("é"))
        #expect(pieces(tokenizer, tokenizer.encode("é")).count == 2)
        #expect(tokenizer.bytes(of: tokenizer.encode("é")[0]) == [0xC3])
        #expect(tokenizer.decode(tokenizer.encode("é")) == "é")
    }

    @Test func mergeResultsMissingFromTheVocabularyFallBackToBytes() throws {
        // "x y" merges to "xy", which is not a token: the result is split back into byte tokens,
        // but "xy z" (whose result "xyz" is a token) still applies on top of it.
        let tokenizer = try makeTokenizer(words: ["xyz"], merges: [("x", "y"), ("xy", "z")])
        #expect(tokenizer.encode("xy") == byteIDs("xy"))
        #expect(pieces(tokenizer, tokenizer.encode("xyz")) == ["xyz"])
    }

    // MARK: - Pre-tokenizers

    @Test(arguments: [
        ("gpt2", "Hello world's  test\n\nfoo 123 !!  ",
         ["Hello", " world", "'s", " ", " test", "\n", "\n", "foo", " 123", " !!", "  "]),
        ("gpt2", "I'M here, they'LL go\tnow", ["I", "'", "M", " here", ",", " they", "'", "LL", " go", "\t", "now"]),
        ("gpt2", "price: 12345 dollars\r\n\n  x", ["price", ":", " 12345", " dollars", "\r\n\n ", " x"]),
        ("gpt2", "don't\n  \n\tend", ["don", "'t", "\n  \n", "\t", "end"]),
        ("llama-bpe", "Hello world's  test\n\nfoo 123 !!  ",
         ["Hello", " world", "'s", " ", " test", "\n\n", "foo", " ", "123", " !!", "  "]),
        ("llama-bpe", "I'M here, they'LL go\tnow", ["I", "'M", " here", ",", " they", "'LL", " go", "\tnow"]),
        ("llama-bpe", "price: 12345 dollars\r\n\n  x", ["price", ":", " ", "123", "45", " dollars", "\r\n\n", " ", " x"]),
        ("llama-bpe", "don't\n  \n\tend", ["don", "'t", "\n  \n", "\tend"]),
        ("qwen2", "price: 12345 dollars\r\n\n  x",
         ["price", ":", " ", "1", "2", "3", "4", "5", " dollars", "\r\n\n", " ", " x"]),
        ("qwen2", "a 1,000.5 x2", ["a", " ", "1", ",", "0", "0", "0", ".", "5", " x", "2"]),
        ("smollm", "Hello world's  test\n\nfoo 123 !!  ",
         ["Hello", " world", "'s", " ", " test", "\n", "\n", "foo", " ", "1", "2", "3", " !!", "  "]),
        ("smollm", "a 1,000.5 x2", ["a", " ", "1", ",", "0", "0", "0", ".", "5", " x", "2"]),
        ("smollm", "price: 12345 dollars\r\n\n  x",
         ["price", ":", " ", "1", "2", "3", "4", "5", " dollars", "\r\n\n ", " x"]),
        ("smollm", "你好，世界！ 😀🎉 ½", ["你好", "，", "世界", "！", " 😀🎉", " ", "½"]),
    ])
    func preTokenizerSplits(name: String, text: String, expected: [String]) throws {
        let pre = try PreTokenizer(name: name)
        #expect(pre.split(text) == expected)
    }

    @Test func preTokenizerNames() throws {
        #expect(try PreTokenizer(name: "llama3").kind == .llama3)
        #expect(try PreTokenizer(name: "default").kind == .gpt2)
        #expect(try PreTokenizer(name: "starcoder").kind == .smollm)
        let error = #expect(throws: TokenizerError.self) { try PreTokenizer(name: "no-such-pre") }
        #expect(error?.code == .unsupportedPreTokenizer)
        #expect(error?.message.contains("no-such-pre") == true)
    }

    @Test func llama3TakesWholeWordsWithoutMerging() throws {
        // With merges "a b" then "b c", plain BPE gives ab + c; Llama-3 takes the vocabulary entry "abc" whole.
        let words = ["ab", "bc", "abc"]
        let merges = [("a", "b"), ("b", "c")]
        let gpt2 = try makeTokenizer(words: words, merges: merges, pre: "gpt2")
        let llama3 = try makeTokenizer(words: words, merges: merges, pre: "llama-bpe")
        #expect(pieces(gpt2, gpt2.encode("abc")) == ["ab", "c"])
        #expect(pieces(llama3, llama3.encode("abc")) == ["abc"])
    }

    // MARK: - Special tokens

    @Test func controlTokensAreMatchedOnlyWhenParsingSpecials() throws {
        let specials = ["<|im_start|>", "<|im_end|>"]
        let tokenizer = try makeTokenizer(control: specials, pre: "smollm", eosID: 1)
        let text = "<|im_start|>hi<|im_end|>"
        #expect(tokenizer.encode(text) == [0] + byteIDs("hi", specials: 2) + [1])
        #expect(tokenizer.encode(text, parseSpecial: false) == byteIDs(text, specials: 2))
        #expect(tokenizer.isControl(0) && tokenizer.isControl(1) && !tokenizer.isControl(2))
        #expect(tokenizer.id(of: "<|im_end|>") == 1)
        #expect(tokenizer.bytes(of: 1) == Array("<|im_end|>".utf8))
        #expect(tokenizer.decode(tokenizer.encode(text)) == text)
        #expect(tokenizer.decode(tokenizer.encode(text), skipSpecialTokens: true) == "hi")
    }

    @Test func userDefinedTokensAreAlwaysMatched() throws {
        let tokenizer = try makeTokenizer(control: ["<ctl>"], userDefined: ["<user>"])
        #expect(tokenizer.encode("a<user>b", parseSpecial: false) == byteIDs("a", specials: 2) + [1] + byteIDs("b", specials: 2))
        #expect(tokenizer.encode("<ctl><user>") == [0, 1])
        #expect(!tokenizer.isControl(1))
        #expect(tokenizer.decode([0, 1], skipSpecialTokens: true) == "<user>")
    }

    @Test func longerSpecialTokensWin() throws {
        let tokenizer = try makeTokenizer(control: ["<|a|>", "<|a|>b"])
        #expect(tokenizer.encode("<|a|>b<|a|>x") == [1, 0] + byteIDs("x", specials: 2))
        // Pre-tokenization does not run across a special token.
        #expect(tokenizer.encode(" <|a|> ") == byteIDs(" ", specials: 2) + [0] + byteIDs(" ", specials: 2))
    }

    @Test func bosAndEosFollowTheMetadata() throws {
        let tokenizer = try makeTokenizer(control: ["<s>", "</s>"], bosID: 0, eosID: 1, addBOS: true, addEOS: true)
        #expect(tokenizer.encode("a") == [0] + byteIDs("a", specials: 2) + [1])
        #expect(tokenizer.encode("a", addSpecial: false) == byteIDs("a", specials: 2))
        #expect(tokenizer.encode("") == [0, 1])
        let plain = try makeTokenizer(control: ["<s>", "</s>"], bosID: 0, eosID: 1)
        #expect(plain.encode("") == [])
        #expect(plain.bosID == 0 && plain.eosID == 1)
    }

    // MARK: - UTF-8

    @Test(arguments: ["", "Hello world", "  two leading spaces", "tab\tseparated\r\nlines\n\n", "naïve café",
                      "你好，世界！", "Emoji: 😀🎉👍🏽 and 🇫🇷 ❤️ 👨‍👩‍👧", "e\u{301} \u{0}\u{7F}\u{85}\u{A0}\u{3000}",
                      "don't can't IT'S 1,000.5"])
    func utf8RoundTrips(text: String) throws {
        for pre in ["gpt2", "llama-bpe", "qwen2", "smollm"] {
            let tokenizer = try makeTokenizer(words: [" t", "he"], merges: [(" ", "t"), ("h", "e")], pre: pre)
            #expect(tokenizer.decode(tokenizer.encode(text)) == text)
            #expect(tokenizer.decode(tokenizer.encode(text, parseSpecial: false)) == text)
        }
    }

    @Test func wholeDecodeReplacesInvalidUTF8() throws {
        let tokenizer = try makeTokenizer()
        let emoji = byteIDs("😀")
        #expect(tokenizer.decode(Array(emoji.prefix(2))) == "\u{FFFD}")
        #expect(tokenizer.decode(Array(emoji.prefix(2)) + byteIDs("a")) == "\u{FFFD}a")
        #expect(tokenizer.decode([0xFF] + byteIDs("ok")) == "\u{FFFD}ok")
        #expect(tokenizer.decode([Int32(tokenizer.vocabularySize), -1] + byteIDs("x")) == "x")
    }

    // MARK: - Incremental detokenizer

    @Test func incrementalDetokenizerHoldsBackPartialCharacters() throws {
        let tokenizer = try makeTokenizer()
        var stream = IncrementalDetokenizer(tokenizer: tokenizer)
        let outputs = byteIDs("a😀b").map { stream.append($0) }
        #expect(outputs == ["a", "", "", "", "😀", "b"])
        #expect(stream.finish() == "")

        var truncated = IncrementalDetokenizer(tokenizer: tokenizer)
        #expect(byteIDs("é😀").dropLast().map { truncated.append($0) }.joined() == "é")
        #expect(truncated.finish() == "\u{FFFD}")

        var special = IncrementalDetokenizer(tokenizer: try makeTokenizer(control: ["<e>"]), skipSpecialTokens: true)
        #expect(special.append(0) == "")
        #expect(special.append(Int32(1 + 0x41)) == "A")
    }

    @Test func incrementalDetokenizerNeverEmitsHalfACharacter() throws {
        // Byte soup of valid and invalid sequences: every piece must be whole characters (no U+FFFD
        // from a split character), and the pieces together must equal the whole-string decode.
        let tokenizer = try makeTokenizer()
        var generator = SystemRandomNumberGenerator()
        let fragments: [[UInt8]] = [Array("a".utf8), Array("é".utf8), Array("€".utf8), Array("😀".utf8),
                                    Array("👍🏽".utf8), [0xFF], [0x80], [0xE0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90]]
        for _ in 0..<200 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                bytes += fragments.randomElement(using: &generator)!
            }
            let ids = bytes.map { Int32($0) }
            var stream = IncrementalDetokenizer(tokenizer: tokenizer)
            var text = ""
            for id in ids { text += stream.append(id) }
            text += stream.finish()
            #expect(text == tokenizer.decode(ids), "bytes \(bytes)")
        }
        // Only the valid pieces, split anywhere: no replacement character ever appears.
        let valid = Array("ab😀é€👍🏽".utf8)
        var stream = IncrementalDetokenizer(tokenizer: tokenizer)
        let outputs = valid.map { stream.append(Int32($0)) }
        #expect(!outputs.joined().contains("\u{FFFD}"))
        #expect(outputs.joined() + stream.finish() == "ab😀é€👍🏽")
    }

    // MARK: - Construction

    @Test func invalidVocabulariesThrow() throws {
        let empty = #expect(throws: TokenizerError.self) {
            try Tokenizer(tokens: [], tokenTypes: [], merges: [], preTokenizer: "gpt2",
                          bosID: nil, eosID: nil, addBOS: false, addEOS: false)
        }
        #expect(empty?.code == .invalidVocabulary)
        let mismatch = #expect(throws: TokenizerError.self) {
            try Tokenizer(tokens: ["a", "b"], tokenTypes: [1], merges: [], preTokenizer: "gpt2",
                          bosID: nil, eosID: nil, addBOS: false, addEOS: false)
        }
        #expect(mismatch?.code == .invalidVocabulary)
        let badEOS = #expect(throws: TokenizerError.self) {
            try Tokenizer(tokens: ["a"], tokenTypes: [1], merges: [], preTokenizer: "gpt2",
                          bosID: nil, eosID: 5, addBOS: false, addEOS: false)
        }
        #expect(badEOS?.code == .invalidSpecialTokenID)
        let badMerge = #expect(throws: TokenizerError.self) {
            try Tokenizer(tokens: ["a"], tokenTypes: [1], merges: ["ab"], preTokenizer: "gpt2",
                          bosID: nil, eosID: nil, addBOS: false, addEOS: false)
        }
        #expect(badMerge?.code == .invalidMerge)
    }

    @Test func buildsFromGGUFMetadata() throws {
        let tokens = ["<|endoftext|>"] + (0..<256).map { String(ByteLevel.byteToScalar[$0]) } + ["he", "Ġthe"]
        let file = try ggufFile([
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string("smollm")),
            ("tokenizer.ggml.tokens", .array(tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array([.int32(3)] + (1..<tokens.count).map { _ in .int32(1) })),
            ("tokenizer.ggml.merges", .array(["h e", "Ġ t", "Ġt he"].map { .string($0) })),
            ("tokenizer.ggml.eos_token_id", .uint32(0)),
            ("tokenizer.ggml.add_bos_token", .bool(false)),
        ])
        let tokenizer = try Tokenizer(gguf: file)
        #expect(tokenizer.vocabularySize == 259)
        #expect(tokenizer.bosID == nil && tokenizer.eosID == 0)
        #expect(tokenizer.encode("the the<|endoftext|>") == [1 + 0x74, 257, 258, 0])
        #expect(tokenizer.decode(tokenizer.encode(" the")) == " the")

        let sentencePiece = try ggufFile([("tokenizer.ggml.model", .string("llama")),
                                          ("tokenizer.ggml.tokens", .array([.string("a")]))])
        let error = #expect(throws: TokenizerError.self) { try Tokenizer(gguf: sentencePiece) }
        #expect(error?.code == .unsupportedModel)
        let missing = try ggufFile([("tokenizer.ggml.model", .string("gpt2"))])
        #expect((#expect(throws: TokenizerError.self) { try Tokenizer(gguf: missing) })?.code == .missingKey)
    }
}
