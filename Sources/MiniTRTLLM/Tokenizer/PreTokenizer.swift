// Tokenizer boundary: splitting text into words before BPE (hand-written scanners equivalent to the GPT-2, Llama-3 and Qwen2 regexes).

/// Splits text into the pieces ("words") that byte-level BPE then encodes one by one.
///
/// Each kind is a hand-written scanner equivalent to the regular expression it is named after
/// (and to llama.cpp's custom splitters), with `\p{L}` = general categories L*, `\p{N}` = N*
/// and `\s` = the Unicode `White_Space` property. Scanning is over Unicode scalars; a lookahead at the
/// end of the text (or of a piece an earlier split produced) sees "end of text".
public struct PreTokenizer: Sendable, Equatable {
    /// The supported splitting rules.
    public enum Kind: String, Sendable, CaseIterable {
        /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
        case gpt2
        /// Llama-3 (`llama-bpe`): case-insensitive contractions, `[^\r\n\p{L}\p{N}]?\p{L}+`, `\p{N}{1,3}`,
        /// ` ?[^\s\p{L}\p{N}]+[\r\n]*`, `\s*[\r\n]+`, `\s+(?!\S)`, `\s+`. BPE also skips merging for
        /// words that are whole vocabulary entries (llama.cpp's `ignore_merges`).
        case llama3
        /// Qwen2: the Llama-3 pattern with single digits (`\p{N}`) instead of `\p{N}{1,3}`.
        case qwen2
        /// SmolLM / StarCoder: every `\p{N}` scalar is a piece of its own, then the GPT-2 pattern
        /// splits each run between digits.
        case smollm
    }

    /// The splitting rule.
    public let kind: Kind

    /// Creates a pre-tokenizer of `kind`.
    public init(kind: Kind) { self.kind = kind }

    /// Resolves a GGUF `tokenizer.ggml.pre` name.
    ///
    /// Known names: `gpt2`, `default` (and an empty name, as llama.cpp does for files without the key),
    /// `mpt`, `olmo` → ``Kind/gpt2``; `llama-bpe`, `llama3`, `llama-v3` → ``Kind/llama3``;
    /// `qwen2`, `deepseek-r1-qwen` → ``Kind/qwen2``; `smollm`, `starcoder`, `refact`, `codeshell`,
    /// `command-r` → ``Kind/smollm``. Any other name throws rather than silently tokenizing wrongly.
    public init(name: String) throws(TokenizerError) {
        switch name.lowercased() {
        case "", "gpt2", "default", "mpt", "olmo": kind = .gpt2
        case "llama-bpe", "llama3", "llama-v3": kind = .llama3
        case "qwen2", "deepseek-r1-qwen": kind = .qwen2
        case "smollm", "starcoder", "refact", "codeshell", "command-r": kind = .smollm
        default:
            throw TokenizerError(.unsupportedPreTokenizer,
                "tokenizer.ggml.pre \"\(name)\" is not supported; supported names are gpt2, default, mpt, olmo, "
                + "llama-bpe, llama3, llama-v3, qwen2, deepseek-r1-qwen, smollm, starcoder, refact, codeshell, command-r. "
                + "Use a model whose pre-tokenizer is one of these, or add its pattern to PreTokenizer.")
        }
    }

    /// Whether BPE takes a word unmerged when the whole word is a vocabulary entry.
    var ignoresMerges: Bool { kind == .llama3 }

