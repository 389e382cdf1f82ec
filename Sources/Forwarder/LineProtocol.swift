/// InfluxDB line protocol for the HTTP sink (accepted by VictoriaMetrics, InfluxDB 1.x/2.x and TDengine).
///
/// A rollup point becomes one line:
/// `<metric>,device=<d>,gateway=<g>,unit=<u>,window=<w> min=…,max=…,avg=…,sum=…,count=…,last=… <start ms>`
/// (tags sorted by key, an empty unit left out), so its series is (measurement, tags) and its time the window
/// start: a resend writes the same key. VictoriaMetrics names the series `<metric>_<field>`.
/// Alerts: `citygate_alert,device=…,gateway=…,rule=…,severity=…,state=… value=… <time>`; status changes:
/// `citygate_device_status,device=…,gateway=…,state=… value=1|0 <time>`.
///
/// Escaping: measurement names keep `[A-Za-z0-9_:]` and map everything else to `_`; in tag keys and values `,`,
/// `=`, space and `\` are escaped with a backslash and control characters become `_` (a line break would end the
/// line); an empty tag value is left out (the protocol does not allow it). Fields are floats, printed shortest
/// round-trip; integral values without a fraction.
public enum LineProtocol {
    /// Renders one point (tests, tools; the sink renders straight from the outbox bytes).
    public static func line(_ p: RollupPoint, gateway: String, fields: RollupFields = .all) -> String {
        var out: [UInt8] = []
        let body = OutboxCodec.encode([p])
        _ = appendRollups(body, window: Array(RollupWindow.label(p.windowMs).utf8), gateway: Array(gateway.utf8), fields: fields, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Renders one event.
    public static func line(_ e: UplinkEvent, gateway: String) -> String {
        var out: [UInt8] = []
        appendEvent(e, gateway: Array(gateway.utf8), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Most bytes one number takes (`-2.2250738585072014e-308`).
    static let maxNumberBytes = 25

    /// Most bytes the lines of a rollup row can take: names escaped (at most twice their bytes, and they are part
    /// of the row), the fixed text, six numbers and the timestamp per point. The row's point count is read from
    /// its header; nil when the header is malformed.
    static func rowBound(_ body: [UInt8], window: Int, gateway: Int) -> Int? {
        var r = ByteReader(body)
        guard !body.isEmpty, body[0] == OutboxCodec.rollupTag else { return nil }
        r.skip(1)
        guard let n = r.varint(), n <= UInt64(body.count) else { return nil }
        let perPoint = 2 * (gateway + window) + 48 + 48 + 6 * maxNumberBytes + 21 + 2
        return 2 * body.count + Int(n) * perPoint
    }

    /// Appends one line per point of a rollup row, with the chosen fields; false if the row is malformed (nothing
    /// is appended then).
    static func appendRollups(_ body: [UInt8], window: [UInt8], gateway: [UInt8], fields: RollupFields = .all, to out: inout [UInt8]) -> Bool {
        guard let bound = rowBound(body, window: window.count, gateway: gateway.count) else { return false }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: bound))
        let end = out.withUnsafeMutableBufferPointer { o in
            body.withUnsafeBufferPointer { b in
                window.withUnsafeBufferPointer { w in
                    gateway.withUnsafeBufferPointer { g in renderRollups(b, window: w, gateway: g, fields: fields, to: o.baseAddress! + start) }
                }
            }.map { $0 - o.baseAddress! }
        }
        out.removeLast(out.count - (end ?? start))
        return end != nil
    }

    /// Renders a rollup row at `out`, which must have room for `rowBound` bytes. Returns the end of what was
    /// written, or nil if the row is malformed. Reads the row in place: names are copied (escaped) straight from
    /// its bytes, numbers are formatted without building `String`s.
    static func renderRollups(_ body: UnsafeBufferPointer<UInt8>, window: UnsafeBufferPointer<UInt8>, gateway: UnsafeBufferPointer<UInt8>,
                              fields: RollupFields, to out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8>? {
        var r = RowReader(body)
        guard body.count > 0, body[0] == OutboxCodec.rollupTag else { return nil }
        r.offset = 1
        guard let n = r.varint() else { return nil }
        var p = out
        for _ in 0..<n {
            guard let device = r.string(), let metric = r.string(), let unit = r.string(), let start = r.signed(), let count = r.varint(),
                  let mn = r.double(), let mx = r.double(), let sum = r.double(), let last = r.double() else { return nil }
            p = writeMeasurement(metric, to: p)
            p = writeTag(",device=", device, to: p)
            p = writeTag(",gateway=", gateway, to: p)
            p = writeTag(",unit=", unit, to: p)
            p = writeTag(",window=", window, to: p)
            var separator = UInt8(ascii: " ")
            func field(_ name: StaticString, _ which: RollupFields, _ value: Double) {
                guard fields.contains(which) else { return }
                p.pointee = separator
                p += 1
                separator = UInt8(ascii: ",")
                p = write(name, to: p)
                p = writeNumber(value, to: p)
            }
            let c = Int64(clamping: count)
            field("min=", .min, mn)
            field("max=", .max, mx)
            field("avg=", .avg, c > 0 ? sum / Double(c) : 0)
            field("sum=", .sum, sum)
            if fields.contains(.count) {
                p.pointee = separator
                p += 1
                separator = UInt8(ascii: ",")
                p = write("count=", to: p)
                p = writeInteger(c, to: p)
            }
            field("last=", .last, last)
            p.pointee = UInt8(ascii: " ")
            p = writeInteger(start, to: p + 1)
            p.pointee = 0x0A
            p += 1
        }
        return p
    }

    @inline(__always)
    static func write(_ text: StaticString, to p: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        let n = text.utf8CodeUnitCount
        p.update(from: text.utf8Start, count: n)
        return p + n
    }

    @inline(__always)
    static func writeMeasurement(_ name: UnsafeBufferPointer<UInt8>, to out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        if name.isEmpty {
            out.pointee = UInt8(ascii: "_")
            return out + 1
        }
        var p = out
        for b in name {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"),
                 UInt8(ascii: ":"):
                p.pointee = b
            default:
                p.pointee = UInt8(ascii: "_")
            }
            p += 1
        }
        return p
    }

    /// `,key=value` with the value escaped (`prefix` is `,key=`); nothing when the value is empty.
    @inline(__always)
    static func writeTag(_ prefix: StaticString, _ value: UnsafeBufferPointer<UInt8>, to out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        guard !value.isEmpty else { return out }
        return writeEscaped(value, to: write(prefix, to: out))
    }

    /// A tag value with `,`, `=`, space and `\` escaped and control characters as `_`; at most twice its bytes.
    @inline(__always)
    static func writeEscaped(_ value: UnsafeBufferPointer<UInt8>, to out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var p = out
        for b in value {
            switch b {
            case UInt8(ascii: ","), UInt8(ascii: "="), UInt8(ascii: " "), UInt8(ascii: "\\"):
                p[0] = UInt8(ascii: "\\")
                p[1] = b
                p += 2
            case 0..<0x20, 0x7F:
                p.pointee = UInt8(ascii: "_")
                p += 1
            default:
                p.pointee = b
                p += 1
            }
        }
        return p
    }

    /// Two ASCII digits for every value below 100.
    private static let digitPairs: [UInt8] = (0..<100).flatMap { [UInt8(ascii: "0") + UInt8($0 / 10), UInt8(ascii: "0") + UInt8($0 % 10)] }

    /// Decimal digits of `v` ending just before `end`; returns where they start.
    @inline(__always)
    static func writeDigits(_ value: UInt64, endingAt end: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var v = value
        var p = end
        digitPairs.withUnsafeBufferPointer { pairs in
            while v >= 100 {
                let i = Int(v % 100) * 2
                v /= 100
                p -= 2
                p[0] = pairs[i]
                p[1] = pairs[i + 1]
            }
            if v >= 10 {
                let i = Int(v) * 2
                p -= 2
                p[0] = pairs[i]
                p[1] = pairs[i + 1]
            } else {
                p -= 1
                p.pointee = UInt8(ascii: "0") + UInt8(v)
            }
        }
        return p
    }

    /// Decimal integer.
    @inline(__always)
    static func writeInteger(_ value: Int64, to out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var p = out
        if value < 0 {
            p.pointee = UInt8(ascii: "-")
            p += 1
        }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { tmp in
            let end = tmp.baseAddress! + 24
            let first = writeDigits(value.magnitude, endingAt: end)
            let n = end - first
            p.update(from: first, count: n)
            return p + n
        }
    }

    private static let powersOfTen: [Double] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6]

    /// A finite double: integral values (below 2^53) as integers; values with at most six decimals (and at least
    /// 1e-4 in magnitude) as those decimals, found exactly (`n / 10^k == value`, both exact, so parsing the text
    /// gives `value` back, and the smallest such `k` is the shortest text); others shortest round-trip through the
    /// standard library (`1e-05`, `0.30000000000000004`).
    @inline(__always)
    static func writeNumber(_ value: Double, to out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        let magnitude = abs(value)
        if value.rounded(.towardZero) == value, magnitude < 9_007_199_254_740_992 {
            return writeInteger(Int64(value), to: out)
        }
        if magnitude >= 1e-4, magnitude < 1e9 {
            for k in 1..<powersOfTen.count {
                let scale = powersOfTen[k]
                // Round half up by truncation (an instruction, where `rounded()` is a libm call); a candidate that
                // is off by one in an edge case fails the exact check below like any other.
                let n = UInt64(magnitude * scale + 0.5)
                guard Double(n) / scale == magnitude else { continue }
                return writeDecimal(n, fractionDigits: k, negative: value < 0, to: out)
            }
        }
        var text = value.description
        return text.withUTF8 { t in
            out.update(from: t.baseAddress!, count: t.count)
            return out + t.count
        }
    }

    /// `n / 10^k` in plain decimal notation.
    @inline(__always)
    static func writeDecimal(_ n: UInt64, fractionDigits k: Int, negative: Bool, to out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var p = out
        if negative {
            p.pointee = UInt8(ascii: "-")
            p += 1
        }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { tmp in
            let end = tmp.baseAddress! + 32
            var first = writeDigits(n, endingAt: end)
            while end - first <= k {
                first -= 1
                first.pointee = UInt8(ascii: "0")
            }
            let whole = end - first - k
            p.update(from: first, count: whole)
            p += whole
            p.pointee = UInt8(ascii: ".")
            (p + 1).update(from: first + whole, count: k)
            return p + 1 + k
        }
    }

    /// Appends one event line.
    static func appendEvent(_ e: UplinkEvent, gateway: [UInt8], to out: inout [UInt8]) {
        func tag(_ key: String, _ value: String) {
            var v = value
            v.withUTF8 { appendTag(key, $0, to: &out) }
        }
        switch e.kind {
        case .alert:
            out.append(contentsOf: "citygate_alert".utf8)
            tag("device", e.device)
            gateway.withUnsafeBufferPointer { appendTag("gateway", $0, to: &out) }
            tag("rule", e.rule)
            tag("severity", e.severity)
            tag("state", e.state)
        case .status:
            out.append(contentsOf: "citygate_device_status".utf8)
            tag("device", e.device)
            gateway.withUnsafeBufferPointer { appendTag("gateway", $0, to: &out) }
            tag("state", e.state)
        }
        out.append(contentsOf: " value=".utf8)
        appendNumber(e.value.isFinite ? e.value : 0, to: &out)
        out.append(0x20)
        appendInteger(e.timeMs, to: &out)
        out.append(0x0A)
    }

    /// `,key=value` with the value escaped; nothing when the value is empty.
    static func appendTag(_ key: String, _ value: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        guard !value.isEmpty else { return }
        out.append(UInt8(ascii: ","))
        out.append(contentsOf: key.utf8)
        out.append(UInt8(ascii: "="))
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * value.count) { tmp in
            let end = writeEscaped(value, to: tmp.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(start: tmp.baseAddress!, count: end - tmp.baseAddress!))
        }
    }

