// Recursive-descent parser for the Jinja subset, with Jinja's operator precedence
// (or < and < not < comparisons < + - < ~ < * / // % < ** < unary < filters, tests and postfix).

/// Builds the node tree from lexed pieces.
struct TemplateParser {
    private var pieces: [TemplatePiece]
    private var position = 0

    init(_ pieces: [TemplatePiece]) { self.pieces = pieces }

    /// The whole template; every block must be closed.
    mutating func parseTemplate() throws(TemplateError) -> [Node] {
        let (body, end) = try parseBody(until: [])
        if let (tag, line) = end { throw TemplateError(.syntax, "unexpected '{% \(tag) %}'", line: line) }
        return body
    }

    /// Parses nodes until a statement whose keyword is in `terminators`; returns that keyword's
    /// tokens (nil at the end of the template).
    private mutating func parseBody(until terminators: Set<String>) throws(TemplateError)
        -> ([Node], (String, Int)?) {
        var nodes: [Node] = []
        while position < pieces.count {
            let piece = pieces[position]
            position += 1
            switch piece {
            case .text(let t):
                nodes.append(.text(t))
            case .output(let tokens, let line):
                var p = ExprParser(tokens, line: line)
                nodes.append(.output(try p.parseWhole(), line: line))
            case .statement(let tokens, let line):
                guard case .name(let keyword)? = tokens.first else {
                    throw TemplateError(.syntax, "a tag must start with a keyword", line: line)
                }
                if terminators.contains(keyword) {
                    position -= 1
                    return (nodes, (keyword, line))
                }
                nodes.append(try parseStatement(keyword, Array(tokens.dropFirst()), line: line))
            }
        }
        return (nodes, nil)
    }

    /// Re-reads the terminator statement the body stopped at.
    private mutating func takeTerminator() -> [ExprToken] {
        guard case .statement(let tokens, _) = pieces[position] else { return [] }
        position += 1
        return Array(tokens.dropFirst())
    }

    private mutating func parseStatement(_ keyword: String, _ rest: [ExprToken], line: Int) throws(TemplateError) -> Node {
        switch keyword {
        case "if":
            var branches: [(Expr, [Node])] = []
            var condition = try ExprParser(rest, line: line).parsedWhole()
            var elseBody: [Node] = []
            while true {
                let (body, end) = try parseBody(until: ["elif", "else", "endif"])
                guard let (tag, _) = end else { throw TemplateError(.syntax, "'{% if %}' is never closed with '{% endif %}'", line: line) }
                let tokens = takeTerminator()
                branches.append((condition, body))
                if tag == "elif" {
                    condition = try ExprParser(tokens, line: line).parsedWhole()
                    continue
                }
                if tag == "else" {
                    let (body, end) = try parseBody(until: ["endif"])
                    guard end != nil else { throw TemplateError(.syntax, "'{% if %}' is never closed with '{% endif %}'", line: line) }
                    _ = takeTerminator()
                    elseBody = body
                }
                break
            }
            return .ifChain(branches, elseBody, line: line)
        case "for":
            var p = ExprParser(rest, line: line)
            var targets: [String] = []
            repeat {
                guard case .name(let n)? = p.next() else { throw TemplateError(.syntax, "'for' needs a loop variable", line: line) }
                targets.append(n)
            } while p.accept(.op(","))
            guard p.accept(.name("in")) else { throw TemplateError(.syntax, "'for' needs 'in'", line: line) }
            let iterable = try p.parseNoConditional()
            var filter: Expr? = nil
            if p.accept(.name("if")) { filter = try p.parseExpression() }
            if p.accept(.name("recursive")) { throw TemplateError(.unsupported, "recursive for loops are not supported", line: line) }
            try p.expectEnd()
            let (body, end) = try parseBody(until: ["else", "endfor"])
            guard let (tag, _) = end else { throw TemplateError(.syntax, "'{% for %}' is never closed with '{% endfor %}'", line: line) }
            _ = takeTerminator()
            var orElse: [Node] = []
            if tag == "else" {
                let (body, end) = try parseBody(until: ["endfor"])
                guard end != nil else { throw TemplateError(.syntax, "'{% for %}' is never closed with '{% endfor %}'", line: line) }
                _ = takeTerminator()
                orElse = body
            }
            return .forLoop(targets: targets, iterable: iterable, filter: filter, body: body, orElse: orElse, line: line)
        case "set":
            var p = ExprParser(rest, line: line)
            guard case .name(let target)? = p.next() else { throw TemplateError(.syntax, "'set' needs a name", line: line) }
            var attribute: String? = nil
            if p.accept(.op(".")) {
                guard case .name(let a)? = p.next() else { throw TemplateError(.syntax, "'set \(target).' needs an attribute name", line: line) }
                attribute = a
            }
            guard p.accept(.op("=")) else {
                throw TemplateError(.unsupported, "block assignments ('{% set \(target) %}…{% endset %}') and tuple assignments are not supported", line: line)
            }
            let value = try p.parseWhole()
            return .set(target: target, attribute: attribute, value: value, line: line)
        case "break", "continue":
            guard rest.isEmpty else { throw TemplateError(.syntax, "'\(keyword)' takes no arguments", line: line) }
            return keyword == "break" ? .breakLoop : .continueLoop
        case "generation":
            // Hugging Face's marker for assistant-token masks: render the body as is.
            let (body, end) = try parseBody(until: ["endgeneration"])
            guard end != nil else { throw TemplateError(.syntax, "'{% generation %}' is never closed", line: line) }
            _ = takeTerminator()
            return .ifChain([(.literal(.bool(true)), body)], [], line: line)
        case "elif", "else", "endif", "endfor", "endset", "endgeneration":
            throw TemplateError(.syntax, "'{% \(keyword) %}' without a matching opening tag", line: line)
        default:
            throw TemplateError(.unsupported, "the '{% \(keyword) %}' tag is not supported (supported: if/elif/else, for, set, break, continue, generation)", line: line)
        }
    }
}

