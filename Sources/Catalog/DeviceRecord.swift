import GatewayCore

/// Everything the registry knows about one device: a row of the `devices` table.
public struct DeviceRecord: Sendable, Hashable {
    /// Device identifier (primary key).
    public var id: String
    /// Earliest receive time seen (Unix ms).
    public var firstSeenMs: Int64
    /// Latest receive time seen (Unix ms). Never moves backwards, even if the wall clock does.
    public var lastSeenMs: Int64
    /// Profile that decoded the latest message.
    public var profileID: String
    /// Its version.
    public var profileVersion: Int
    /// Device family from the profile.
    public var family: String
    /// Expected seconds between reports, when a profile gave one.
    public var reportIntervalSeconds: Int?
    /// Latest battery level reported.
    public var battery: DeviceStatus.Battery?
    /// Latest LTE RSRP in dBm.
    public var rsrpDbm: Double?
    /// Latest LTE SINR in dB.
    public var sinrDb: Double?
    /// Latest CSQ-derived signal in dBm.
    public var csqDbm: Double?
    /// Latest NB-IoT coverage enhancement level.
    public var ecl: Double?
    /// Descriptive strings (IMEI, ICCID, firmware, model), merged key by key.
    public var attributes: [String: String]
    /// Statuses applied since the device was first seen.
    public var messageCount: Int64
    /// State as of the latest `apply` or `sweep`.
    public var state: DeviceState
    /// When `state` last changed (Unix ms); the first-seen time for a device that never changed.
    public var stateChangedMs: Int64

    /// Creates a record.
    public init(
        id: String, firstSeenMs: Int64, lastSeenMs: Int64, profileID: String, profileVersion: Int, family: String,
        reportIntervalSeconds: Int? = nil, battery: DeviceStatus.Battery? = nil, rsrpDbm: Double? = nil,
        sinrDb: Double? = nil, csqDbm: Double? = nil, ecl: Double? = nil, attributes: [String: String] = [:],
        messageCount: Int64 = 0, state: DeviceState = .online, stateChangedMs: Int64? = nil
    ) {
        self.id = id
        self.firstSeenMs = firstSeenMs
        self.lastSeenMs = lastSeenMs
        self.profileID = profileID
        self.profileVersion = profileVersion
        self.family = family
        self.reportIntervalSeconds = reportIntervalSeconds
        self.battery = battery
        self.rsrpDbm = rsrpDbm
        self.sinrDb = sinrDb
        self.csqDbm = csqDbm
        self.ecl = ecl
        self.attributes = attributes
        self.messageCount = messageCount
        self.state = state
        self.stateChangedMs = stateChangedMs ?? firstSeenMs
    }

    /// A new record from a device's first status: online, one message.
    init(first status: DeviceStatus) {
        self.init(
            id: status.device, firstSeenMs: status.seenMs, lastSeenMs: status.seenMs, profileID: status.profileID,
            profileVersion: status.profileVersion, family: status.family, reportIntervalSeconds: status.reportIntervalSeconds,
            battery: status.battery, rsrpDbm: status.rsrpDbm, sinrDb: status.sinrDb, csqDbm: status.csqDbm, ecl: status.ecl,
            attributes: status.attributes, messageCount: 1, state: .online, stateChangedMs: status.seenMs
        )
    }

    /// Merges a later status: fields the status carries replace the stored ones, absent (nil) fields keep their
    /// previous values, attributes merge key by key. Identity fields (profile, family) always come from the status.
    mutating func merge(_ status: DeviceStatus) {
        firstSeenMs = min(firstSeenMs, status.seenMs)
        lastSeenMs = max(lastSeenMs, status.seenMs)
        profileID = status.profileID
        profileVersion = status.profileVersion
        family = status.family
        if let v = status.reportIntervalSeconds { reportIntervalSeconds = v }
        if let v = status.battery { battery = v }
        if let v = status.rsrpDbm { rsrpDbm = v }
        if let v = status.sinrDb { sinrDb = v }
        if let v = status.csqDbm { csqDbm = v }
        if let v = status.ecl { ecl = v }
        if !status.attributes.isEmpty { attributes.merge(status.attributes) { _, new in new } }
        messageCount += 1
    }
}

/// Device counts by state.
public struct DeviceSummary: Sendable, Hashable {
    /// All known devices.
    public var total: Int
    /// Devices whose state is `online`.
    public var online: Int
    /// Devices whose state is `offline`.
    public var offline: Int

    /// Creates a summary.
    public init(total: Int, online: Int, offline: Int) {
        self.total = total
        self.online = online
        self.offline = offline
    }
}
