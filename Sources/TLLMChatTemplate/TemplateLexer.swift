// Splits template source into text, `{{ … }}` and `{% … %}` pieces, applying whitespace control
// (`-` markers, trim_blocks and lstrip_blocks as Hugging Face's chat-template environment sets them),
// and splits the inside of tags into expression tokens.

/// One token inside a tag.
enum ExprToken: Equatable {
    case name(String)
    case string(String)
    case int(Int)
    case double(Double)
    /// Punctuation and operators: `( ) [ ] { } . , : | = + - * / // % ** ~ == != < <= > >=`.
    case op(String)
}

/// A piece of template source.
enum TemplatePiece {
    case text(String)
    case output([ExprToken], line: Int)
    case statement([ExprToken], line: Int)
}

/// Turns source text into pieces.
struct TemplateLexer {
    /// Hugging Face renders chat templates with `trim_blocks` and `lstrip_blocks` on.
    var trimBlocks = true
    var lstripBlocks = true

    func pieces(_ source: String) throws(TemplateError) -> [TemplatePiece] {
        let s = Array(source.unicodeScalars)
        var pieces: [TemplatePiece] = []
        var text: [Unicode.Scalar] = []
        var i = 0
        var line = 1
        var stripNextLeading = false   // a `-%}` / `-}}` before this text
        var trimNextNewline = false    // trim_blocks after a `%}`

        func flushText(stripTrailing: Bool, lstrip: Bool) {
            var t = text[...]
            if stripTrailing {
                while let last = t.last, last.properties.isWhitespace { t = t.dropLast() }
            } else if lstrip {
                // Only spaces and tabs between the start of the line and the tag.
                var j = t.endIndex
                while j > t.startIndex, t[j - 1] == " " || t[j - 1] == "\t" { j -= 1 }
                if j == t.startIndex || t[j - 1] == "\n" { t = t[..<j] }
            }
            if !t.isEmpty { pieces.append(.text(String(String.UnicodeScalarView(t)))) }
            text = []
        }

        while i < s.count {
            let c = s[i]
            if c == "{", i + 1 < s.count, s[i + 1] == "{" || s[i + 1] == "%" || s[i + 1] == "#" {
                let kind = s[i + 1]
                let close: Unicode.Scalar = kind == "{" ? "}" : kind == "%" ? "%" : "#"
                let startLine = line
                var j = i + 2
                let stripBefore = j < s.count && s[j] == "-"
                if stripBefore || (j < s.count && s[j] == "+") { j += 1 }
                // Find the closing delimiter, skipping string literals inside tags.
                var end = -1
                var quote: Unicode.Scalar? = nil
                var k = j
                while k + 1 < s.count {
                    let ch = s[k]
                    if kind != "#" {
                        if let q = quote {
                            if ch == "\\" { k += 2; continue }
                            if ch == q { quote = nil }
                            k += 1
                            continue
                        }
                        if ch == "'" || ch == "\"" { quote = ch; k += 1; continue }
                    }
                    if ch == close && s[k + 1] == "}" { end = k; break }
                    k += 1
                }
                guard end >= 0 else {
                    throw TemplateError(.syntax, "unclosed '{\(kind)' tag", line: startLine)
                }
                let stripAfter = end > j && s[end - 1] == "-"
                let innerEnd = stripAfter || (end > j && s[end - 1] == "+") ? end - 1 : end
                let inner = Array(s[j..<max(j, innerEnd)])
                flushText(stripTrailing: stripBefore, lstrip: lstripBlocks && kind != "{")
                for ch in s[i..<(end + 2)] where ch == "\n" { line += 1 }
                i = end + 2
                stripNextLeading = stripAfter
                trimNextNewline = trimBlocks && kind != "{"
                switch kind {
                case "{": pieces.append(.output(try Self.tokens(inner, line: startLine), line: startLine))
                case "%": pieces.append(.statement(try Self.tokens(inner, line: startLine), line: startLine))
                default: break   // comment
                }
                if stripNextLeading {
                    while i < s.count, s[i].properties.isWhitespace { if s[i] == "\n" { line += 1 }; i += 1 }
                } else if trimNextNewline, i < s.count, s[i] == "\n" {
                    i += 1
                    line += 1
                }
                continue
            }
            if c == "\n" { line += 1 }
            text.append(c)
            i += 1
        }
        flushText(stripTrailing: false, lstrip: false)
        return pieces
    }

    /// Tokenizes the inside of one tag.
    static func tokens(_ s: [Unicode.Scalar], line: Int) throws(TemplateError) -> [ExprToken] {
        var out: [ExprToken] = []
        var i = 0
        let twoChar: Set<String> = ["==", "!=", "<=", ">=", "//", "**"]
        let oneChar: Set<Unicode.Scalar> = ["(", ")", "[", "]", "{", "}", ".", ",", ":", "|", "=", "+", "-", "*", "/", "%", "~", "<", ">"]
        while i < s.count {
            let c = s[i]
            if c.properties.isWhitespace { i += 1; continue }
            if c == "_" || c.properties.isAlphabetic {
                var j = i
                while j < s.count, s[j] == "_" || s[j].properties.isAlphabetic || ("0"..."9").contains(s[j]) { j += 1 }
                out.append(.name(String(String.UnicodeScalarView(s[i..<j]))))
                i = j
                continue
            }
            if ("0"..."9").contains(c) {
                var j = i
                var isFloat = false
                while j < s.count, ("0"..."9").contains(s[j]) || s[j] == "_" ||
                    (s[j] == "." && !isFloat && j + 1 < s.count && ("0"..."9").contains(s[j + 1])) {
                    if s[j] == "." { isFloat = true }
                    j += 1
                }
                let literal = String(String.UnicodeScalarView(s[i..<j])).replacing("_", with: "")
                if isFloat, let d = Double(literal) { out.append(.double(d)) }
                else if let n = Int(literal) { out.append(.int(n)) }
                else { throw TemplateError(.syntax, "bad number '\(literal)'", line: line) }
                i = j
                continue
            }
            if c == "'" || c == "\"" {
                var j = i + 1
                var value = String.UnicodeScalarView()
                while j < s.count, s[j] != c {
                    if s[j] == "\\", j + 1 < s.count {
                        j += 1
                        switch s[j] {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        case "r": value.append("\r")
                        case "0": value.append("\0")
                        default: value.append(s[j])
                        }
                    } else {
                        value.append(s[j])
                    }
                    j += 1
                }
                guard j < s.count else { throw TemplateError(.syntax, "unterminated string literal", line: line) }
                out.append(.string(String(value)))
                i = j + 1
                continue
            }
            if i + 1 < s.count {
                let pair = String(String.UnicodeScalarView([c, s[i + 1]]))
                if twoChar.contains(pair) { out.append(.op(pair)); i += 2; continue }
            }
            if oneChar.contains(c) { out.append(.op(String(c))); i += 1; continue }
            throw TemplateError(.syntax, "unexpected character '\(c)'", line: line)
        }
        return out
    }
}