    /// Decimal integer.
    static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { tmp in
            let end = writeInteger(value, to: tmp.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(start: tmp.baseAddress!, count: end - tmp.baseAddress!))
        }
    }

    /// A finite double, as `writeNumber` prints it.
    static func appendNumber(_ value: Double, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { tmp in
            let end = writeNumber(value, to: tmp.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(start: tmp.baseAddress!, count: end - tmp.baseAddress!))
        }
    }
}

/// Reads a rollup row in place (what `ByteReader` does, over a buffer pointer, without bounds traps).
struct RowReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var offset = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    @inline(__always)
    mutating func varint() -> UInt64? { readVarint(bytes, at: &offset) }

    @inline(__always)
    mutating func signed() -> Int64? {
        guard let u = varint() else { return nil }
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    @inline(__always)
    mutating func double() -> Double? {
        guard offset + 8 <= bytes.count else { return nil }
        let bits = UnsafeRawPointer(bytes.baseAddress! + offset).loadUnaligned(as: UInt64.self)
        offset += 8
        return Double(bitPattern: UInt64(littleEndian: bits))
    }

    @inline(__always)
    mutating func string() -> UnsafeBufferPointer<UInt8>? {
        guard let n = varint(), n <= UInt64(bytes.count - offset) else { return nil }
        let r = UnsafeBufferPointer(start: bytes.baseAddress! + offset, count: Int(n))
        offset += Int(n)
        return r
    }
}

/// Which of a rollup point's six fields go upstream (`fields:` of an HTTP sink). All six by default.
public struct RollupFields: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let min = RollupFields(rawValue: 1 << 0)
    public static let max = RollupFields(rawValue: 1 << 1)
    public static let avg = RollupFields(rawValue: 1 << 2)
    public static let sum = RollupFields(rawValue: 1 << 3)
    public static let count = RollupFields(rawValue: 1 << 4)
    public static let last = RollupFields(rawValue: 1 << 5)
    /// All six.
    public static let all: RollupFields = [.min, .max, .avg, .sum, .count, .last]

    /// The names, in line order.
    public static let names: [(String, RollupFields)] = [("min", .min), ("max", .max), ("avg", .avg), ("sum", .sum), ("count", .count), ("last", .last)]

    /// The field called `name` (`min`, `max`, `avg`, `sum`, `count`, `last`), nil for anything else.
    public init?(name: String) {
        guard let f = Self.names.first(where: { $0.0 == name })?.1 else { return nil }
        self = f
    }
}
