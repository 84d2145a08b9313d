// Tokenizer boundary: text ↔ token ids for byte-level BPE vocabularies (GGUF `tokenizer.ggml.model` = "gpt2"), special tokens included.

/// A byte-level BPE tokenizer, equivalent to llama.cpp's and Hugging Face tokenizers' for GGUF models
/// whose `tokenizer.ggml.model` is `"gpt2"`.
///
/// Encoding: special tokens written in the text are cut out first (see ``encode(_:parseSpecial:addSpecial:)``),
/// each remaining stretch is split into words by the ``PreTokenizer``, and each word's UTF-8 bytes are
/// written in the ``ByteLevel`` alphabet and merged by merge rank. Decoding concatenates each token's bytes.
/// Copies share one immutable vocabulary; the type is safe to use from any thread.
public struct Tokenizer: Sendable {
    /// GGUF token types (`tokenizer.ggml.token_type`).
    enum TokenType {
        static let normal = 1
        static let unknown = 2
        static let control = 3
        static let userDefined = 4
        static let unused = 5
        static let byte = 6
    }

    /// A token that is matched whole in the text before pre-tokenization.
    struct SpecialToken: Sendable {
        let bytes: [UInt8]
        let id: Int32
        let isControl: Bool
    }

    /// The immutable, shared vocabulary.
    final class Storage: Sendable {
        let tokens: [String]
        let types: [UInt8]
        /// All tokens' raw bytes back to back; token `i` is `flatBytes[offsets[i]..<offsets[i + 1]]`.
        let flatBytes: [UInt8]
        let offsets: [Int]
        let tokenToID: [String: Int32]
        /// Control and user-defined tokens, longest first (ties: lower id first).
        let specialTokens: [SpecialToken]
        let encoder: BytePairEncoder

        init(tokens: [String], types: [UInt8], flatBytes: [UInt8], offsets: [Int], tokenToID: [String: Int32],
             specialTokens: [SpecialToken], encoder: BytePairEncoder) {
            self.tokens = tokens
            self.types = types
            self.flatBytes = flatBytes
            self.offsets = offsets
            self.tokenToID = tokenToID
            self.specialTokens = specialTokens
            self.encoder = encoder
        }
    }

    private let storage: Storage
    /// The word splitter in use.
    public let preTokenizer: PreTokenizer
    /// The beginning-of-sequence id, if the model has one.
    public let bosID: Int32?
    /// The end-of-sequence id, if the model has one.
    public let eosID: Int32?
    /// Whether ``encode(_:parseSpecial:addSpecial:)`` prepends ``bosID`` when `addSpecial` is true.
    public let addBOS: Bool
    /// Whether ``encode(_:parseSpecial:addSpecial:)`` appends ``eosID`` when `addSpecial` is true.
    public let addEOS: Bool

