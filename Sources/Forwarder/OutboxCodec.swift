/// The payload of one outbox row: a run of rollup points of one window size, or a run of events
/// (docs/formats/outbox.md).
///
/// ```
/// rollup row: 0x01 │ n <uvarint> │ n × ( device <str> │ metric <str> │ unit <str> │ start <zigzag> │ count <uvarint> │
///                                        min <f64le> │ max <f64le> │ sum <f64le> │ last <f64le> )
/// event row:  0x02 │ n <uvarint> │ n × ( kind <u8> │ key <str> │ time <zigzag> │ device <str> │ rule <str> │
///                                        severity <str> │ state <str> │ value <f64le> │ details <str> )
/// <str> = length <uvarint> │ UTF-8 bytes
/// ```
public enum OutboxCodec {
    static let rollupTag: UInt8 = 1
    static let eventTag: UInt8 = 2

    /// Encodes rollup points (all of one window size) as one row body.
    public static func encode(_ points: some Collection<RollupPoint>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 + points.count * 72)
        out.append(rollupTag)
        ByteCoding.appendVarint(UInt64(points.count), to: &out)
        for p in points {
            ByteCoding.appendString(p.device, to: &out)
            ByteCoding.appendString(p.metric, to: &out)
            ByteCoding.appendString(p.unit, to: &out)
            ByteCoding.appendSigned(p.startMs, to: &out)
            ByteCoding.appendVarint(UInt64(max(0, p.count)), to: &out)
            ByteCoding.appendDouble(p.min, to: &out)
            ByteCoding.appendDouble(p.max, to: &out)
            ByteCoding.appendDouble(p.sum, to: &out)
            ByteCoding.appendDouble(p.last, to: &out)
        }
        return out
    }

    /// Encodes events as one row body.
    public static func encode(_ events: some Collection<UplinkEvent>) -> [UInt8] {
        var out: [UInt8] = [eventTag]
        ByteCoding.appendVarint(UInt64(events.count), to: &out)
        for e in events {
            out.append(e.kind == .alert ? 0 : 1)
            ByteCoding.appendString(e.key, to: &out)
            ByteCoding.appendSigned(e.timeMs, to: &out)
            ByteCoding.appendString(e.device, to: &out)
            ByteCoding.appendString(e.rule, to: &out)
            ByteCoding.appendString(e.severity, to: &out)
            ByteCoding.appendString(e.state, to: &out)
            ByteCoding.appendDouble(e.value, to: &out)
            ByteCoding.appendString(e.detailsJSON, to: &out)
        }
        return out
    }

    /// Decodes a rollup row (window size from its stream). Nil when the bytes are not a well-formed rollup row.
    public static func decodeRollups(_ body: [UInt8], windowMs: Int64) -> [RollupPoint]? {
        var out: [RollupPoint] = []
        let ok = visitRollups(body) { v in
            out.append(RollupPoint(device: v.string(v.device), metric: v.string(v.metric), unit: v.string(v.unit), windowMs: windowMs, startMs: v.startMs,
                                   count: v.count, min: v.min, max: v.max, sum: v.sum, last: v.last))
        }
        return ok ? out : nil
    }

    /// One rollup point as byte ranges into the row: renderers copy names without building `String`s.
    struct RollupView {
        let bytes: [UInt8]
        var device: Range<Int>
        var metric: Range<Int>
        var unit: Range<Int>
        var startMs: Int64
        var count: Int
        var min: Double
        var max: Double
        var sum: Double
        var last: Double

        func string(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
    }

    /// Calls `body` for every point of a rollup row; false if the row is malformed (points before the damage
    /// were visited).
    static func visitRollups(_ bytes: [UInt8], _ body: (RollupView) -> Void) -> Bool {
        var r = ByteReader(bytes)
        guard !bytes.isEmpty, bytes[0] == rollupTag else { return false }
        r.skip(1)
        guard let n = r.varint() else { return false }
        for _ in 0..<n {
            guard let d = r.stringRange(), let m = r.stringRange(), let u = r.stringRange(), let start = r.signed(), let count = r.varint(),
                  let mn = r.double(), let mx = r.double(), let sum = r.double(), let last = r.double() else { return false }
            body(RollupView(bytes: bytes, device: d, metric: m, unit: u, startMs: start, count: Int(clamping: count), min: mn, max: mx, sum: sum, last: last))
        }
        return true
    }

    /// Decodes an event row. Nil when malformed.
    public static func decodeEvents(_ body: [UInt8]) -> [UplinkEvent]? {
        var r = ByteReader(body)
        guard !body.isEmpty, body[0] == eventTag else { return nil }
        r.skip(1)
        guard let n = r.varint() else { return nil }
        var out: [UplinkEvent] = []
        for _ in 0..<n {
            guard let kindByte = r.byte(), let key = r.string(), let time = r.signed(), let device = r.string(), let rule = r.string(),
                  let severity = r.string(), let state = r.string(), let value = r.double(), let details = r.string() else { return nil }
            out.append(UplinkEvent(kind: kindByte == 0 ? .alert : .status, key: key, timeMs: time, device: device, rule: rule, severity: severity,
                                   state: state, value: value, detailsJSON: details))
        }
        return out
    }
}

extension ByteReader {
    mutating func byte() -> UInt8? {
        guard !isAtEnd else { return nil }
        let b = bytes[offset]
        skip(1)
        return b
    }
}
