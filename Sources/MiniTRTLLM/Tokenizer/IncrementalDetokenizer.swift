// Tokenizer boundary: streaming token ids → text without ever emitting half a UTF-8 character.

/// Turns a stream of token ids into text pieces, one call per token.
///
/// Byte-level tokens can end in the middle of a UTF-8 character (an emoji is often two or more tokens).
/// Trailing bytes that could still become a valid character are held back until it completes; bytes that
/// can never become valid are emitted at once as U+FFFD. The concatenation of every ``append(_:)`` result
/// and ``finish()`` equals ``Tokenizer/decode(_:skipSpecialTokens:)`` of the whole sequence.
public struct IncrementalDetokenizer: Sendable {
    private let tokenizer: Tokenizer
    private let skipSpecialTokens: Bool
    private var pending: [UInt8] = []

    /// Creates a detokenizer for `tokenizer`'s ids.
    /// - Parameter skipSpecialTokens: leave out control tokens (GGUF type 3).
    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Appends one token and returns the newly completed text: never half a UTF-8 character
    /// (incomplete trailing bytes are held back until completed).
    public mutating func append(_ id: Int32) -> String {
        if skipSpecialTokens && tokenizer.isControl(id) { return "" }
        tokenizer.appendBytes(of: id, to: &pending)
        let ready = pending.count - Self.incompleteSuffixLength(pending)
        guard ready > 0 else { return "" }
        let text = String(decoding: pending[0..<ready], as: UTF8.self)
        pending.removeFirst(ready)
        return text
    }

    /// Flushes whatever is held back (an incomplete sequence becomes U+FFFD) and starts afresh.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// The number of trailing bytes that form a proper prefix of a valid UTF-8 sequence (0 to 3).
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        for length in 1...min(3, max(count, 1)) where length <= count {
            let lead = bytes[count - length]
            if lead & 0xC0 == 0x80 { continue }  // a continuation byte: look further back
            let needed: Int
            var secondRange: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0xC2...0xDF: needed = 2
            case 0xE0: needed = 3; secondRange = 0xA0...0xBF
            case 0xED: needed = 3; secondRange = 0x80...0x9F
            case 0xE1...0xEF: needed = 3
            case 0xF0: needed = 4; secondRange = 0x90...0xBF
            case 0xF4: needed = 4; secondRange = 0x80...0x8F
            case 0xF1...0xF3: needed = 4
            default: return 0  // ASCII or a byte that never starts a sequence
            }
            guard length < needed else { return 0 }  // complete (or over-long: the decoder handles it)
            if length >= 2 && !secondRange.contains(bytes[count - length + 1]) { return 0 }
            return length  // continuation bytes after the second are all 0x80...0xBF by the loop
        }
        return 0
    }
}
