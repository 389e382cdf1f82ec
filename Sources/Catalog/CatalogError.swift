/// Catalog failures other than the database's own (`SQLiteError` passes through unchanged).
public enum CatalogError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file was written by a newer CityGate: its `PRAGMA user_version` is above what this build knows.
    /// Refusing is safer than running old code against a schema it does not understand.
    case schemaTooNew(found: Int, supported: Int)
    /// A stored row holds a value this build cannot read (an unknown reason, transport or state name).
    case invalidRow(table: String, key: String, detail: String)

    /// Human-readable text for logs.
    public var description: String {
        switch self {
        case .schemaTooNew(let found, let supported):
            "catalog schema version \(found) is newer than the supported version \(supported)"
        case .invalidRow(let table, let key, let detail):
            "invalid row \(key) in \(table): \(detail)"
        }
    }
}
