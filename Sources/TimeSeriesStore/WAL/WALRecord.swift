/// A new series as the WAL records it: its dense id and the names the catalog keys it by.
public typealias WALSeriesDefinition = (id: SeriesID, device: String, metric: String, unit: String)

/// One record replayed from the WAL: a batch exactly as one `WALWriter.append` call wrote it (large batches are split
/// into several records of the same kind).
public enum WALRecord: Sendable {
    /// Points in append order.
    case points([(SeriesID, Point)])
    /// New series definitions, so recovery can rebuild the series map for series created after the last catalog write.
    case series([WALSeriesDefinition])
}
