// The built-in operators, filters, tests, functions and methods of the Jinja subset. Anything not
// here is refused with a `.unsupported` error that names it.

/// Stateless built-ins shared by every render.
enum TemplateBuiltins {
    static let filters = ["trim", "strip", "length", "count", "upper", "lower", "title", "capitalize", "default", "d",
                          "join", "first", "last", "tojson", "string", "int", "float", "list", "reverse", "replace",
                          "safe", "abs", "items", "selectattr", "rejectattr", "map", "unique", "escape", "e", "indent"]

    // MARK: Operators

    static func binary(_ op: String, _ l: TemplateValue, _ r: TemplateValue, line: Int) throws(TemplateError) -> TemplateValue {
        switch op {
        case "==": return .bool(l == r)
        case "!=": return .bool(l != r)
        case "~": return .string(l.rendered + r.rendered)
        case "in":
            switch r {
            case .string(let s):
                guard case .string(let needle) = l else { throw TemplateError(.type, "'in <string>' needs a string on the left, not a \(l.typeName)", line: line) }
                return .bool(needle.isEmpty || s.contains(needle))
            case .array(let a): return .bool(a.contains(l))
            case .object(_, let values):
                guard case .string(let key) = l else { return .bool(false) }
                return .bool(values[key] != nil)
            case .undefined, .none: return .bool(false)
            default: throw TemplateError(.type, "'in' needs a string, list or dict on the right, not a \(r.typeName)", line: line)
            }
        case "<", "<=", ">", ">=":
            let order: Int
            if case .string(let a) = l, case .string(let b) = r {
                order = a < b ? -1 : a == b ? 0 : 1
            } else if let a = l.number, let b = r.number {
                order = a < b ? -1 : a == b ? 0 : 1
            } else {
                throw TemplateError(.type, "cannot compare a \(l.typeName) with a \(r.typeName) using '\(op)'", line: line)
            }
            switch op {
            case "<": return .bool(order < 0)
            case "<=": return .bool(order <= 0)
            case ">": return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        case "+":
            switch (l, r) {
            case (.string(let a), .string(let b)): return .string(a + b)
            case (.array(let a), .array(let b)): return .array(a + b)
            default: return try arithmetic(op, l, r, line: line)
            }
        case "*":
            if case .string(let s) = l, case .int(let n) = r { return .string(String(repeating: s, count: max(0, min(n, 100_000)))) }
            return try arithmetic(op, l, r, line: line)
        default:
            return try arithmetic(op, l, r, line: line)
        }
    }

    private static func arithmetic(_ op: String, _ l: TemplateValue, _ r: TemplateValue, line: Int) throws(TemplateError) -> TemplateValue {
        if case .int(let a) = l, case .int(let b) = r, op != "/" {
            switch op {
            case "+": return .int(a &+ b)
            case "-": return .int(a &- b)
            case "*": return .int(a &* b)
            case "//", "%":
                guard b != 0 else { throw TemplateError(.type, "division by zero", line: line) }
                let q = Int((Double(a) / Double(b)).rounded(.down))
                return op == "//" ? .int(q) : .int(a - q * b)
            case "**": return b >= 0 ? .int(Int(pow(Double(a), Double(b)))) : .double(pow(Double(a), Double(b)))
            default: break
            }
        }
        guard let a = l.number, let b = r.number, l.typeName != "boolean" || r.typeName != "boolean" else {
            throw TemplateError(.type, "cannot apply '\(op)' to a \(l.typeName) and a \(r.typeName)", line: line)
        }
        switch op {
        case "+": return .double(a + b)
        case "-": return .double(a - b)
        case "*": return .double(a * b)
        case "/":
            guard b != 0 else { throw TemplateError(.type, "division by zero", line: line) }
            return .double(a / b)
        case "//": return .double((a / b).rounded(.down))
        case "%": return .double(a - (a / b).rounded(.down) * b)
        case "**": return .double(pow(a, b))
        default: throw TemplateError(.unsupported, "operator '\(op)'", line: line)
        }
    }

    private static func pow(_ a: Double, _ b: Double) -> Double {
        guard b == b.rounded(), abs(b) <= 1024 else { return .nan }
        var result = 1.0
        for _ in 0..<Int(abs(b)) { result *= a }
        return b < 0 ? 1 / result : result
    }

    // MARK: Filters

    static func filter(_ name: String, _ v: TemplateValue, _ args: [TemplateValue], _ kwargs: [String: TemplateValue],
                       line: Int) throws(TemplateError) -> TemplateValue {
        func arg(_ i: Int, _ key: String) -> TemplateValue? { i < args.count ? args[i] : kwargs[key] }
        func string(_ what: String) throws(TemplateError) -> String {
            guard case .string(let s) = v else { throw TemplateError(.type, "the '\(what)' filter needs a string, not a \(v.typeName)", line: line) }
            return s
        }
        switch name {
        case "trim", "strip": return .string(try string(name).trimmingWhitespace())
        case "upper": return .string(try string(name).uppercased())
        case "lower": return .string(try string(name).lowercased())
        case "title", "capitalize", "replace":
            return try method(name, v, args, kwargs, line: line)
        case "length", "count":
            switch v {
            case .string(let s): return .int(s.count)
            case .array(let a): return .int(a.count)
            case .object(let keys, _): return .int(keys.count)
            case .undefined: return .int(0)
            default: throw TemplateError(.type, "a \(v.typeName) has no length", line: line)
            }
        case "default", "d":
            let fallback = arg(0, "default_value") ?? .string("")
            let boolean = arg(1, "boolean")?.isTruthy ?? false
            if case .undefined = v { return fallback }
            return boolean && !v.isTruthy ? fallback : v
        case "join":
            let separator = arg(0, "d")?.rendered ?? ""
            let items = try list(v, line)
            if let attribute = arg(1, "attribute")?.rendered {
                return .string(items.map { item in
                    if case .object(_, let values) = item { values[attribute]?.rendered ?? "" } else { "" }
                }.joined(separator: separator))
            }
            return .string(items.map(\.rendered).joined(separator: separator))
        case "first": return try list(v, line).first ?? .undefined
        case "last": return try list(v, line).last ?? .undefined
        case "list": return .array(try list(v, line))
        case "reverse":
            if case .string(let s) = v { return .string(String(s.reversed())) }
            return .array(try list(v, line).reversed())
        case "unique":
            var seen: [TemplateValue] = []
            for item in try list(v, line) where !seen.contains(item) { seen.append(item) }
            return .array(seen)
        case "tojson":
            let indent: Int? = if case .int(let n)? = arg(0, "indent") { n } else { nil }
            return .string(TemplateJSON.encode(v, indent: indent))
        case "string": return .string(v.rendered)
        case "int":
            switch v {
            case .int: return v
            case .double(let d): return d.isFinite ? .int(Int(d)) : .int(0)
            case .bool(let b): return .int(b ? 1 : 0)
            case .string(let s): return .int(Int(s.trimmingWhitespace()) ?? Int(Double(s.trimmingWhitespace()) ?? 0))
            default: return .int(0)
            }
        case "float":
            switch v {
            case .string(let s): return .double(Double(s.trimmingWhitespace()) ?? 0)
            default: return .double(v.number ?? 0)
            }
        case "abs":
            switch v {
            case .int(let i): return .int(abs(i))
            case .double(let d): return .double(abs(d))
            default: throw TemplateError(.type, "the 'abs' filter needs a number, not a \(v.typeName)", line: line)
            }
        case "safe": return v
        case "escape", "e":
            return .string(v.rendered.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
                .replacing("\"", with: "&#34;").replacing("'", with: "&#39;"))
        case "indent":
            let width: Int = if case .int(let n)? = arg(0, "width") { n } else { 4 }
            let pad = String(repeating: " ", count: max(0, min(width, 64)))
            let first = arg(1, "first")?.isTruthy ?? false
            let lines = v.rendered.split(separator: "\n", omittingEmptySubsequences: false)
            return .string(lines.enumerated().map { i, l in (i > 0 || first) && !l.isEmpty ? pad + l : String(l) }.joined(separator: "\n"))
        case "items":
            guard case .object(let keys, let values) = v else { throw TemplateError(.type, "the 'items' filter needs a dict", line: line) }
            return .array(keys.map { .array([.string($0), values[$0]!]) })
        case "selectattr", "rejectattr":
            guard case .string(let attribute)? = args.first else {
                throw TemplateError(.type, "'\(name)' needs an attribute name", line: line)
            }
            var kept: [TemplateValue] = []
            for item in try list(v, line) {
                let value: TemplateValue = if case .object(_, let values) = item { values[attribute] ?? .undefined } else { .undefined }
                var passes = value.isTruthy
                if args.count > 1, case .string(let testName) = args[1] {
                    passes = try test(testName, value, Array(args.dropFirst(2)), line: line)
                }
                if passes == (name == "selectattr") { kept.append(item) }
            }
            return .array(kept)
        case "map":
            if case .string(let attribute)? = kwargs["attribute"] {
                return .array(try list(v, line).map { item in
                    if case .object(_, let values) = item { values[attribute] ?? kwargs["default"] ?? .undefined } else { .undefined }
                })
            }
            guard case .string(let filterName)? = args.first else {
                throw TemplateError(.type, "'map' needs attribute='…' or a filter name", line: line)
            }
            var out: [TemplateValue] = []
            for item in try list(v, line) {
                out.append(try filter(filterName, item, Array(args.dropFirst()), [:], line: line))
            }
            return .array(out)
        default:
            throw TemplateError(.unsupported, "the '\(name)' filter is not supported (supported: \(filters.joined(separator: ", ")))", line: line)
        }
    }

    private static func list(_ v: TemplateValue, _ line: Int) throws(TemplateError) -> [TemplateValue] {
        switch v {
        case .array(let a): return a
        case .string(let s): return s.map { .string(String($0)) }
        case .object(let keys, _): return keys.map { .string($0) }
        case .undefined, .none: return []
        default: throw TemplateError(.type, "a \(v.typeName) is not a sequence", line: line)
        }
    }

    // MARK: Tests

    static func test(_ name: String, _ v: TemplateValue, _ args: [TemplateValue], line: Int) throws(TemplateError) -> Bool {
        switch name {
        case "defined": if case .undefined = v { return false } else { return true }
        case "undefined": if case .undefined = v { return true } else { return false }
        case "none": if case .none = v { return true } else { return false }
        case "string": if case .string = v { return true } else { return false }
        case "number": if case .int = v { return true } else if case .double = v { return true } else { return false }
        case "integer": if case .int = v { return true } else { return false }
        case "float": if case .double = v { return true } else { return false }
        case "boolean": if case .bool = v { return true } else { return false }
        case "true": return v == .bool(true) && v.typeName == "boolean"
        case "false": return v == .bool(false) && v.typeName == "boolean"
        case "mapping": if case .object = v { return true } else { return false }
        case "sequence", "iterable":
            switch v {
            case .array, .string, .object: return true
            default: return false
            }
        case "callable": return false
        case "even", "odd":
            guard case .int(let i) = v else { throw TemplateError(.type, "'\(name)' needs an integer", line: line) }
            return (i % 2 == 0) == (name == "even")
        case "divisibleby":
            guard case .int(let i) = v, case .int(let d)? = args.first, d != 0 else { throw TemplateError(.type, "'divisibleby' needs integers", line: line) }
            return i % d == 0
        case "equalto", "eq", "==", "sameas": return v == (args.first ?? .undefined)
        case "ne", "!=": return v != (args.first ?? .undefined)
        case "in": return try binary("in", v, args.first ?? .undefined, line: line).isTruthy
        case "lower": if case .string(let s) = v { return s == s.lowercased() } else { return false }
        case "upper": if case .string(let s) = v { return s == s.uppercased() } else { return false }
        default:
            throw TemplateError(.unsupported, "the '\(name)' test is not supported", line: line)
        }
    }

    // MARK: Functions

    static func function(_ name: String, _ args: [TemplateValue], _ kwargs: [String: TemplateValue],
                         line: Int) throws(TemplateError) -> TemplateValue {
        switch name {
        case "raise_exception":
            throw TemplateError(.raised, args.first?.rendered ?? "raise_exception was called", line: line)
        case "namespace":
            var pairs: [(String, TemplateValue)] = []
            if case .object(let keys, let values)? = args.first { pairs = keys.map { ($0, values[$0]!) } }
            pairs += kwargs.keys.sorted().map { ($0, kwargs[$0]!) }
            return .namespace(TemplateNamespace(pairs))
        case "range":
            var bounds: [Int] = []
            for a in args {
                guard case .int(let i) = a else { throw TemplateError(.type, "range() needs integers", line: line) }
                bounds.append(i)
            }
            let (start, stop, step): (Int, Int, Int) = switch bounds.count {
            case 1: (0, bounds[0], 1)
            case 2: (bounds[0], bounds[1], 1)
            case 3: (bounds[0], bounds[1], bounds[2])
            default: (0, 0, 0)
            }
            guard step != 0 else { throw TemplateError(.type, "range() needs 1 to 3 integers and a non-zero step", line: line) }
            let values = Array(stride(from: start, to: stop, by: step).prefix(100_000))
            return .array(values.map { .int($0) })
        case "dict":
            return .object(kwargs.keys.sorted().map { ($0, kwargs[$0]!) })
        default:
            throw TemplateError(.unsupported, "the function '\(name)' is not supported (supported: raise_exception, namespace, range, dict)", line: line)
        }
    }

    // MARK: Methods

    static func method(_ name: String, _ receiver: TemplateValue, _ args: [TemplateValue], _ kwargs: [String: TemplateValue],
                       line: Int) throws(TemplateError) -> TemplateValue {
        switch receiver {
        case .string(let s): return try stringMethod(name, s, args, line: line)
        case .object(let keys, let values):
            switch name {
            case "items": return .array(keys.map { .array([.string($0), values[$0]!]) })
            case "keys": return .array(keys.map { .string($0) })
            case "values": return .array(keys.map { values[$0]! })
            case "get":
                guard case .string(let key)? = args.first else { throw TemplateError(.type, "get() needs a string key", line: line) }
                return values[key] ?? (args.count > 1 ? args[1] : .none)
            default: break
            }
        default: break
        }
        throw TemplateError(.unsupported, "the method '\(name)' of a \(receiver.typeName) is not supported", line: line)
    }

    private static func stringMethod(_ name: String, _ s: String, _ args: [TemplateValue], line: Int) throws(TemplateError) -> TemplateValue {
        func stringArg(_ i: Int) throws(TemplateError) -> String? {
            guard i < args.count else { return nil }
            switch args[i] {
            case .string(let a): return a
            case .none: return nil
            default: throw TemplateError(.type, "'\(name)' needs a string argument, not a \(args[i].typeName)", line: line)
            }
        }
        switch name {
        case "strip": return .string(try stringArg(0).map { s.trimming(Set($0)) } ?? s.trimmingWhitespace())
        case "lstrip": return .string(try stringArg(0).map { s.trimming(Set($0), trailing: false) } ?? s.trimmingWhitespace(trailing: false))
        case "rstrip": return .string(try stringArg(0).map { s.trimming(Set($0), leading: false) } ?? s.trimmingWhitespace(leading: false))
        case "upper": return .string(s.uppercased())
        case "lower": return .string(s.lowercased())
        case "title":
            var out = "", startOfWord = true
            for c in s {
                out += startOfWord ? c.uppercased() : c.lowercased()
                startOfWord = !c.isLetter
            }
            return .string(out)
        case "capitalize": return .string(s.prefix(1).uppercased() + s.dropFirst().lowercased())
        case "startswith":
            guard let p = try stringArg(0) else { throw TemplateError(.type, "startswith() needs a string", line: line) }
            return .bool(s.hasPrefix(p))
        case "endswith":
            guard let p = try stringArg(0) else { throw TemplateError(.type, "endswith() needs a string", line: line) }
            return .bool(s.hasSuffix(p))
        case "replace":
            guard let a = try stringArg(0), let b = try stringArg(1) else { throw TemplateError(.type, "replace() needs two strings", line: line) }
            return .string(a.isEmpty ? s : s.replacing(a, with: b))
        case "split":
            if let separator = try stringArg(0) {
                guard !separator.isEmpty else { throw TemplateError(.type, "split() separator is empty", line: line) }
                return .array(s.split(separator: separator, omittingEmptySubsequences: false).map { .string(String($0)) })
            }
            return .array(s.split(whereSeparator: \.isWhitespace).map { .string(String($0)) })
        case "join":
            guard case .array(let items)? = args.first else { throw TemplateError(.type, "join() needs a list", line: line) }
            return .string(items.map(\.rendered).joined(separator: s))
        case "find":
            guard let needle = try stringArg(0) else { throw TemplateError(.type, "find() needs a string", line: line) }
            guard let r = s.firstRange(of: needle) else { return .int(-1) }
            return .int(s.distance(from: s.startIndex, to: r.lowerBound))
        case "count":
            guard let needle = try stringArg(0), !needle.isEmpty else { throw TemplateError(.type, "count() needs a non-empty string", line: line) }
            return .int(s.ranges(of: needle).count)
        default:
            throw TemplateError(.unsupported, "the string method '\(name)' is not supported", line: line)
        }
    }
}

extension String {
    func trimmingWhitespace(leading: Bool = true, trailing: Bool = true) -> String {
        var sub = self[...]
        if leading { while let c = sub.first, c.isWhitespace { sub = sub.dropFirst() } }
        if trailing { while let c = sub.last, c.isWhitespace { sub = sub.dropLast() } }
        return String(sub)
    }

    func trimming(_ characters: Set<Character>, leading: Bool = true, trailing: Bool = true) -> String {
        var sub = self[...]
        if leading { while let c = sub.first, characters.contains(c) { sub = sub.dropFirst() } }
        if trailing { while let c = sub.last, characters.contains(c) { sub = sub.dropLast() } }
        return String(sub)
    }
}
