// The values a chat template computes with: Jinja's (Python's) data model, reduced to what templates use.

/// A template value. Objects keep their keys in insertion order, as Python dicts do.
public enum TemplateValue: Sendable {
    /// A name or key that does not exist (Jinja's `Undefined`): renders as "", is falsy.
    case undefined
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([TemplateValue])
    /// Keys in order, and their values.
    case object(keys: [String], values: [String: TemplateValue])
    case namespace(TemplateNamespace)

    /// An object from ordered pairs; a repeated key keeps its first position and last value.
    public static func object(_ pairs: [(String, TemplateValue)]) -> TemplateValue {
        var keys: [String] = []
        var values: [String: TemplateValue] = [:]
        for (key, value) in pairs {
            if values[key] == nil { keys.append(key) }
            values[key] = value
        }
        return .object(keys: keys, values: values)
    }

    /// Python truthiness.
    public var isTruthy: Bool {
        switch self {
        case .undefined, .none: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .double(let d): d != 0
        case .string(let s): !s.isEmpty
        case .array(let a): !a.isEmpty
        case .object(let keys, _): !keys.isEmpty
        case .namespace: true
        }
    }

    /// The name of the value's type, for error messages.
    public var typeName: String {
        switch self {
        case .undefined: "undefined"
        case .none: "none"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "float"
        case .string: "string"
        case .array: "list"
        case .object: "dict"
        case .namespace: "namespace"
        }
    }

    /// What `{{ value }}` prints (Python's `str`).
    public var rendered: String {
        switch self {
        case .undefined: ""
        case .string(let s): s
        default: pythonRepr
        }
    }

    /// Python's `repr`, used for values nested in lists and dicts.
    var pythonRepr: String {
        switch self {
        case .undefined: ""
        case .none: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let i): String(i)
        case .double(let d): d == d.rounded() && abs(d) < 1e16 ? String(format1: d) : "\(d)"
        case .string(let s): "'" + s.replacing("\\", with: "\\\\").replacing("'", with: "\\'") + "'"
        case .array(let items): "[" + items.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .object(let keys, let values):
            "{" + keys.map { "'\($0)': \(values[$0]!.pythonRepr)" }.joined(separator: ", ") + "}"
        case .namespace(let ns): "<Namespace " + ns.order.map { "\($0)=\(ns.attributes[$0]!.pythonRepr)" }.joined(separator: ", ") + ">"
        }
    }

    /// Numeric value, if the value is a number or a boolean.
    var number: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }
}

extension TemplateValue: Equatable {
    public static func == (lhs: TemplateValue, rhs: TemplateValue) -> Bool {
        switch (lhs, rhs) {
        case (.undefined, .undefined), (.none, .none): true
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let ka, let va), .object(let kb, let vb)): Set(ka) == Set(kb) && ka.allSatisfy { va[$0] == vb[$0] }
        case (.namespace(let a), .namespace(let b)): a === b
        default:
            if let a = lhs.number, let b = rhs.number { a == b } else { false }
        }
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) { self = .object(elements) }
    public init(nilLiteral: ()) { self = .none }
}

extension String {
    /// Python's repr of a whole float: `1.0`.
    init(format1 d: Double) { self = "\(Int(d)).0" }
}
