import GatewayCore
import Logging
import SQLite
import Synchronization

/// The device registry: what each device last said about itself, and whether it is online.
///
/// At 100k messages per second one SQLite write per message is impossible, so the table lives in memory:
/// `apply` merges statuses and marks rows dirty, and `flush` (which the gateway calls about once a second) writes
/// all dirty rows in one transaction. Rows are loaded at open. A crash loses at most the statuses applied since the
/// last successful flush; call `flush()` before dropping the registry.
///
/// ## Online and offline
/// A device is offline when `nowMs - lastSeenMs > max(reportInterval × graceFactor, minimumOfflineSeconds)`, with
/// the configured default interval for devices whose profile gives none. `sweep(nowMs:)` applies that rule; `apply`
/// brings an offline device back online as soon as it is heard from.
///
/// ## Wall-clock jumps
/// Times are the caller's wall clock (`DeviceStatus.seenMs`, the `nowMs` given to `sweep`). `lastSeenMs` never
/// decreases, so after the clock jumps **backwards** `nowMs - lastSeenMs` only gets smaller: a backwards jump never
/// marks a device offline (it can delay detecting a silent device by up to the size of the jump), and `sweep`
/// never brings a device online (only a status does). A **forward** jump larger than a threshold marks silent
/// devices offline at the next sweep; each comes back online with its next message.
///
/// ## Thread safety
/// `Sendable`; all methods are synchronous and may be called from any thread. The in-memory table and the SQLite
/// connection sit behind two separate `Mutex`es, so `apply` never waits for disk I/O: `flush` copies the dirty rows
/// under the table lock, then writes them holding only the database lock. `flush` blocks on disk, so call it from
/// a thread that may block (not the cooperative pool).
public final class DeviceRegistry: Sendable {
    /// Offline rule settings.
    public struct Configuration: Sendable, Hashable {
        /// A device is overdue after `reportInterval × graceFactor`. Default 2.5: two missed reports plus slack.
        public var graceFactor: Double
        /// Never call a device offline sooner than this after its last message. Default 120 s.
        public var minimumOfflineSeconds: Int
        /// Report interval assumed for devices whose profile gives none. Default 3600 s.
        public var defaultReportIntervalSeconds: Int

        /// Creates a configuration.
        public init(graceFactor: Double = 2.5, minimumOfflineSeconds: Int = 120, defaultReportIntervalSeconds: Int = 3_600) {
            self.graceFactor = graceFactor
            self.minimumOfflineSeconds = minimumOfflineSeconds
            self.defaultReportIntervalSeconds = defaultReportIntervalSeconds
        }

        /// Milliseconds of silence after which a device with this report interval counts as offline.
        public func offlineAfterMs(reportIntervalSeconds: Int?) -> Int64 {
            let interval = Double(reportIntervalSeconds ?? defaultReportIntervalSeconds)
            let overdueMs = Int64(clamping: Int(exactly: (interval * graceFactor * 1000).rounded()) ?? Int.max)
            return max(overdueMs, Int64(minimumOfflineSeconds) * 1000)
        }
    }

    /// The in-memory table.
    private struct Table {
        var records: [String: DeviceRecord] = [:]
        /// Devices changed since their last successful flush.
        var dirty: Set<String> = []
        /// Transitions not yet returned by `sweep`. At most one per device: once online, a device goes offline
        /// only in a sweep, which empties this list.
        var pendingChanges: [DeviceStateChange] = []
        var onlineCount = 0
    }

    /// The connection and its reused statement. Not Sendable; only touched inside `database.withLock`.
    private struct Database {
        let connection: SQLiteConnection
        let upsert: SQLiteStatement
    }

    private let table: Mutex<Table>
    private let database: Mutex<Database>
    /// The offline rule in use.
    public let configuration: Configuration
    private let logger: Logger

    /// Opens (creating and migrating if needed) the `devices` table in the database at `path` and loads every row.
    ///
    /// - Parameters:
    ///   - path: database file, normally `<data dir>/catalog.db` (`CatalogSchema.filename`); `:memory:` for a
    ///     private in-memory database.
    ///   - configuration: the offline rule.
    ///   - logger: used at `info` for open, `debug` for flushes.
    /// - Throws: `SQLiteError` when the file cannot be opened or read, `CatalogError` for a newer schema or a row
    ///   this build cannot read.
    public init(path: String, configuration: Configuration = Configuration(), logger: Logger) throws {
        let connection = try SQLiteConnection(path == ":memory:" ? .memory : .path(path))
        try CatalogSchema.migrate(connection)
        var table = Table()
        let select = try connection.prepare("SELECT \(Self.columns) FROM devices")
        for record in try select.rows({ try Self.record(from: $0) }) {
            table.records[record.id] = record
            if record.state == .online { table.onlineCount += 1 }
        }
        let upsert = try connection.prepare(Self.upsertSQL, persistent: true)
        let loaded = table.records.count
        self.configuration = configuration
        self.logger = logger
        self.table = Mutex(table)
        self.database = Mutex(Database(connection: connection, upsert: upsert))
        logger.info("Device registry opened", metadata: ["catalog.path": "\(path)", "catalog.devices": "\(loaded)"])
    }