    /// Splits `text` into its pieces; their concatenation is `text`.
    public func split(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        var scratch = Scratch()
        var ranges: [Range<Int>] = []
        bytes.withUnsafeBufferPointer { buffer in
            appendPieces(of: buffer, in: 0..<buffer.count, to: &ranges, scratch: &scratch)
        }
        return ranges.map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    /// Reusable buffers for one scan: scalar values, their character classes and byte offsets.
    struct Scratch {
        var scalars: [UInt32] = []
        var classes: [UInt8] = []
        var offsets: [Int] = []
    }

    /// Appends the byte ranges of the pieces of `bytes[range]` (valid UTF-8) to `pieces`.
    func appendPieces(of bytes: UnsafeBufferPointer<UInt8>, in range: Range<Int>,
                      to pieces: inout [Range<Int>], scratch: inout Scratch) {
        guard !range.isEmpty else { return }
        Self.decode(bytes, range, into: &scratch)
        let count = scratch.scalars.count
        var ends: [Int] = []
        ends.reserveCapacity(count / 3 + 4)
        scratch.scalars.withUnsafeBufferPointer { cps in
            scratch.classes.withUnsafeBufferPointer { cls in
                switch kind {
                case .gpt2:
                    Self.scanGPT2(cps, cls, 0, count, &ends)
                case .llama3:
                    Self.scanLlama3(cps, cls, 0, count, maxDigits: 3, &ends)
                case .qwen2:
                    Self.scanLlama3(cps, cls, 0, count, maxDigits: 1, &ends)
                case .smollm:
                    var start = 0
                    for index in 0..<count where cls[index] == CharClass.number {
                        if start < index { Self.scanGPT2(cps, cls, start, index, &ends) }
                        ends.append(index + 1)
                        start = index + 1
                    }
                    if start < count { Self.scanGPT2(cps, cls, start, count, &ends) }
                }
            }
        }
        var start = 0
        for end in ends {
            pieces.append(scratch.offsets[start]..<scratch.offsets[end])
            start = end
        }
    }

    // MARK: - Character classes

    /// Scalar classes; `none` stands for "past the end".
    enum CharClass {
        static let none: UInt8 = 0
        static let letter: UInt8 = 1
        static let number: UInt8 = 2
        static let space: UInt8 = 3
        static let other: UInt8 = 4
    }

    private static let asciiClasses: [UInt8] = (0..<128).map { classify(UInt32($0)) }

    /// The class of scalar value `value`: letter (L*), number (N*), White_Space, or other.
    static func classify(_ value: UInt32) -> UInt8 {
        guard let scalar = Unicode.Scalar(value) else { return CharClass.other }
        let properties = scalar.properties
        if properties.isWhitespace { return CharClass.space }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return CharClass.letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return CharClass.number
        default:
            return CharClass.other
        }
    }

