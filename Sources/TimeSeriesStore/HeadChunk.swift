/// A series' unsealed points in one partition, as the queries see them. Out-of-order and duplicate times are
/// accepted on append and resolved when the chunk is sealed or read (the last write for a time wins).
struct HeadChunk: Sendable {
    var points: [Point]
    var sorted: Bool

    var count: Int { points.count }

    /// Points sorted by time, one per time: the last one appended wins.
    func resolved() -> [Point] {
        if sorted { return points }
        // Stable sort by time keeps append order among equal times; then keep the last of each run.
        let order = points.indices.sorted { points[$0].timeMs != points[$1].timeMs ? points[$0].timeMs < points[$1].timeMs : $0 < $1 }
        var out: [Point] = []
        out.reserveCapacity(order.count)
        for i in order {
            if let last = out.last, last.timeMs == points[i].timeMs {
                out[out.count - 1].value = points[i].value
            } else {
                out.append(points[i])
            }
        }
        return out
    }
}

/// The heads of one time partition: a flat array indexed by dense `SeriesID` (one 8-byte reference a series, no
/// hash table), each element the series' points in append order as one `[Point]` (one heap block, not two).
struct PartitionHeads: Sendable {
    private(set) var chunks: [[Point]] = []
    /// Series whose points were not appended in strictly ascending time (rare: late or duplicate samples).
    private(set) var unsorted: Set<SeriesID> = []
    /// Points held.
    private(set) var points = 0

    mutating func append(_ id: SeriesID, _ timeMs: Int64, _ value: Double) {
        let index = Int(id)
        if index >= chunks.count { chunks.append(contentsOf: repeatElement([], count: index + 1 - chunks.count)) }
        if let last = chunks[index].last, timeMs <= last.timeMs { unsorted.insert(id) }
        chunks[index].append(Point(timeMs: timeMs, value: value))
        points += 1
    }

    /// The series with points, ascending.
    var series: [SeriesID] {
        chunks.indices.compactMap { chunks[$0].isEmpty ? nil : SeriesID($0) }
    }

    /// The chunk of `id`, or nil when it has no points here.
    func chunk(_ id: SeriesID) -> HeadChunk? {
        let index = Int(id)
        guard index < chunks.count, !chunks[index].isEmpty else { return nil }
        return HeadChunk(points: chunks[index], sorted: !unsorted.contains(id))
    }

    /// Puts `older` (appended before every point here) in front: what a failed checkpoint hands back.
    mutating func prepend(_ older: PartitionHeads) {
        var merged = older
        for index in chunks.indices where !chunks[index].isEmpty {
            for p in chunks[index] { merged.append(SeriesID(index), p.timeMs, p.value) }
            if unsorted.contains(SeriesID(index)) { merged.unsorted.insert(SeriesID(index)) }
        }
        self = merged
    }
}
