// Tokenizer boundary: reading the `tokenizer.ggml.*` metadata of a GGUF file into a Tokenizer.
import TLLMModel

extension Tokenizer {
    /// Builds the tokenizer stored in a GGUF file's metadata.
    ///
    /// Keys read: `tokenizer.ggml.model` (required, must be `"gpt2"`), `tokenizer.ggml.tokens` and
    /// `tokenizer.ggml.merges` (required string arrays), `tokenizer.ggml.token_type` (optional, default all
    /// normal), `tokenizer.ggml.pre` (optional, default `"default"` = GPT-2 splitting, as in llama.cpp),
    /// `tokenizer.ggml.bos_token_id` / `eos_token_id` (optional), `tokenizer.ggml.add_bos_token`
    /// (optional; default true only for Llama-3 pre-tokenizers, as in llama.cpp) and
    /// `tokenizer.ggml.add_eos_token` (optional, default false).
    public init(gguf: GGUFFile) throws(TokenizerError) {
        let metadata = gguf.metadata
        let model = try Self.string(metadata, "tokenizer.ggml.model")
        guard let model else {
            throw TokenizerError(.missingKey, "the GGUF has no tokenizer.ggml.model; it needs an embedded byte-level BPE (\"gpt2\") tokenizer")
        }
        guard model == "gpt2" else {
            throw TokenizerError(.unsupportedModel,
                "tokenizer.ggml.model is \"\(model)\"; only byte-level BPE (\"gpt2\") is implemented. Use a model with a GPT-2 style BPE tokenizer")
        }
        guard let tokens = try Self.strings(metadata, "tokenizer.ggml.tokens") else {
            throw TokenizerError(.missingKey, "the GGUF has no tokenizer.ggml.tokens; re-convert the model with its tokenizer")
        }
        guard let merges = try Self.strings(metadata, "tokenizer.ggml.merges") else {
            throw TokenizerError(.missingKey, "the GGUF has no tokenizer.ggml.merges; a BPE tokenizer needs its merge list (re-convert the model)")
        }
        var tokenTypes: [Int] = []
        if let value = metadata["tokenizer.ggml.token_type"] {
            guard let array = value.arrayValue else {
                throw Self.wrongType("tokenizer.ggml.token_type", expected: "an integer array", got: value)
            }
            tokenTypes.reserveCapacity(array.count)
            for (index, element) in array.enumerated() {
                guard let type = element.intValue else {
                    throw TokenizerError(.wrongType, "tokenizer.ggml.token_type[\(index)] is \(element.typeName); expected an integer")
                }
                tokenTypes.append(type)
            }
        }
        let pre = try Self.string(metadata, "tokenizer.ggml.pre") ?? "default"
        let preKind = try PreTokenizer(name: pre).kind
        let bosID = try Self.tokenID(metadata, "tokenizer.ggml.bos_token_id")
        let eosID = try Self.tokenID(metadata, "tokenizer.ggml.eos_token_id")
        let addBOS = try Self.bool(metadata, "tokenizer.ggml.add_bos_token") ?? (preKind == .llama3)
        let addEOS = try Self.bool(metadata, "tokenizer.ggml.add_eos_token") ?? false
        try self.init(tokens: tokens, tokenTypes: tokenTypes, merges: merges, preTokenizer: pre,
                      bosID: bosID, eosID: eosID, addBOS: addBOS, addEOS: addEOS)
    }

    private static func wrongType(_ key: String, expected: String, got value: GGUFValue) -> TokenizerError {
        TokenizerError(.wrongType, "\(key) is \(value.typeName); expected \(expected). The GGUF's tokenizer metadata is malformed")
    }

    private static func string(_ metadata: [String: GGUFValue], _ key: String) throws(TokenizerError) -> String? {
        guard let value = metadata[key] else { return nil }
        guard let string = value.stringValue else { throw wrongType(key, expected: "a string", got: value) }
        return string
    }

    private static func strings(_ metadata: [String: GGUFValue], _ key: String) throws(TokenizerError) -> [String]? {
        guard let value = metadata[key] else { return nil }
        guard let array = value.arrayValue else { throw wrongType(key, expected: "a string array", got: value) }
        var strings: [String] = []
        strings.reserveCapacity(array.count)
        for (index, element) in array.enumerated() {
            guard let string = element.stringValue else {
                throw TokenizerError(.wrongType, "\(key)[\(index)] is \(element.typeName); expected a string")
            }
            strings.append(string)
        }
        return strings
    }

    private static func bool(_ metadata: [String: GGUFValue], _ key: String) throws(TokenizerError) -> Bool? {
        guard let value = metadata[key] else { return nil }
        guard let bool = value.boolValue else { throw wrongType(key, expected: "a bool", got: value) }
        return bool
    }

    private static func tokenID(_ metadata: [String: GGUFValue], _ key: String) throws(TokenizerError) -> Int32? {
        guard let value = metadata[key] else { return nil }
        guard let id = value.intValue else { throw wrongType(key, expected: "an integer", got: value) }
        guard let id32 = Int32(exactly: id) else {
            throw TokenizerError(.invalidSpecialTokenID, "\(key) is \(id), which is not a valid token id")
        }
        return id32
    }
}
