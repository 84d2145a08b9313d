// Executes a parsed template against a context: scopes, loops with `loop.*`, Python-like operators,
// and the filters, tests, functions and methods chat templates use.

/// One render: the scope stack and the output being built.
struct TemplateRenderer {
    private var scopes: [[String: TemplateValue]]
    private var output = ""
    /// Rendering stops with an error past this many characters (a runaway template).
    private let maxOutput = 4 << 20

    private enum Flow { case normal, breakLoop, continueLoop }

    init(context: [String: TemplateValue]) { scopes = [context] }

    mutating func render(_ nodes: [Node]) throws(TemplateError) -> String {
        _ = try run(nodes)
        return output
    }

    // MARK: Statements

    private mutating func run(_ nodes: [Node]) throws(TemplateError) -> Flow {
        for node in nodes {
            switch node {
            case .text(let t):
                output += t
            case .output(let e, let line):
                output += try eval(e, line).rendered
            case .ifChain(let branches, let orElse, let line):
                var taken = false
                for (condition, body) in branches where try eval(condition, line).isTruthy {
                    taken = true
                    let flow = try run(body)
                    if flow != .normal { return flow }
                    break
                }
                if !taken {
                    let flow = try run(orElse)
                    if flow != .normal { return flow }
                }
            case .forLoop(let targets, let iterable, let filter, let body, let orElse, let line):
                try runFor(targets, iterable, filter, body, orElse, line)
            case .set(let target, let attribute, let value, let line):
                let v = try eval(value, line)
                if let attribute {
                    guard case .namespace(let ns)? = lookup(target) else {
                        throw TemplateError(.type, "cannot assign '\(target).\(attribute)': '\(target)' is not a namespace", line: line)
                    }
                    ns.set(attribute, v)
                } else {
                    scopes[scopes.count - 1][target] = v
                }
            case .breakLoop: return .breakLoop
            case .continueLoop: return .continueLoop
            }
            if output.utf8.count > maxOutput {
                throw TemplateError(.type, "the rendered prompt exceeds \(maxOutput) bytes")
            }
        }
        return .normal
    }