    /// Builds a tokenizer from a vocabulary and merge list.
    ///
    /// - Parameters:
    ///   - tokens: vocabulary strings by id, normal tokens in ``ByteLevel`` form (`"Ġthe"`), control and
    ///     user-defined tokens as plain text. When a string repeats, the last id wins for lookups.
    ///   - tokenTypes: GGUF token types by id (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused,
    ///     6 byte); empty means all normal.
    ///   - merges: `"A B"` lines in rank order (line 0 merges first).
    ///   - preTokenizer: a `tokenizer.ggml.pre` name, see ``PreTokenizer/init(name:)``.
    ///   - bosID, eosID: special ids, which must lie inside the vocabulary.
    ///   - addBOS, addEOS: whether encoding with `addSpecial` adds them.
    public init(tokens: [String], tokenTypes: [Int], merges: [String], preTokenizer: String,
                bosID: Int32?, eosID: Int32?, addBOS: Bool, addEOS: Bool) throws(TokenizerError) {
        guard !tokens.isEmpty else {
            throw TokenizerError(.invalidVocabulary, "the vocabulary (tokenizer.ggml.tokens) is empty; a BPE model needs at least its 256 byte tokens")
        }
        guard tokens.count < Int(Int32.max) else {
            throw TokenizerError(.invalidVocabulary, "the vocabulary has \(tokens.count) tokens; ids must fit in Int32")
        }
        guard tokenTypes.isEmpty || tokenTypes.count == tokens.count else {
            throw TokenizerError(.invalidVocabulary,
                "tokenizer.ggml.token_type has \(tokenTypes.count) entries but tokenizer.ggml.tokens has \(tokens.count); they must match one to one")
        }
        for (name, id) in [("BOS", bosID), ("EOS", eosID)] {
            if let id, id < 0 || Int(id) >= tokens.count {
                throw TokenizerError(.invalidSpecialTokenID,
                    "the \(name) id \(id) is outside the vocabulary 0..<\(tokens.count); fix tokenizer.ggml.\(name.lowercased())_token_id")
            }
        }
        let pre = try PreTokenizer(name: preTokenizer)

        let types = tokenTypes.isEmpty
            ? [UInt8](repeating: UInt8(TokenType.normal), count: tokens.count)
            : tokenTypes.map { UInt8(clamping: $0) }
        var tokenToID: [String: Int32] = [:]
        tokenToID.reserveCapacity(tokens.count)
        var flatBytes: [UInt8] = []
        var offsets: [Int] = [0]
        offsets.reserveCapacity(tokens.count + 1)
        var specials: [SpecialToken] = []
        var wholeWords: [[UInt8]: Int32]? = pre.ignoresMerges ? [:] : nil
        for (index, text) in tokens.enumerated() {
            let id = Int32(index)
            if !text.isEmpty { tokenToID[text] = id }
            let type = Int(types[index])
            let bytes: [UInt8]
            if type == TokenType.control || type == TokenType.userDefined {
                bytes = Array(text.utf8)
                if !bytes.isEmpty { specials.append(SpecialToken(bytes: bytes, id: id, isControl: type == TokenType.control)) }
            } else if type == TokenType.byte, let byte = Self.parseByteToken(text) {
                bytes = [byte]
            } else {
                bytes = ByteLevel.decode(text)
                if type == TokenType.normal, !bytes.isEmpty { wholeWords?[bytes] = id }
            }
            flatBytes.append(contentsOf: bytes)
            offsets.append(flatBytes.count)
        }
        specials.sort { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id }
        let encoder = try BytePairEncoder(vocabularySize: tokens.count, tokenToID: tokenToID, merges: merges,
                                          wholeWords: wholeWords)
        storage = Storage(tokens: tokens, types: types, flatBytes: flatBytes, offsets: offsets,
                          tokenToID: tokenToID, specialTokens: specials, encoder: encoder)
        self.preTokenizer = pre
        self.bosID = bosID
        self.eosID = eosID
        self.addBOS = addBOS
        self.addEOS = addEOS
    }

    /// `"<0xAB>"` → 0xAB.
    private static func parseByteToken(_ text: String) -> UInt8? {
        guard text.utf8.count == 6, text.hasPrefix("<0x"), text.hasSuffix(">") else { return nil }
        return UInt8(text.dropFirst(3).dropLast(), radix: 16)
    }

    /// The number of tokens in the vocabulary.
    public var vocabularySize: Int { storage.tokens.count }

    /// Encodes `text` to token ids.
    ///
    /// - Parameters:
    ///   - parseSpecial: when true, control tokens (type 3) written in the text, such as `<|im_start|>`,
    ///     map to their single ids; when false their characters are tokenized as ordinary text.
    ///     User-defined tokens (type 4) are always matched whole, as in llama.cpp and Hugging Face tokenizers.
    ///     Matching goes token by token, longest token first, over every occurrence.
    ///   - addSpecial: add ``bosID`` / ``eosID`` as ``addBOS`` / ``addEOS`` say.
    public func encode(_ text: String, parseSpecial: Bool = true, addSpecial: Bool = true) -> [Int32] {
        var output: [Int32] = []
        if addSpecial, addBOS, let bosID { output.append(bosID) }
        let bytes = Array(text.utf8)
        output.reserveCapacity(output.count + bytes.count / 3 + 2)
        bytes.withUnsafeBufferPointer { buffer in
            var scratch = PreTokenizer.Scratch()
            var workspace = BytePairEncoder.Workspace()
            var words: [Range<Int>] = []
            for fragment in splitSpecialTokens(buffer, parseSpecial: parseSpecial) {
                switch fragment {
                case .token(let id):
                    output.append(id)
                case .text(let range):
                    words.removeAll(keepingCapacity: true)
                    preTokenizer.appendPieces(of: buffer, in: range, to: &words, scratch: &scratch)
                    for word in words {
                        storage.encoder.encode(buffer, word, into: &output, workspace: &workspace)
                    }
                }
            }
        }
        if addSpecial, addEOS, let eosID { output.append(eosID) }
        return output
    }

