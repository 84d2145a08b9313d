// The `tojson` filter: template values as JSON text, written as Python's json.dumps writes them
// (", " and ": " separators, non-ASCII kept as is), which is what Hugging Face templates expect.

/// JSON text of template values.
enum TemplateJSON {
    static func encode(_ v: TemplateValue, indent: Int? = nil) -> String {
        var out = ""
        write(v, indent: indent, level: 0, into: &out)
        return out
    }

    private static func write(_ v: TemplateValue, indent: Int?, level: Int, into out: inout String) {
        switch v {
        case .undefined, .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += d.isFinite ? (d == d.rounded() && abs(d) < 1e16 ? "\(Int(d)).0" : "\(d)") : "NaN"
        case .string(let s): out += quoted(s)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                out += i == 0 ? "" : ","
                newline(indent, level + 1, &out, first: i == 0)
                write(item, indent: indent, level: level + 1, into: &out)
            }
            newline(indent, level, &out, first: false, closing: true)
            out += "]"
        case .object(let keys, let values):
            if keys.isEmpty { out += "{}"; return }
            out += "{"
            for (i, key) in keys.enumerated() {
                out += i == 0 ? "" : ","
                newline(indent, level + 1, &out, first: i == 0)
                out += quoted(key) + ": "
                write(values[key]!, indent: indent, level: level + 1, into: &out)
            }
            newline(indent, level, &out, first: false, closing: true)
            out += "}"
        case .namespace: out += "null"
        }
    }

    private static func newline(_ indent: Int?, _ level: Int, _ out: inout String, first: Bool, closing: Bool = false) {
        if let indent {
            out += "\n" + String(repeating: " ", count: indent * level)
        } else if !first && !closing {
            out += " "
        }
    }

    /// A JSON string literal; control characters escaped, everything else kept.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
