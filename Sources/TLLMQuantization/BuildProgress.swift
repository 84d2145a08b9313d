// Progress of the long build steps (calibration, quantization) for tools that draw a bar.

/// One progress report: `completed` of `total` items of `phase` done, the last being `item`.
public struct BuildProgress: Sendable, Equatable {
    public var phase: String
    public var completed: Int
    public var total: Int
    public var item: String

    public init(phase: String, completed: Int, total: Int, item: String) {
        self.phase = phase
        self.completed = completed
        self.total = total
        self.item = item
    }

    /// Completed fraction in 0...1.
    public var fraction: Double { total > 0 ? Double(completed) / Double(total) : 1 }
}

/// Receives progress reports; called on the building thread.
public typealias ProgressHandler = (BuildProgress) -> Void
