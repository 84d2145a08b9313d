// Expressions inside tags, with Jinja's operator precedence (or < and < not < comparisons < + - < ~
// < * / // % < ** < unary < filters, tests and postfix).

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