    private mutating func runFor(_ targets: [String], _ iterable: Expr, _ filter: Expr?, _ body: [Node],
                                 _ orElse: [Node], _ line: Int) throws(TemplateError) {
        var items = try iterate(eval(iterable, line), line)
        if let filter {
            var kept: [TemplateValue] = []
            for item in items {
                scopes.append(try bind(targets, item, line))
                let keep = try eval(filter, line).isTruthy
                scopes.removeLast()
                if keep { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty { _ = try run(orElse); return }
        for (index, item) in items.enumerated() {
            var scope = try bind(targets, item, line)
            scope["loop"] = .object([
                ("index", .int(index + 1)), ("index0", .int(index)),
                ("revindex", .int(items.count - index)), ("revindex0", .int(items.count - index - 1)),
                ("first", .bool(index == 0)), ("last", .bool(index == items.count - 1)),
                ("length", .int(items.count)),
                ("previtem", index > 0 ? items[index - 1] : .undefined),
                ("nextitem", index + 1 < items.count ? items[index + 1] : .undefined),
            ])
            scopes.append(scope)
            let flow = try run(body)
            scopes.removeLast()
            if flow == .breakLoop { break }
        }
    }

    private func bind(_ targets: [String], _ item: TemplateValue, _ line: Int) throws(TemplateError) -> [String: TemplateValue] {
        if targets.count == 1 { return [targets[0]: item] }
        guard case .array(let parts) = item, parts.count == targets.count else {
            throw TemplateError(.type, "cannot unpack \(item.typeName) into \(targets.count) loop variables", line: line)
        }
        return Dictionary(uniqueKeysWithValues: zip(targets, parts).map { ($0, $1) })
    }

    private func iterate(_ value: TemplateValue, _ line: Int) throws(TemplateError) -> [TemplateValue] {
        switch value {
        case .array(let a): return a
        case .object(let keys, _): return keys.map { .string($0) }
        case .string(let s): return s.map { .string(String($0)) }
        case .undefined, .none: return []
        default: throw TemplateError(.type, "cannot loop over a \(value.typeName)", line: line)
        }
    }

    private func lookup(_ name: String) -> TemplateValue? {
        for scope in scopes.reversed() { if let v = scope[name] { return v } }
        return nil
    }

    // MARK: Expressions

    private mutating func eval(_ e: Expr, _ line: Int) throws(TemplateError) -> TemplateValue {
        switch e {
        case .literal(let v): return v
        case .name(let n): return lookup(n) ?? .undefined
        case .list(let items):
            var out: [TemplateValue] = []
            for item in items { out.append(try eval(item, line)) }
            return .array(out)
        case .dict(let pairs):
            var out: [(String, TemplateValue)] = []
            for (k, v) in pairs {
                guard case .string(let key) = try eval(k, line) else { throw TemplateError(.type, "dict keys must be strings", line: line) }
                out.append((key, try eval(v, line)))
            }
            return .object(out)
        case .attribute(let base, let name):
            return try attribute(eval(base, line), name, line)
        case .subscriptIndex(let base, let index):
            return try subscriptValue(eval(base, line), eval(index, line), line)
        case .slice(let base, let start, let stop, let step):
            let b = try eval(base, line)
            return try slice(b, start.map { e throws(TemplateError) in try eval(e, line) },
                             stop.map { e throws(TemplateError) in try eval(e, line) },
                             step.map { e throws(TemplateError) in try eval(e, line) }, line)
        case .call(let callee, let args, let kwargs):
            var values: [TemplateValue] = []
            for a in args { values.append(try eval(a, line)) }
            var named: [String: TemplateValue] = [:]
            for (k, v) in kwargs { named[k] = try eval(v, line) }
            return try call(callee, values, named, line)
        case .filter(let base, let name, let args, let kwargs):
            let value = try eval(base, line)
            var values: [TemplateValue] = []
            for a in args { values.append(try eval(a, line)) }
            var named: [String: TemplateValue] = [:]
            for (k, v) in kwargs { named[k] = try eval(v, line) }
            return try TemplateBuiltins.filter(name, value, values, named, line: line)
        case .test(let base, let name, let args, let negated):
            let value = try eval(base, line)
            var values: [TemplateValue] = []
            for a in args { values.append(try eval(a, line)) }
            return .bool(try TemplateBuiltins.test(name, value, values, line: line) != negated)
        case .unary(let op, let operand):
            let v = try eval(operand, line)
            if op == "not" { return .bool(!v.isTruthy) }
            switch v {
            case .int(let i): return .int(-i)
            case .double(let d): return .double(-d)
            default: throw TemplateError(.type, "cannot negate a \(v.typeName)", line: line)
            }
        case .binary(let op, let lhs, let rhs):
            if op == "and" {
                let l = try eval(lhs, line)
                return l.isTruthy ? try eval(rhs, line) : l
            }
            if op == "or" {
                let l = try eval(lhs, line)
                return l.isTruthy ? l : try eval(rhs, line)
            }
            return try TemplateBuiltins.binary(op, eval(lhs, line), eval(rhs, line), line: line)
        case .conditional(let value, let condition, let otherwise):
            if try eval(condition, line).isTruthy { return try eval(value, line) }
            return try otherwise.map { e throws(TemplateError) in try eval(e, line) } ?? .undefined
        }
    }

    private func attribute(_ base: TemplateValue, _ name: String, _ line: Int) throws(TemplateError) -> TemplateValue {
        switch base {
        case .object(_, let values): return values[name] ?? .undefined
        case .namespace(let ns): return ns.attributes[name] ?? .undefined
        case .undefined: throw TemplateError(.type, "cannot read '.\(name)' of an undefined value", line: line)
        case .none: throw TemplateError(.type, "cannot read '.\(name)' of none", line: line)
        default: return .undefined   // methods are resolved by `call`
        }
    }

    private func subscriptValue(_ base: TemplateValue, _ index: TemplateValue, _ line: Int) throws(TemplateError) -> TemplateValue {
        switch (base, index) {
        case (.array(let a), .int(let i)):
            let j = i < 0 ? a.count + i : i
            return a.indices.contains(j) ? a[j] : .undefined
        case (.string(let s), .int(let i)):
            let chars = Array(s)
            let j = i < 0 ? chars.count + i : i
            return chars.indices.contains(j) ? .string(String(chars[j])) : .undefined
        case (.object, .string(let key)), (.namespace, .string(let key)):
            return try attribute(base, key, line)
        case (.undefined, _):
            throw TemplateError(.type, "cannot index an undefined value", line: line)
        default:
            throw TemplateError(.type, "cannot index a \(base.typeName) with a \(index.typeName)", line: line)
        }
    }

    private func slice(_ base: TemplateValue, _ start: TemplateValue?, _ stop: TemplateValue?, _ step: TemplateValue?,
                       _ line: Int) throws(TemplateError) -> TemplateValue {
        func int(_ v: TemplateValue?) throws(TemplateError) -> Int? {
            switch v {
            case nil, .none?: return nil
            case .int(let i)?: return i
            default: throw TemplateError(.type, "slice bounds must be integers", line: line)
            }
        }
        let items: [TemplateValue]
        switch base {
        case .array(let a): items = a
        case .string(let s): items = s.map { .string(String($0)) }
        default: throw TemplateError(.type, "cannot slice a \(base.typeName)", line: line)
        }
        let n = items.count
        let st = try int(step) ?? 1
        guard st != 0 else { throw TemplateError(.type, "slice step cannot be zero", line: line) }
        func clamp(_ v: Int?, _ dflt: Int) -> Int {
            guard var v else { return dflt }
            if v < 0 { v += n }
            return st > 0 ? min(max(v, 0), n) : min(max(v, -1), n - 1)
        }
        var out: [TemplateValue] = []
        var i = clamp(try int(start), st > 0 ? 0 : n - 1)
        let end = clamp(try int(stop), st > 0 ? n : -1)
        while st > 0 ? i < end : i > end { out.append(items[i]); i += st }
        if case .string = base { return .string(out.map(\.rendered).joined()) }
        return .array(out)
    }

    private mutating func call(_ callee: Expr, _ args: [TemplateValue], _ kwargs: [String: TemplateValue],
                               _ line: Int) throws(TemplateError) -> TemplateValue {
        if case .attribute(let base, let method) = callee {
            let receiver = try eval(base, line)
            if case .object(_, let values) = receiver, values[method] != nil {
                throw TemplateError(.unsupported, "calling '\(method)' stored in a dict is not supported", line: line)
            }
            return try TemplateBuiltins.method(method, receiver, args, kwargs, line: line)
        }
        guard case .name(let name) = callee else {
            throw TemplateError(.unsupported, "only named functions and methods can be called", line: line)
        }
        if lookup(name) != nil, name != "raise_exception" {
            throw TemplateError(.unsupported, "'\(name)' is a value, not a function", line: line)
        }
        return try TemplateBuiltins.function(name, args, kwargs, line: line)
    }
}
