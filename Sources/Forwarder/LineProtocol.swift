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
    public static func line(_ p: RollupPoint, gateway: String) -> String {
        var out: [UInt8] = []
        let body = OutboxCodec.encode([p])
        _ = appendRollups(body, window: Array(RollupWindow.label(p.windowMs).utf8), gateway: Array(gateway.utf8), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Renders one event.
    public static func line(_ e: UplinkEvent, gateway: String) -> String {
        var out: [UInt8] = []
        appendEvent(e, gateway: Array(gateway.utf8), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends one line per point of a rollup row; false if the row is malformed.
    static func appendRollups(_ body: [UInt8], window: [UInt8], gateway: [UInt8], to out: inout [UInt8]) -> Bool {
        OutboxCodec.visitRollups(body) { v in
            body.withUnsafeBufferPointer { b in
                appendMeasurement(UnsafeBufferPointer(rebasing: b[v.metric]), to: &out)
                appendTag("device", UnsafeBufferPointer(rebasing: b[v.device]), to: &out)
                gateway.withUnsafeBufferPointer { appendTag("gateway", $0, to: &out) }
                appendTag("unit", UnsafeBufferPointer(rebasing: b[v.unit]), to: &out)
            }
            window.withUnsafeBufferPointer { appendTag("window", $0, to: &out) }
            out.append(contentsOf: " min=".utf8)
            appendNumber(v.min, to: &out)
            out.append(contentsOf: ",max=".utf8)
            appendNumber(v.max, to: &out)
            out.append(contentsOf: ",avg=".utf8)
            appendNumber(v.count > 0 ? v.sum / Double(v.count) : 0, to: &out)
            out.append(contentsOf: ",sum=".utf8)
            appendNumber(v.sum, to: &out)
            out.append(contentsOf: ",count=".utf8)
            appendInteger(Int64(v.count), to: &out)
            out.append(contentsOf: ",last=".utf8)
            appendNumber(v.last, to: &out)
            out.append(0x20)
            appendInteger(v.startMs, to: &out)
            out.append(0x0A)
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

    @inline(__always)
    static func appendMeasurement(_ name: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        if name.isEmpty {
            out.append(UInt8(ascii: "_"))
            return
        }
        for b in name {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"),
                 UInt8(ascii: ":"):
                out.append(b)
            default:
                out.append(UInt8(ascii: "_"))
            }
        }
    }

    /// `,key=value` with the value escaped; nothing when the value is empty.
    @inline(__always)
    static func appendTag(_ key: StaticString, _ value: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        guard !value.isEmpty else { return }
        out.append(UInt8(ascii: ","))
        key.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "="))
        appendEscaped(value, to: &out)
    }

    @inline(__always)
    static func appendTag(_ key: String, _ value: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        guard !value.isEmpty else { return }
        out.append(UInt8(ascii: ","))
        out.append(contentsOf: key.utf8)
        out.append(UInt8(ascii: "="))
        appendEscaped(value, to: &out)
    }

    @inline(__always)
    static func appendEscaped(_ value: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        for b in value {
            switch b {
            case UInt8(ascii: ","), UInt8(ascii: "="), UInt8(ascii: " "), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(b)
            case 0..<0x20, 0x7F:
                out.append(UInt8(ascii: "_"))
            default:
                out.append(b)
            }
        }
    }

    /// Decimal integer.
    @inline(__always)
    static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        if value == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        var v = value.magnitude
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        let count = withUnsafeMutableBytes(of: &digits) { buf -> Int in
            var n = 0
            while v > 0 {
                buf[23 - n] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                n += 1
            }
            out.append(contentsOf: buf[(24 - n)...])
            return n
        }
        _ = count
    }

    /// A finite double: integral values (below 2^53) as integers, others shortest round-trip (`1.25`, `1e-05`).
    @inline(__always)
    static func appendNumber(_ value: Double, to out: inout [UInt8]) {
        if value.rounded(.towardZero) == value, abs(value) < 9_007_199_254_740_992 {
            appendInteger(Int64(value), to: &out)
            return
        }
        var text = value.description
        text.withUTF8 { out.append(contentsOf: $0) }
    }
}
