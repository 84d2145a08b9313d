// `namespace(...)`: the one mutable value a template has.

/// A mutable attribute bag made by `namespace(...)`: the one thing a template may assign into
/// from inside a loop.
public final class TemplateNamespace: @unchecked Sendable {
    /// Attributes in assignment order. Only touched by the single render that created it.
    var attributes: [String: TemplateValue]
    var order: [String]

    init(_ pairs: [(String, TemplateValue)]) {
        attributes = [:]
        order = []
        for (key, value) in pairs { set(key, value) }
    }

    func set(_ key: String, _ value: TemplateValue) {
        if attributes[key] == nil { order.append(key) }
        attributes[key] = value
    }
}