/// Parses one expression from a tag's tokens.
struct ExprParser {
    private let tokens: [ExprToken]
    private var i = 0
    private let line: Int
    private var depth = 0

    init(_ tokens: [ExprToken], line: Int) {
        self.tokens = tokens
        self.line = line
    }

    /// The whole token list as one expression.
    func parsedWhole() throws(TemplateError) -> Expr {
        var copy = self
        return try copy.parseWhole()
    }

    mutating func parseWhole() throws(TemplateError) -> Expr {
        let e = try parseExpression()
        try expectEnd()
        return e
    }

    mutating func expectEnd() throws(TemplateError) {
        if i < tokens.count { throw TemplateError(.syntax, "unexpected '\(describe(tokens[i]))'", line: line) }
    }

    mutating func next() -> ExprToken? {
        guard i < tokens.count else { return nil }
        defer { i += 1 }
        return tokens[i]
    }

    private func peek(_ offset: Int = 0) -> ExprToken? { i + offset < tokens.count ? tokens[i + offset] : nil }

    mutating func accept(_ t: ExprToken) -> Bool {
        if peek() == t { i += 1; return true }
        return false
    }

    private mutating func expect(_ t: ExprToken) throws(TemplateError) {
        guard accept(t) else {
            throw TemplateError(.syntax, "expected '\(describe(t))'" + (peek().map { ", found '\(describe($0))'" } ?? " at the end of the tag"), line: line)
        }
    }

    private func describe(_ t: ExprToken) -> String {
        switch t {
        case .name(let n): n
        case .string(let s): "'\(s)'"
        case .int(let n): String(n)
        case .double(let d): String(d)
        case .op(let o): o
        }
    }

    // MARK: Precedence levels

    mutating func parseExpression() throws(TemplateError) -> Expr {
        depth += 1
        defer { depth -= 1 }
        guard depth < 100 else { throw TemplateError(.syntax, "expression nested too deeply", line: line) }
        let value = try parseOr()
        guard accept(.name("if")) else { return value }
        let condition = try parseOr()
        let otherwise: Expr? = accept(.name("else")) ? try parseExpression() : nil
        return .conditional(value, condition, otherwise)
    }

    /// An expression without a trailing `if … else …` (a for loop's iterable, before its filter).
    mutating func parseNoConditional() throws(TemplateError) -> Expr { try parseOr() }

    private mutating func parseOr() throws(TemplateError) -> Expr {
        var left = try parseAnd()
        while accept(.name("or")) { left = .binary("or", left, try parseAnd()) }
        return left
    }

    private mutating func parseAnd() throws(TemplateError) -> Expr {
        var left = try parseNot()
        while accept(.name("and")) { left = .binary("and", left, try parseNot()) }
        return left
    }

    private mutating func parseNot() throws(TemplateError) -> Expr {
        if accept(.name("not")) { return .unary("not", try parseNot()) }
        return try parseCompare()
    }

    private mutating func parseCompare() throws(TemplateError) -> Expr {
        var left = try parseAdditive()
        while true {
            if case .op(let o)? = peek(), ["==", "!=", "<", "<=", ">", ">="].contains(o) {
                i += 1
                left = .binary(o, left, try parseAdditive())
            } else if accept(.name("in")) {
                left = .binary("in", left, try parseAdditive())
            } else if peek() == .name("not"), peek(1) == .name("in") {
                i += 2
                left = .unary("not", .binary("in", left, try parseAdditive()))
            } else {
                return left
            }
        }
    }

    private mutating func parseAdditive() throws(TemplateError) -> Expr {
        var left = try parseConcat()
        while case .op(let o)? = peek(), o == "+" || o == "-" {
            i += 1
            left = .binary(o, left, try parseConcat())
        }
        return left
    }

    private mutating func parseConcat() throws(TemplateError) -> Expr {
        var left = try parseMultiplicative()
        while accept(.op("~")) { left = .binary("~", left, try parseMultiplicative()) }
        return left
    }

    private mutating func parseMultiplicative() throws(TemplateError) -> Expr {
        var left = try parsePower()
        while case .op(let o)? = peek(), ["*", "/", "//", "%"].contains(o) {
            i += 1
            left = .binary(o, left, try parsePower())
        }
        return left
    }

