/// A series' unsealed points in one partition, as two columns. Appends are O(1); out-of-order and duplicate
/// times are accepted and resolved when the chunk is sealed or read (the last write for a time wins).
struct HeadChunk: Sendable {
    var times: [Int64] = []
    var values: [Double] = []
    var sorted = true

    mutating func append(_ timeMs: Int64, _ value: Double) {
        if let last = times.last, timeMs <= last { sorted = false }
        times.append(timeMs)
        values.append(value)
    }

    var count: Int { times.count }

    /// Points sorted by time, one per time: the last one appended wins.
    func resolved() -> [Point] {
        if sorted { return (0..<times.count).map { Point(timeMs: times[$0], value: values[$0]) } }
        // Stable sort by time keeps append order among equal times; then keep the last of each run.
        let order = times.indices.sorted { times[$0] != times[$1] ? times[$0] < times[$1] : $0 < $1 }
        var out: [Point] = []
        out.reserveCapacity(order.count)
        for i in order {
            if let last = out.last, last.timeMs == times[i] {
                out[out.count - 1].value = values[i]
            } else {
                out.append(Point(timeMs: times[i], value: values[i]))
            }
        }
        return out
    }
}
