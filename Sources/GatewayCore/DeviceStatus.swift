/// What a message says about the device itself, beside its readings: the registry's input.
public struct DeviceStatus: Sendable, Hashable {
    /// Device identifier.
    public var device: String
    /// Profile that decoded the message.
    public var profileID: String
    /// Version of that profile.
    public var profileVersion: Int
    /// Device family from the profile (`neuron`, `charger`, `farm`).
    public var family: String
    /// Expected seconds between reports (from the profile), which drives online/offline.
    public var reportIntervalSeconds: Int?
    /// Battery level when the message carried one.
    public var battery: Battery?
    /// LTE RSRP in dBm.
    public var rsrpDbm: Double?
    /// LTE SINR (or SNR) in dB.
    public var sinrDb: Double?
    /// Signal strength derived from CSQ (dBm = -113 + 2 * CSQ).
    public var csqDbm: Double?
    /// NB-IoT coverage enhancement level (0, 1, 2).
    public var ecl: Double?
    /// Descriptive strings: IMEI, ICCID, firmware, model.
    public var attributes: [String: String]
    /// When the message arrived (Unix ms).
    public var seenMs: Int64

    /// Creates a status with only the identity filled in.
    public init(device: String, profileID: String, profileVersion: Int, family: String, reportIntervalSeconds: Int?, seenMs: Int64) {
        self.device = device
        self.profileID = profileID
        self.profileVersion = profileVersion
        self.family = family
        self.reportIntervalSeconds = reportIntervalSeconds
        self.attributes = [:]
        self.seenMs = seenMs
    }

    /// Signal strength in dBm from a modem's CSQ (3GPP TS 27.007: 0 is -113 dBm or less, 31 is -51 dBm or more,
    /// 2 dB per step); nil for 99 ("not known") and anything outside 0...31. The one CSQ conversion of the gateway:
    /// profile fields with `role: signal.csq` and transport-carried `signal.csq` attributes both use it.
    public static func dbm(fromCSQ csq: Double) -> Double? {
        guard csq >= 0, csq <= 31 else { return nil }
        return -113 + 2 * csq
    }

    /// A battery level, as the device reports it.
    public struct Battery: Sendable, Hashable {
        /// The level.
        public var value: Double
        /// `%` or `V`.
        public var unit: String
        /// Creates a battery level.
        public init(value: Double, unit: String) {
            self.value = value
            self.unit = unit
        }
    }
}