    // MARK: Writing

    /// Merges statuses into the table and marks their devices dirty. Returns the offline → online transitions
    /// they caused (also returned again by the next `sweep`).
    ///
    /// A device seen for the first time starts online and is not a transition. Per device, fields a status carries
    /// replace the stored ones, nil fields keep their previous values, attributes merge key by key, the message
    /// count grows by one, and `lastSeenMs` becomes the latest `seenMs` so far. Any status brings an offline device
    /// back online: the device was heard from.
    @discardableResult
    public func apply(_ statuses: [DeviceStatus]) -> [DeviceStateChange] {
        if statuses.isEmpty { return [] }
        return table.withLock { table in
            var changes: [DeviceStateChange] = []
            for status in statuses {
                table.dirty.insert(status.device)
                guard var record = table.records[status.device] else {
                    table.records[status.device] = DeviceRecord(first: status)
                    table.onlineCount += 1
                    continue
                }
                record.merge(status)
                if record.state == .offline {
                    record.state = .online
                    record.stateChangedMs = status.seenMs
                    table.onlineCount += 1
                    let change = DeviceStateChange(device: record.id, from: .offline, to: .online, atMs: status.seenMs)
                    changes.append(change)
                    table.pendingChanges.append(change)
                }
                table.records[status.device] = record
            }
            return changes
        }
    }

    /// Applies a presence report from a carrier platform (CTWing online/offline, OneNET login/logout) to a known
    /// device: online brings it back (and counts as seen), offline takes it offline now instead of waiting for the
    /// silence timeout. Returns the transition, or nil when there is none or the device is unknown (a presence
    /// report carries no profile, so it cannot create a device).
    @discardableResult
    public func reportPresence(device: String, online: Bool, atMs: Int64) -> DeviceStateChange? {
        table.withLock { table in
            guard var record = table.records[device] else { return nil }
            let target: DeviceState = online ? .online : .offline
            if online { record.lastSeenMs = max(record.lastSeenMs, atMs) }
            guard record.state != target else {
                table.records[device] = record
                return nil
            }
            record.state = target
            record.stateChangedMs = atMs
            table.onlineCount += online ? 1 : -1
            table.records[device] = record
            table.dirty.insert(device)
            let change = DeviceStateChange(device: device, from: online ? .offline : .online, to: target, atMs: atMs)
            table.pendingChanges.append(change)
            return change
        }
    }

    /// Marks online devices that have been silent too long as offline, and returns every transition since the
    /// previous sweep: the offline → online ones `apply` reported in the meantime, then the new online → offline
    /// ones (sorted by device). Forward these; a caller that forwards from `sweep` can ignore `apply`'s result.
    ///
    /// - Parameter nowMs: the caller's wall clock (Unix ms). Devices whose `lastSeenMs` is after `nowMs` (the clock
    ///   went backwards) are never marked offline.
    public func sweep(nowMs: Int64) -> [DeviceStateChange] {
        let configuration = self.configuration
        return table.withLock { table in
            var changes = table.pendingChanges
            table.pendingChanges = []
            var wentOffline: [DeviceStateChange] = []
            var index = table.records.values.startIndex
            while index != table.records.values.endIndex {
                let record = table.records.values[index]
                if record.state == .online,
                   nowMs - record.lastSeenMs > configuration.offlineAfterMs(reportIntervalSeconds: record.reportIntervalSeconds)
                {
                    table.records.values[index].state = .offline
                    table.records.values[index].stateChangedMs = nowMs
                    table.onlineCount -= 1
                    table.dirty.insert(record.id)
                    wentOffline.append(DeviceStateChange(device: record.id, from: .online, to: .offline, atMs: nowMs))
                }
                table.records.values.formIndex(after: &index)
            }
            wentOffline.sort { $0.device < $1.device }
            changes.append(contentsOf: wentOffline)
            return changes
        }
    }

    /// Writes every dirty row in one transaction (UPSERT) and returns how many it wrote.
    ///
    /// Rows changed while a flush is writing stay dirty for the next one. When the write fails, the rows are marked
    /// dirty again and the error is thrown, so nothing is lost while the process lives.
    @discardableResult
    public func flush() throws -> Int {
        try database.withLock { database in
            let rows: [DeviceRecord] = table.withLock { table in
                let rows = table.dirty.compactMap { table.records[$0] }
                table.dirty.removeAll(keepingCapacity: true)
                return rows
            }
            if rows.isEmpty { return 0 }
            do {
                try database.connection.transaction {
                    for record in rows {
                        try Self.bind(record, to: database.upsert)
                        try database.upsert.run()
                    }
                }
            } catch {
                table.withLock { table in table.dirty.formUnion(rows.lazy.map(\.id)) }
                throw error
            }
            logger.debug("Device registry flushed", metadata: ["catalog.rows": "\(rows.count)"])
            return rows.count
        }
    }

