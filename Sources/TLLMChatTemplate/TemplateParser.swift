// Recursive-descent parser for the Jinja subset: statements (if, for, set, break, continue) over pieces;
// expressions are ExprParser's.

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