    /// A stretch of the input: a special token, or ordinary text (a byte range).
    private enum Fragment {
        case token(Int32)
        case text(Range<Int>)
    }

    /// Cuts every occurrence of each special token out of the text, longest token first (llama.cpp's order).
    private func splitSpecialTokens(_ bytes: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Fragment] {
        var fragments: [Fragment] = [.text(0..<bytes.count)]
        guard !bytes.isEmpty else { return [] }
        var present = [Bool](repeating: false, count: 256)
        for byte in bytes { present[Int(byte)] = true }
        for special in storage.specialTokens where parseSpecial || !special.isControl {
            let pattern = special.bytes
            guard present[Int(pattern[0])], pattern.count <= bytes.count else { continue }
            var updated: [Fragment] = []
            var found = false
            for fragment in fragments {
                guard case .text(let range) = fragment, range.count >= pattern.count else {
                    updated.append(fragment)
                    continue
                }
                var start = range.lowerBound
                var index = range.lowerBound
                let last = range.upperBound - pattern.count
                while index <= last {
                    if bytes[index] == pattern[0] && Self.matches(bytes, at: index, pattern) {
                        if start < index { updated.append(.text(start..<index)) }
                        updated.append(.token(special.id))
                        index += pattern.count
                        start = index
                        found = true
                    } else {
                        index += 1
                    }
                }
                if start < range.upperBound { updated.append(.text(start..<range.upperBound)) }
            }
            if found { fragments = updated }
        }
        return fragments
    }

    @inline(__always)
    private static func matches(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, _ pattern: [UInt8]) -> Bool {
        for offset in 1..<pattern.count where bytes[index + offset] != pattern[offset] { return false }
        return true
    }

    /// Decodes ids to text: the tokens' bytes concatenated, then read as UTF-8 with each invalid or
    /// incomplete sequence (inside or at the end) replaced by U+FFFD. Ids outside the vocabulary are ignored.
    /// - Parameter skipSpecialTokens: leave out control tokens (type 3).
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids where !(skipSpecialTokens && isControl(id)) {
            appendBytes(of: id, to: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The raw bytes token `id` stands for (control and user-defined tokens: their text's UTF-8);
    /// empty for ids outside the vocabulary.
    public func bytes(of id: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        appendBytes(of: id, to: &bytes)
        return bytes
    }

    /// Appends the bytes of `id` (nothing for ids outside the vocabulary).
    func appendBytes(of id: Int32, to bytes: inout [UInt8]) {
        guard id >= 0, Int(id) < storage.tokens.count else { return }
        bytes.append(contentsOf: storage.flatBytes[storage.offsets[Int(id)]..<storage.offsets[Int(id) + 1]])
    }

    /// Whether `id` is a control token (GGUF token type 3, such as `<|im_end|>`).
    public func isControl(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < storage.types.count && Int(storage.types[Int(id)]) == TokenType.control
    }

    /// The id of the vocabulary entry spelled `tokenText` exactly as stored: plain text for control and
    /// user-defined tokens (`"<|im_end|>"`), ``ByteLevel`` form for normal tokens (`"Ġthe"`).
    public func id(of tokenText: String) -> Int32? {
        storage.tokenToID[tokenText]
    }

    /// The vocabulary entry of `id` as stored (``ByteLevel`` form for normal tokens), or `nil` outside the vocabulary.
    public func tokenText(_ id: Int32) -> String? {
        guard id >= 0, Int(id) < storage.tokens.count else { return nil }
        return storage.tokens[Int(id)]
    }
}