    // MARK: Reading

    /// Devices matching every given filter, ordered by id, paged by `offset` and `limit`. `state` is the state as
    /// of the latest `apply` or `sweep`.
    public func devices(
        state: DeviceState? = nil, profileID: String? = nil, family: String? = nil, limit: Int = .max, offset: Int = 0
    ) -> [DeviceRecord] {
        // Copy matches under the lock, sort outside it, so `apply` waits only for the copy.
        var matches = table.withLock { table in
            table.records.values.filter { record in
                (state == nil || record.state == state) && (profileID == nil || record.profileID == profileID)
                    && (family == nil || record.family == family)
            }
        }
        matches.sort { $0.id < $1.id }
        let start = min(max(offset, 0), matches.count)
        let end = start + min(max(limit, 0), matches.count - start)
        return Array(matches[start..<end])
    }

    /// One device, or nil when never seen.
    public func device(id: String) -> DeviceRecord? {
        table.withLock { $0.records[id] }
    }

    /// Number of known devices.
    public var count: Int {
        table.withLock { $0.records.count }
    }

    /// Devices by state, as of the latest `apply` or `sweep`.
    public var summary: DeviceSummary {
        table.withLock { table in
            DeviceSummary(total: table.records.count, online: table.onlineCount, offline: table.records.count - table.onlineCount)
        }
    }

    /// Devices changed since the last successful flush.
    public var dirtyCount: Int {
        table.withLock { $0.dirty.count }
    }

    // MARK: Rows

    private static let columns = """
        id, first_seen_ms, last_seen_ms, profile_id, profile_version, family, report_interval_s, battery_value, \
        battery_unit, rsrp_dbm, sinr_db, csq_dbm, ecl, attributes, message_count, state, state_changed_ms
        """

    private static let upsertSQL = """
        INSERT INTO devices (\(columns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
        ON CONFLICT (id) DO UPDATE SET
            first_seen_ms = excluded.first_seen_ms, last_seen_ms = excluded.last_seen_ms,
            profile_id = excluded.profile_id, profile_version = excluded.profile_version, family = excluded.family,
            report_interval_s = excluded.report_interval_s, battery_value = excluded.battery_value,
            battery_unit = excluded.battery_unit, rsrp_dbm = excluded.rsrp_dbm, sinr_db = excluded.sinr_db,
            csq_dbm = excluded.csq_dbm, ecl = excluded.ecl, attributes = excluded.attributes,
            message_count = excluded.message_count, state = excluded.state, state_changed_ms = excluded.state_changed_ms
        """

    private static func bind(_ record: DeviceRecord, to statement: SQLiteStatement) throws(SQLiteError) {
        try statement.bind(record.id, at: 1)
        try statement.bind(record.firstSeenMs, at: 2)
        try statement.bind(record.lastSeenMs, at: 3)
        try statement.bind(record.profileID, at: 4)
        try statement.bind(record.profileVersion, at: 5)
        try statement.bind(record.family, at: 6)
        try statement.bind(record.reportIntervalSeconds, at: 7)
        try statement.bind(record.battery?.value, at: 8)
        try statement.bind(record.battery?.unit, at: 9)
        try statement.bind(record.rsrpDbm, at: 10)
        try statement.bind(record.sinrDb, at: 11)
        try statement.bind(record.csqDbm, at: 12)
        try statement.bind(record.ecl, at: 13)
        try statement.bind(AttributesJSON.encode(record.attributes), at: 14)
        try statement.bind(record.messageCount, at: 15)
        try statement.bind(record.state.rawValue, at: 16)
        try statement.bind(record.stateChangedMs, at: 17)
    }

    private static func record(from row: SQLiteStatement) throws -> DeviceRecord {
        let id = row.string(at: 0)
        guard let state = DeviceState(rawValue: row.string(at: 15)) else {
            throw CatalogError.invalidRow(table: "devices", key: id, detail: "state '\(row.string(at: 15))'")
        }
        guard let attributes = AttributesJSON.decode(row.string(at: 13)) else {
            throw CatalogError.invalidRow(table: "devices", key: id, detail: "attributes are not a JSON object of strings")
        }
        var battery: DeviceStatus.Battery?
        if let value = row.doubleOrNil(at: 7) {
            battery = DeviceStatus.Battery(value: value, unit: row.string(at: 8))
        }
        return DeviceRecord(
            id: id, firstSeenMs: row.int64(at: 1), lastSeenMs: row.int64(at: 2), profileID: row.string(at: 3),
            profileVersion: row.int(at: 4), family: row.string(at: 5), reportIntervalSeconds: row.intOrNil(at: 6),
            battery: battery, rsrpDbm: row.doubleOrNil(at: 9), sinrDb: row.doubleOrNil(at: 10),
            csqDbm: row.doubleOrNil(at: 11), ecl: row.doubleOrNil(at: 12), attributes: attributes,
            messageCount: row.int64(at: 14), state: state, stateChangedMs: row.int64(at: 16)
        )
    }
}
