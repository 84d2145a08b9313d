// A Prometheus histogram: cumulative buckets, a sum and a count, in the text exposition format.

/// Observations of one quantity in fixed buckets. Not thread-safe: ``ServerMetrics`` guards it.
struct Histogram: Sendable {
    let name: String
    let help: String
    /// Upper bounds, ascending; `+Inf` is implied.
    let bounds: [Double]
    private var counts: [Int]
    private(set) var sum = 0.0
    private(set) var count = 0

    init(_ name: String, help: String, bounds: [Double]) {
        self.name = name
        self.help = help
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count)
    }

    mutating func observe(_ value: Double) {
        guard value.isFinite else { return }
        for (i, bound) in bounds.enumerated() where value <= bound { counts[i] += 1 }
        sum += value
        count += 1
    }

    /// `# HELP`, `# TYPE`, one `_bucket` line per bound and `+Inf`, `_sum`, `_count`.
    func render(labels: String) -> String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (i, bound) in bounds.enumerated() {
            out += "\(name)_bucket{\(labels),le=\"\(bound)\"} \(counts[i])\n"
        }
        out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(count)\n"
        out += "\(name)_sum{\(labels)} \(sum)\n"
        out += "\(name)_count{\(labels)} \(count)\n"
        return out
    }
}
