// Activation memory planning: values whose lifetimes do not overlap share a buffer.
import TLLMModel

/// Assigns every graph value a buffer slot so that no two live values share one.
///
/// Invariant: an op's output never shares a slot with any of its inputs (outputs are assigned
/// before the op's dying inputs are released), so kernels never alias.
struct ActivationPlan {
    /// Slot of each value (-1 for values no op produces).
    let slotOfValue: [Int]
    /// Widest value assigned to each slot.
    let slotWidths: [Int]

    init(_ graph: Graph) {
        let lastUse = graph.lastUses()
        var slotOfValue = [Int](repeating: -1, count: graph.values.count)
        var widths: [Int] = []
        var free: [Int] = []
        for (index, op) in graph.ops.enumerated() {
            let width = graph.values[op.output].width
            // Best fit among free slots: the narrowest that is wide enough, else widen the widest.
            let fitting = free.filter { widths[$0] >= width }.min { widths[$0] < widths[$1] }
            let slot: Int
            if let fitting {
                slot = fitting
            } else if let widest = free.max(by: { widths[$0] < widths[$1] }) {
                slot = widest
                widths[slot] = width
            } else {
                slot = widths.count
                widths.append(width)
            }
            free.removeAll { $0 == slot }
            slotOfValue[op.output] = slot
            for input in Set(op.inputs) where lastUse[input] == index { free.append(slotOfValue[input]) }
            if lastUse[op.output] < 0 { free.append(slot) }  // produced but never read
        }
        self.slotOfValue = slotOfValue
        self.slotWidths = widths
    }
}
