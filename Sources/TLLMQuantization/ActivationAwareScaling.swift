// AWQ (activation-aware weight quantization): per input channel scales s that protect the weights
// multiplying large activations. W ← W·diag(s) before int4 quantization, and 1/s is folded into
// whatever produced the input (a norm's weight, the `up` rows of SwiGLU, the `v` rows before
// attention), so the network computes the same function and no op is added at run time.
import TLLMBackend
import TLLMKernels
import TLLMModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ActivationAwareScaling {
    /// Where 1/s goes.
    enum Fold {
        /// A norm's weight (and bias): y = norm(x) ⊙ (w / s).
        case norm(weight: String, bias: String?)
        /// Rows of the linear producing the input through a channel-preserving op (SwiGLU's up,
        /// or v through attention, where `group` query heads share each kv row of `headDim`).
        case rows(weight: String, bias: String?, group: Int, headDim: Int)
    }

    /// Linears that read one value and share its scales.
    struct Group {
        var input: ValueID
        var linears: [String]
        var fold: Fold
        var scope: String
    }

    let graph: Graph
    let roles: MatrixRoles
    let groupSize: Int
    /// α grid: s = mean|x|^α for α = 0, 1/grid, …, (grid − 1)/grid (α = 0 is plain quantization).
    static let grid = 10

    init(graph: Graph, roles: MatrixRoles, groupSize: Int) {
        self.graph = graph
        self.roles = roles
        self.groupSize = groupSize
    }

    /// The groups whose scales can be folded away exactly.
    static func groups(_ graph: Graph, roles: MatrixRoles) -> [Group] {
        var readers = [[Int]](repeating: [], count: graph.values.count)
        var producer = [Int?](repeating: nil, count: graph.values.count)
        for (i, op) in graph.ops.enumerated() {
            for v in op.inputs { readers[v].append(i) }
            producer[op.output] = i
        }
        func single(_ name: String) -> Bool { roles.uses[name] == 1 && !roles.isTable(name) }
        var groups: [Group] = []
        for value in graph.values.indices where !readers[value].isEmpty {
            var linears: [String] = []
            for r in readers[value] {
                guard case .linear(let w, _) = graph.ops[r].kind, single(w) else { linears = []; break }
                linears.append(w)
            }
            guard !linears.isEmpty, let p = producer[value] else { continue }
            let op = graph.ops[p]
            let fold: Fold
            switch op.kind {
            case .rmsNorm(let w, _) where roles.uses[w] == 1:
                fold = .norm(weight: w, bias: nil)
            case .layerNorm(let w, let b, _) where roles.uses[w] == 1 && roles.uses[b] == 1:
                fold = .norm(weight: w, bias: b)
            case .mul where op.inputs.count == 2:
                guard let up = producer[op.inputs[1]], readers[op.inputs[1]] == [p],
                      case .linear(let w, let b) = graph.ops[up].kind, single(w) else { continue }
                fold = .rows(weight: w, bias: b, group: 1, headDim: graph.values[value].width)
            case .attention(_, let heads, let kvHeads, let headDim) where op.inputs.count == 3:
                guard let v = producer[op.inputs[2]], readers[op.inputs[2]] == [p],
                      case .linear(let w, let b) = graph.ops[v].kind, single(w) else { continue }
                fold = .rows(weight: w, bias: b, group: heads / kvHeads, headDim: headDim)
            default:
                continue
            }
            groups.append(Group(input: value, linears: linears, fold: fold, scope: graph.ops[readers[value][0]].scope))
        }
        return groups
    }

    /// Searches α per group on the calibration samples, scales the float weights in `floats`
    /// (loading them from `weights` as needed) and folds 1/s; returns log lines.
    mutating func run(weights: [String: Tensor], activations: CalibrationActivations,
                      floats: inout [String: [Float]], progress: ProgressHandler?) -> [String] {
        let groups = Self.groups(graph, roles: roles)
        var scaled = 0, skipped = 0
        var baseline = 0.0, best = 0.0
        for (gi, group) in groups.enumerated() {
            progress?(BuildProgress(phase: "searching AWQ scales", completed: gi, total: groups.count, item: group.scope))
            let width = graph.values[group.input].width
            guard let x = activations.samples[group.input], x.count >= width, width % groupSize == 0 else { skipped += 1; continue }
            for name in group.linears where floats[name] == nil { floats[name] = weights[name]!.floats() }
            let mean = channelMeans(x, width: width, fold: group.fold)
            let samples = x.count / width
            var losses: [Double] = []
            var scales: [[Float]] = []
            for a in 0..<Self.grid {
                let s = Self.scales(mean, alpha: Double(a) / Double(Self.grid))
                var loss = 0.0
                for name in group.linears {
                    let rows = weights[name]!.shape[0]
                    loss += floats[name]!.withUnsafeBufferPointer { w in
                        s.withUnsafeBufferPointer { s in
                            x.withUnsafeBufferPointer { x in
                                tllm_awq_loss(w.baseAddress, Int64(rows), Int64(width), s.baseAddress, Int64(groupSize),
                                              x.baseAddress, Int64(samples))
                            }
                        }
                    }
                }
                losses.append(loss)
                scales.append(s)
            }
            let choice = losses.indices.min { losses[$0] < losses[$1] }!
            baseline += losses[0]
            best += losses[choice]
            guard choice > 0 else { continue }
            scaled += 1
            apply(scales[choice], to: group, weights: weights, floats: &floats)
        }
        progress?(BuildProgress(phase: "searching AWQ scales", completed: groups.count, total: groups.count, item: "done"))
        let reduction = baseline > 0 ? Int(((1 - best / baseline) * 100).rounded()) : 0
        return ["AWQ: \(groups.count) groups on \(activations.tokens) calibration tokens, \(scaled) rescaled, \(skipped) without samples; "
                + "output error on the samples \(reduction)% lower than plain int4"]
    }

    /// Mean |x| per input channel; channels that must share a scale (query heads of one kv head)
    /// share their mean.
    private func channelMeans(_ x: [Float], width: Int, fold: Fold) -> [Float] {
        let n = x.count / width
        var mean = [Double](repeating: 0, count: width)
        for t in 0..<n { for k in 0..<width { mean[k] += Double(abs(x[t * width + k])) } }
        var out = mean.map { Float($0 / Double(n)) }
        if case let .rows(_, _, group, headDim) = fold, group > 1 {
            let heads = width / headDim
            for kv in 0..<(heads / group) {
                for d in 0..<headDim {
                    var sum: Float = 0
                    for h in kv * group ..< (kv + 1) * group { sum += out[h * headDim + d] }
                    for h in kv * group ..< (kv + 1) * group { out[h * headDim + d] = sum / Float(group) }
                }
            }
        }
        return out
    }

    /// s = mean^α, normalised so that max(s)·min(s) = 1 (AWQ's normalisation).
    static func scales(_ mean: [Float], alpha: Double) -> [Float] {
        let raw = mean.map { Float(pow(Double(max($0, 1e-4)), alpha)) }
        let norm = (raw.max()! * raw.min()!).squareRoot()
        return raw.map { $0 / norm }
    }

    private func apply(_ s: [Float], to group: Group, weights: [String: Tensor], floats: inout [String: [Float]]) {
        let width = s.count
        for name in group.linears {
            let rows = weights[name]!.shape[0]
            floats[name]!.withUnsafeMutableBufferPointer { w in
                s.withUnsafeBufferPointer { tllm_scale_columns(w.baseAddress, Int64(rows), Int64(width), $0.baseAddress) }
            }
        }
        switch group.fold {
        case let .norm(weight, bias):
            for name in [weight] + (bias.map { [$0] } ?? []) {
                var v = floats[name] ?? weights[name]!.floats()
                for k in 0..<width { v[k] /= s[k] }
                floats[name] = v
            }
        case let .rows(weight, bias, group, headDim):
            // Row j of the producer feeds channel j (and, through attention, the `group` query
            // heads that share its kv head): divide it by that channel's scale.
            let producerRows = weights[weight]!.shape[0], k = weights[weight]!.shape[1]
            let inverse = (0..<producerRows).map { j in 1 / s[(j / headDim) * group * headDim + j % headDim] }
            if floats[weight] == nil { floats[weight] = weights[weight]!.floats() }
            floats[weight]!.withUnsafeMutableBufferPointer { w in
                inverse.withUnsafeBufferPointer { tllm_scale_rows(w.baseAddress, Int64(producerRows), Int64(k), $0.baseAddress) }
            }
            if let bias {
                var b = floats[bias] ?? weights[bias]!.floats()
                for j in 0..<producerRows { b[j] *= inverse[j] }
                floats[bias] = b
            }
        }
    }
}