    /// Decodes valid UTF-8 `bytes[range]` into scalar values, classes and byte offsets (plus the end offset).
    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into scratch: inout Scratch) {
        scratch.scalars.removeAll(keepingCapacity: true)
        scratch.classes.removeAll(keepingCapacity: true)
        scratch.offsets.removeAll(keepingCapacity: true)
        var index = range.lowerBound
        let end = range.upperBound
        while index < end {
            scratch.offsets.append(index)
            let lead = UInt32(bytes[index])
            var value: UInt32
            var width: Int
            if lead < 0x80 {
                value = lead; width = 1
            } else if lead < 0xE0 {
                value = lead & 0x1F; width = 2
            } else if lead < 0xF0 {
                value = lead & 0x0F; width = 3
            } else {
                value = lead & 0x07; width = 4
            }
            width = min(width, end - index)
            for offset in 1..<max(width, 1) {
                value = (value << 6) | (UInt32(bytes[index + offset]) & 0x3F)
            }
            scratch.scalars.append(value)
            scratch.classes.append(value < 128 ? asciiClasses[Int(value)] : classify(value))
            index += width
        }
        scratch.offsets.append(end)
    }

    // MARK: - Scanners (emit piece end indices, in scalars)

    @inline(__always)
    private static func isContractionTail(_ cps: UnsafeBufferPointer<UInt32>, _ pos: Int, _ end: Int,
                                          caseInsensitive: Bool) -> Int {
        // Returns the contraction length at `pos` (which holds an apostrophe), or 0.
        guard pos + 1 < end else { return 0 }
        func lower(_ c: UInt32) -> UInt32 {
            caseInsensitive && c >= 0x41 && c <= 0x5A ? c | 0x20 : c
        }
        let next = lower(cps[pos + 1])
        if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 { return 2 }  // s t m d
        guard pos + 2 < end else { return 0 }
        let third = lower(cps[pos + 2])
        if (next == 0x72 && third == 0x65) || (next == 0x76 && third == 0x65) || (next == 0x6C && third == 0x6C) {
            return 3  // re ve ll
        }
        return 0
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` over scalars `start..<end`.
    static func scanGPT2(_ cps: UnsafeBufferPointer<UInt32>, _ cls: UnsafeBufferPointer<UInt8>,
                         _ start: Int, _ end: Int, _ ends: inout [Int]) {
        var pos = start
        func classAt(_ index: Int) -> UInt8 { index < end ? cls[index] : CharClass.none }
        while pos < end {
            let cp = cps[pos]
            if cp == 0x27 {
                let length = isContractionTail(cps, pos, end, caseInsensitive: false)
                if length > 0 { pos += length; ends.append(pos); continue }
            }
            let isSpace = cp == 0x20
            let target = isSpace ? classAt(pos + 1) : cls[pos]
            if target == CharClass.letter || target == CharClass.number || target == CharClass.other {
                if isSpace { pos += 1 }
                while pos < end && cls[pos] == target { pos += 1 }
                ends.append(pos)
                continue
            }
            var spaces = 0
            while pos + spaces < end && cls[pos + spaces] == CharClass.space { spaces += 1 }
            if spaces > 1 && pos + spaces < end {
                pos += spaces - 1  // \s+(?!\S): leave the last space for the next word
            } else if spaces > 0 {
                pos += spaces
            } else {
                pos += 1
            }
            ends.append(pos)
        }
    }

    /// The Llama-3 pattern (`maxDigits` 3) or Qwen2 pattern (`maxDigits` 1) over scalars `start..<end`.
    static func scanLlama3(_ cps: UnsafeBufferPointer<UInt32>, _ cls: UnsafeBufferPointer<UInt8>,
                           _ start: Int, _ end: Int, maxDigits: Int, _ ends: inout [Int]) {
        var pos = start
        func classAt(_ index: Int) -> UInt8 { index < end ? cls[index] : CharClass.none }
        func isNewline(_ cp: UInt32) -> Bool { cp == 0x0A || cp == 0x0D }
        while pos < end {
            let cp = cps[pos]
            let cl = cls[pos]
            if cp == 0x27 {
                let length = isContractionTail(cps, pos, end, caseInsensitive: true)
                if length > 0 { pos += length; ends.append(pos); continue }
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !isNewline(cp) && cl != CharClass.number && (cl == CharClass.letter || classAt(pos + 1) == CharClass.letter) {
                pos += 1
                while pos < end && cls[pos] == CharClass.letter { pos += 1 }
                ends.append(pos)
                continue
            }
            // \p{N}{1,maxDigits}
            if cl == CharClass.number {
                var run = 0
                while pos < end && cls[pos] == CharClass.number && run < maxDigits { pos += 1; run += 1 }
                ends.append(pos)
                continue
            }
            // ?[^\s\p{L}\p{N}]+[\r\n]*
            let isSpace = cp == 0x20
            if (isSpace ? classAt(pos + 1) : cl) == CharClass.other {
                if isSpace { pos += 1 }
                while pos < end && cls[pos] == CharClass.other { pos += 1 }
                while pos < end && isNewline(cps[pos]) { pos += 1 }
                ends.append(pos)
                continue
            }
            var spaces = 0
            var afterLastNewline = 0
            while pos + spaces < end && cls[pos + spaces] == CharClass.space {
                if isNewline(cps[pos + spaces]) { afterLastNewline = pos + spaces + 1 }
                spaces += 1
            }
            if afterLastNewline > 0 {
                pos = afterLastNewline  // \s*[\r\n]+
            } else if spaces > 1 && pos + spaces < end {
                pos += spaces - 1  // \s+(?!\S)
            } else if spaces > 0 {
                pos += spaces
            } else {
                pos += 1
            }
            ends.append(pos)
        }
    }
}
