// Latency distributions: exact mean/min/max, percentiles from an HdrHistogram (3 significant digits).
import Histogram

/// Summary statistics of one latency metric, in milliseconds.
public struct LatencySummary: Sendable, Codable, Equatable {
    public var count: Int
    public var mean: Double
    public var median: Double
    public var p90: Double
    public var p95: Double
    public var p99: Double
    public var min: Double
    public var max: Double

    /// Summarizes `samples` (seconds). Percentiles come from an HdrHistogram recorded in
    /// microseconds, so they are within 0.1% of the exact order statistic (nearest rank).
    public init(seconds samples: [Double]) {
        count = samples.count
        guard !samples.isEmpty else {
            (mean, median, p90, p95, p99, min, max) = (0, 0, 0, 0, 0, 0, 0)
            return
        }
        var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        for s in samples { _ = histogram.record(UInt64((Swift.max(s, 0) * 1e6).rounded())) }
        func ms(_ p: Double) -> Double { Double(histogram.valueAtPercentile(p)) / 1000 }
        mean = samples.reduce(0, +) / Double(samples.count) * 1000
        median = ms(50)
        p90 = ms(90)
        p95 = ms(95)
        p99 = ms(99)
        min = (samples.min() ?? 0) * 1000
        max = (samples.max() ?? 0) * 1000
    }
}
