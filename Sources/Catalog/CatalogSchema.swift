import SQLite

/// The catalog database (`catalog.db`): its file name, schema and migrations, in one place.
///
/// The schema version lives in `PRAGMA user_version`; `migrate` runs every step above the file's version in one
/// `BEGIN IMMEDIATE` transaction, so two connections opening the same file at once migrate it exactly once, and a
/// crash mid-migration leaves the old version intact. A file from a newer build is refused
/// (`CatalogError.schemaTooNew`). Full description with diagrams: `docs/formats/catalog.md`.
///
/// Version 1:
/// ```
/// devices                      one row per device; written by DeviceRegistry.flush() (UPSERT of dirty rows)
/// ┌───────────────────┬─────────┬──────────────────────────────────────────────────┐
/// │ id                │ TEXT PK │ device identifier (WITHOUT ROWID table)          │
/// │ first_seen_ms     │ INTEGER │ earliest receive time, Unix ms                   │
/// │ last_seen_ms      │ INTEGER │ latest receive time, Unix ms (never decreases)   │
/// │ profile_id        │ TEXT    │ profile that decoded the latest message          │
/// │ profile_version   │ INTEGER │                                                  │
/// │ family            │ TEXT    │ neuron | charger | farm                          │
/// │ report_interval_s │ INTEGER?│ NULL: the registry's configured default applies  │
/// │ battery_value     │ REAL?   │ with battery_unit (% or V)                       │
/// │ battery_unit      │ TEXT?   │                                                  │
/// │ rsrp_dbm          │ REAL?   │ LTE RSRP                                         │
/// │ sinr_db           │ REAL?   │ LTE SINR / SNR                                   │
/// │ csq_dbm           │ REAL?   │ -113 + 2·CSQ                                     │
/// │ ecl               │ REAL?   │ NB-IoT coverage enhancement level                │
/// │ attributes        │ TEXT    │ JSON object of strings (imei, iccid, firmware)   │
/// │ message_count     │ INTEGER │ statuses applied                                 │
/// │ state             │ TEXT    │ online | offline                                 │
/// │ state_changed_ms  │ INTEGER │ when state last changed, Unix ms                 │
/// └───────────────────┴─────────┴──────────────────────────────────────────────────┘
/// dead_letters                 one row per message that failed to decode; ids never reused (AUTOINCREMENT)
/// ┌───────────────────┬─────────┬──────────────────────────────────────────────────┐
/// │ id                │ INTEGER │ PK AUTOINCREMENT; insertion order = "newest"     │
/// │ received_ms       │ INTEGER │ RawMessage.receiveTimeMs                         │
/// │ transport         │ TEXT    │ mqtt | coap | udp | ctwing | onenet | http       │
/// │ topic             │ TEXT    │                                                  │
/// │ payload           │ BLOB    │ exact bytes as received                          │
/// │ attributes        │ TEXT    │ JSON object of strings                           │
/// │ reason            │ TEXT    │ DeadLetter.Reason raw value                      │
/// │ error             │ TEXT    │ decoder's error text                             │
/// │ profile_id        │ TEXT?   │ profile tried, if any                            │
/// │ profile_version   │ INTEGER?│                                                  │
/// │ status            │ TEXT    │ new | replayed | failed                          │
/// │ replay_attempts   │ INTEGER │                                                  │
/// │ replayed_ms       │ INTEGER?│ set by markReplayed                              │
/// │ replay_error      │ TEXT?   │ set by markReplayFailed                          │
/// └───────────────────┴─────────┴──────────────────────────────────────────────────┘
/// indexes: dead_letters(status, id), dead_letters(reason, id)
/// ```
public enum CatalogSchema {
    /// The database file name inside the data directory.
    public static let filename = "catalog.db"

    /// The schema version this build writes and reads.
    public static var currentVersion: Int { migrations.count }

    /// Migration steps; step `n` (0-based) takes the file from version `n` to `n + 1`. Append only: never edit a
    /// step that has shipped.
    static let migrations: [String] = [
        // 1: devices and dead letters.
        """
        CREATE TABLE devices (
            id                TEXT PRIMARY KEY NOT NULL,
            first_seen_ms     INTEGER NOT NULL,
            last_seen_ms      INTEGER NOT NULL,
            profile_id        TEXT NOT NULL,
            profile_version   INTEGER NOT NULL,
            family            TEXT NOT NULL,
            report_interval_s INTEGER,
            battery_value     REAL,
            battery_unit      TEXT,
            rsrp_dbm          REAL,
            sinr_db           REAL,
            csq_dbm           REAL,
            ecl               REAL,
            attributes        TEXT NOT NULL DEFAULT '{}',
            message_count     INTEGER NOT NULL DEFAULT 0,
            state             TEXT NOT NULL DEFAULT 'online' CHECK (state IN ('online', 'offline')),
            state_changed_ms  INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE dead_letters (
            id                INTEGER PRIMARY KEY AUTOINCREMENT,
            received_ms       INTEGER NOT NULL,
            transport         TEXT NOT NULL,
            topic             TEXT NOT NULL,
            payload           BLOB NOT NULL,
            attributes        TEXT NOT NULL DEFAULT '{}',
            reason            TEXT NOT NULL,
            error             TEXT NOT NULL,
            profile_id        TEXT,
            profile_version   INTEGER,
            status            TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'replayed', 'failed')),
            replay_attempts   INTEGER NOT NULL DEFAULT 0,
            replayed_ms       INTEGER,
            replay_error      TEXT
        );
        CREATE INDEX dead_letters_status_id ON dead_letters (status, id);
        CREATE INDEX dead_letters_reason_id ON dead_letters (reason, id);
        """,
    ]

    /// Brings the file up to `currentVersion`; returns the version it found.
    @discardableResult
    static func migrate(_ connection: SQLiteConnection) throws -> Int {
        try connection.transaction(.immediate) {
            let found = try connection.userVersion()
            guard found <= currentVersion else {
                throw CatalogError.schemaTooNew(found: found, supported: currentVersion)
            }
            for step in found..<currentVersion {
                try connection.execute(migrations[step])
            }
            if found < currentVersion { try connection.setUserVersion(currentVersion) }
            return found
        }
    }
}
