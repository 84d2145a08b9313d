// The parsed template: statements (text, output, if, for, set, loop control) over expressions.

/// An expression inside `{{ }}` or a tag.
indirect enum Expr: Sendable {
    case literal(TemplateValue)
    case name(String)
    case list([Expr])
    case dict([(Expr, Expr)])
    /// `object.name`
    case attribute(Expr, String)
    /// `object[index]`
    case subscriptIndex(Expr, Expr)
    /// `object[start:stop:step]`; nil parts are omitted.
    case slice(Expr, Expr?, Expr?, Expr?)
    /// `callee(args, name=value)`
    case call(Expr, [Expr], [(String, Expr)])
    /// `value | name(args)`
    case filter(Expr, String, [Expr], [(String, Expr)])
    /// `value is [not] name(args)`
    case test(Expr, String, [Expr], negated: Bool)
    case unary(String, Expr)
    case binary(String, Expr, Expr)
    /// `a if condition else b` (b may be absent: undefined).
    case conditional(Expr, Expr, Expr?)
}

/// A statement of the template body.
indirect enum Node: Sendable {
    case text(String)
    case output(Expr, line: Int)
    /// `if`/`elif` branches in order, then the `else` body.
    case ifChain([(Expr, [Node])], [Node], line: Int)
    /// `for targets in iterable [if filter]` … `else` … `endfor`.
    case forLoop(targets: [String], iterable: Expr, filter: Expr?, body: [Node], orElse: [Node], line: Int)
    /// `set name = value` or `set namespace.attribute = value`.
    case set(target: String, attribute: String?, value: Expr, line: Int)
    case breakLoop
    case continueLoop
}
