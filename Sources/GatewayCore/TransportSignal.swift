/// The radio values a transport may put into `RawMessage.attributes`, normalised: RSRP in dBm (a positive
/// magnitude such as CTWing's `114` means -114 dBm), SINR in dB, the NB-IoT coverage enhancement level 0...2, and
/// CSQ converted to dBm.
public struct TransportSignal: Sendable, Hashable {
    /// Attribute keys, as transports write them.
    public static let rsrpKey = "signal.rsrp", sinrKey = "signal.sinr", eclKey = "signal.ecl", csqKey = "signal.csq"

    /// RSRP in dBm, when plausible (-156...-31 after the sign fix).
    public var rsrpDbm: Double?
    /// SINR in dB, when plausible (-30...50).
    public var sinrDb: Double?
    /// Coverage enhancement level, when 0, 1 or 2.
    public var ecl: Double?
    /// CSQ in dBm (`DeviceStatus.dbm(fromCSQ:)`), when CSQ was 0...31.
    public var csqDbm: Double?

    /// Reads and normalises the `signal.*` attributes.
    public init(_ attributes: [String: String]) {
        func number(_ key: String) -> Double? { attributes[key].flatMap { Double($0) }.flatMap { $0.isFinite ? $0 : nil } }
        if let r = number(Self.rsrpKey) {
            let dbm = r > 0 ? -r : r
            if (-156 ... -31).contains(dbm) { rsrpDbm = dbm }
        }
        if let v = number(Self.sinrKey), (-30...50).contains(v) { sinrDb = v }
        if let v = number(Self.eclKey), [0, 1, 2].contains(v) { ecl = v }
        if let v = number(Self.csqKey) { csqDbm = DeviceStatus.dbm(fromCSQ: v) }
    }

    /// True when no attribute gave a usable value.
    public var isEmpty: Bool { rsrpDbm == nil && sinrDb == nil && ecl == nil && csqDbm == nil }

    /// Sets the fields `status` does not have yet.
    public func fill(_ status: inout DeviceStatus) {
        if status.rsrpDbm == nil { status.rsrpDbm = rsrpDbm }
        if status.sinrDb == nil { status.sinrDb = sinrDb }
        if status.ecl == nil { status.ecl = ecl }
        if status.csqDbm == nil { status.csqDbm = csqDbm }
    }
}
