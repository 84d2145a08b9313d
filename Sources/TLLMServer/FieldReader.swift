// Typed access to the fields of a JSON request body; every failure is a 400 naming the field.

/// Reads the fields of one JSON object. Absent and `null` fields read as nil.
struct FieldReader {
    let object: JSON
    /// Prefix for field names in messages (`messages[2].`).
    let path: String

    /// - Throws: ``APIError`` (400) if `json` is not an object.
    init(_ json: JSON, path: String = "", what: String = "the request body") throws(APIError) {
        guard case .object = json else {
            throw APIError.badRequest("\(what) must be a JSON object, not \(json.typeDescription)", param: path.isEmpty ? nil : String(path.dropLast()))
        }
        object = json
        self.path = path
    }

    func name(_ key: String) -> String { path + key }

    func value(_ key: String) -> JSON? {
        guard let v = object[key] else { return nil }
        if case .null = v { return nil }
        return v
    }

    func wrongType(_ key: String, _ expected: String, _ got: JSON) -> APIError {
        .badRequest("\(name(key)) must be \(expected), not \(got.typeDescription)", param: name(key))
    }

    func int(_ key: String, in range: ClosedRange<Int>? = nil, hint: String? = nil) throws(APIError) -> Int? {
        guard let v = value(key) else { return nil }
        let n: Int
        switch v {
        case .int(let i): n = i
        case .double(let d) where d == d.rounded() && abs(d) < 9e15: n = Int(d)
        case .double(let d): throw APIError.badRequest("\(name(key)) must be an integer, not \(d)", param: name(key))
        default: throw wrongType(key, "an integer", v)
        }
        if let range, !range.contains(n) {
            throw APIError.badRequest("\(name(key)) is \(n); \(hint ?? "it must be in \(range.lowerBound)...\(range.upperBound)")", param: name(key))
        }
        return n
    }

    func double(_ key: String, in range: ClosedRange<Double>? = nil, hint: String? = nil) throws(APIError) -> Double? {
        guard let v = value(key) else { return nil }
        let d: Double
        switch v {
        case .int(let i): d = Double(i)
        case .double(let x): d = x
        default: throw wrongType(key, "a number", v)
        }
        if let range, !d.isFinite || !range.contains(d) {
            throw APIError.badRequest("\(name(key)) is \(d); \(hint ?? "it must be in [\(range.lowerBound), \(range.upperBound)]")", param: name(key))
        }
        return d
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw wrongType(key, "a boolean", v) }
        return b
    }

    func string(_ key: String) throws(APIError) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw wrongType(key, "a string", v) }
        return s
    }

    /// A string or an array of strings (`stop`).
    func strings(_ key: String) throws(APIError) -> [String]? {
        guard let v = value(key) else { return nil }
        switch v {
        case .string(let s): return [s]
        case .array(let items):
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else {
                    throw APIError.badRequest("\(name(key))[\(i)] must be a string, not \(item.typeDescription)", param: name(key))
                }
                out.append(s)
            }
            return out
        default: throw wrongType(key, "a string or an array of strings", v)
        }
    }
}