    private mutating func parsePower() throws(TemplateError) -> Expr {
        let left = try parseUnary()
        if accept(.op("**")) { return .binary("**", left, try parsePower()) }
        return left
    }

    private mutating func parseUnary() throws(TemplateError) -> Expr {
        if accept(.op("-")) { return .unary("-", try parseUnary()) }
        if accept(.op("+")) { return try parseUnary() }
        return try parsePostfix(try parsePrimary())
    }

    /// Attribute access, subscripts, calls, filters and tests, left to right.
    private mutating func parsePostfix(_ base: Expr) throws(TemplateError) -> Expr {
        var e = base
        while true {
            if accept(.op(".")) {
                guard case .name(let n)? = next() else { throw TemplateError(.syntax, "expected an attribute name after '.'", line: line) }
                e = .attribute(e, n)
            } else if accept(.op("[")) {
                e = try parseSubscript(e)
            } else if accept(.op("(")) {
                let (args, kwargs) = try parseArguments()
                e = .call(e, args, kwargs)
            } else if accept(.op("|")) {
                guard case .name(let n)? = next() else { throw TemplateError(.syntax, "expected a filter name after '|'", line: line) }
                var args: [Expr] = [], kwargs: [(String, Expr)] = []
                if accept(.op("(")) { (args, kwargs) = try parseArguments() }
                e = .filter(e, n, args, kwargs)
            } else if accept(.name("is")) {
                let negated = accept(.name("not"))
                guard case .name(let n)? = next() else { throw TemplateError(.syntax, "expected a test name after 'is'", line: line) }
                var args: [Expr] = []
                if accept(.op("(")) {
                    args = try parseArguments().0
                } else if let t = peek(), startsPrimary(t) {
                    args = [try parsePrimary()]   // `x is equalto 3`, `x is sameas none`
                }
                e = .test(e, n, args, negated: negated)
            } else {
                return e
            }
        }
    }

    private func startsPrimary(_ t: ExprToken) -> Bool {
        switch t {
        case .string, .int, .double: true
        case .name(let n): !["and", "or", "not", "in", "is", "if", "else"].contains(n)
        case .op: false
        }
    }

    private mutating func parseSubscript(_ base: Expr) throws(TemplateError) -> Expr {
        var parts: [Expr?] = [nil]
        var isSlice = false
        while !accept(.op("]")) {
            if accept(.op(":")) {
                isSlice = true
                parts.append(nil)
                guard parts.count <= 3 else { throw TemplateError(.syntax, "a slice has at most three parts", line: line) }
                continue
            }
            guard parts[parts.count - 1] == nil else { throw TemplateError(.syntax, "expected ']'", line: line) }
            parts[parts.count - 1] = try parseExpression()
            if peek() == nil { throw TemplateError(.syntax, "expected ']'", line: line) }
        }
        if !isSlice {
            guard let index = parts[0] else { throw TemplateError(.syntax, "empty subscript", line: line) }
            return .subscriptIndex(base, index)
        }
        while parts.count < 3 { parts.append(nil) }
        return .slice(base, parts[0], parts[1], parts[2])
    }

    private mutating func parseArguments() throws(TemplateError) -> ([Expr], [(String, Expr)]) {
        var args: [Expr] = []
        var kwargs: [(String, Expr)] = []
        while !accept(.op(")")) {
            if case .name(let n)? = peek(), peek(1) == .op("=") {
                i += 2
                kwargs.append((n, try parseExpression()))
            } else {
                guard kwargs.isEmpty else { throw TemplateError(.syntax, "a positional argument follows a keyword argument", line: line) }
                args.append(try parseExpression())
            }
            if !accept(.op(",")) { try expect(.op(")")); break }
        }
        return (args, kwargs)
    }

    private mutating func parsePrimary() throws(TemplateError) -> Expr {
        guard let t = next() else { throw TemplateError(.syntax, "expected a value at the end of the tag", line: line) }
        switch t {
        case .string(var s):
            while case .string(let more)? = peek() { s += more; i += 1 }   // adjacent literals concatenate
            return .literal(.string(s))
        case .int(let n): return .literal(.int(n))
        case .double(let d): return .literal(.double(d))
        case .name(let n):
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n)
            }
        case .op("("):
            let e = try parseExpression()
            if accept(.op(",")) {
                var items = [e]
                while !accept(.op(")")) {
                    items.append(try parseExpression())
                    if !accept(.op(",")) { try expect(.op(")")); break }
                }
                return .list(items)   // tuples behave as lists
            }
            try expect(.op(")"))
            return e
        case .op("["):
            var items: [Expr] = []
            while !accept(.op("]")) {
                items.append(try parseExpression())
                if !accept(.op(",")) { try expect(.op("]")); break }
            }
            return .list(items)
        case .op("{"):
            var pairs: [(Expr, Expr)] = []
            while !accept(.op("}")) {
                let key = try parseExpression()
                try expect(.op(":"))
                pairs.append((key, try parseExpression()))
                if !accept(.op(",")) { try expect(.op("}")); break }
            }
            return .dict(pairs)
        default:
            throw TemplateError(.syntax, "unexpected '\(describe(t))'", line: line)
        }
    }
}
