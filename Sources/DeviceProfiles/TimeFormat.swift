/// Device time encodings (DEVICES.md §6 item 6). Every parser returns Unix milliseconds or nil for "no time",
/// including the epoch-zero times that chargers without a clock send.
public enum TimeFormat: Sendable, Hashable {
    /// Unix seconds (integer field or number).
    case unixSeconds
    /// Unix milliseconds.
    case unixMilliseconds
    /// ISO-8601 / RFC 3339 text, with `Z` or an offset; no offset means `zoneOffsetSeconds`.
    case iso8601
    /// IEC 60870-5 CP56Time2a, 7 bytes little-endian (YKC chargers); local time in `zoneOffsetSeconds`.
    case cp56time2a
    /// A digit pattern such as `yyyyMMddHHmmss` (text or BCD bytes), local time in `zoneOffsetSeconds`.
    case pattern(TimePattern)

    /// Names accepted in profiles.
    static func named(_ name: String) -> TimeFormat? {
        switch name {
        case "unix-s", "unix", "epoch-s": return .unixSeconds
        case "unix-ms", "epoch-ms": return .unixMilliseconds
        case "iso8601", "rfc3339": return .iso8601
        case "cp56time2a": return .cp56time2a
        default:
            let allowed: Set<Character> = ["y", "M", "d", "H", "m", "s"]
            if !name.isEmpty, name.allSatisfy({ allowed.contains($0) }), name.contains("yy") { return .pattern(TimePattern(name)) }
            return nil
        }
    }

    /// Days from 1970-01-01 to the given civil date (proleptic Gregorian), after H. Hinnant's algorithm.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilMs(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, ms: Int, zoneOffsetSeconds: Int) -> Int64? {
        guard (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute),
            (0...60).contains(second), (0...999).contains(ms), (1...9999).contains(year)
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(zoneOffsetSeconds)
        return seconds * 1000 + Int64(ms)
    }

    /// Parses a number-valued time.
    func fromNumber(_ value: Double) -> Int64? {
        guard value.isFinite, value > 0 else { return nil }
        switch self {
        case .unixSeconds: return value < 1e11 ? Int64(value * 1000) : nil
        case .unixMilliseconds: return value < 1e14 ? Int64(value) : nil
        case .pattern: return fromText(Value.number(value).description, zoneOffsetSeconds: 0)
        default: return nil
        }
    }

    /// Parses a text-valued time. `zoneOffsetSeconds` applies where the text carries no zone.
    func fromText(_ text: String, zoneOffsetSeconds: Int) -> Int64? {
        switch self {
        case .unixSeconds, .unixMilliseconds:
            guard let d = Double(text) else { return nil }
            return fromNumber(d)
        case .iso8601: return TimeFormat.parseISO8601(text, defaultOffset: zoneOffsetSeconds)
        case .pattern(let p): return TimeFormat.parsePattern(p, Array(text.utf8), zoneOffsetSeconds: zoneOffsetSeconds)
        case .cp56time2a: return nil
        }
    }

    /// Parses bytes: CP56Time2a, or BCD digits matched against a pattern.
    func fromBytes(_ bytes: ArraySlice<UInt8>, zoneOffsetSeconds: Int) -> Int64? {
        switch self {
        case .cp56time2a:
            guard bytes.count == 7 else { return nil }
            let b = Array(bytes)
            let msAll = Int(b[0]) | Int(b[1]) << 8
            let minute = Int(b[2] & 0x3F)
            let hour = Int(b[3] & 0x1F)
            let day = Int(b[4] & 0x1F)
            let month = Int(b[5] & 0x0F)
            let year = 2000 + Int(b[6] & 0x7F)
            return TimeFormat.civilMs(year: year, month: month, day: day, hour: hour, minute: minute, second: msAll / 1000,
                                      ms: msAll % 1000, zoneOffsetSeconds: zoneOffsetSeconds)
        case .pattern(let p):
            var digits: [UInt8] = []
            for byte in bytes {
                digits.append(0x30 + (byte >> 4))
                digits.append(0x30 + (byte & 0x0F))
            }
            return TimeFormat.parsePattern(p, digits, zoneOffsetSeconds: zoneOffsetSeconds)
        case .unixSeconds, .unixMilliseconds:
            var v: UInt64 = 0
            for byte in bytes { v = v << 8 | UInt64(byte) }
            return fromNumber(Double(v))
        case .iso8601:
            return fromText(String(decoding: bytes, as: UTF8.self), zoneOffsetSeconds: zoneOffsetSeconds)
        }
    }

    static func parsePattern(_ pattern: TimePattern, _ digits: [UInt8], zoneOffsetSeconds: Int) -> Int64? {
        let codes = pattern.codes
        guard digits.count >= codes.count else { return nil }
        var f = (y: 0, M: 0, d: 0, H: 0, m: 0, s: 0)
        var seen: UInt8 = 0
        for i in 0..<codes.count {
            let d = digits[i]
            guard d >= 0x30, d <= 0x39 else { return nil }
            let v = Int(d - 0x30)
            seen |= 1 << codes[i]
            switch codes[i] {
            case 0: f.y = f.y * 10 + v
            case 1: f.M = f.M * 10 + v
            case 2: f.d = f.d * 10 + v
            case 3: f.H = f.H * 10 + v
            case 4: f.m = f.m * 10 + v
            default: f.s = f.s * 10 + v
            }
        }
        let year = pattern.twoDigitYear ? 2000 + f.y : (seen & 1 != 0 ? f.y : 1970)
        return civilMs(year: year, month: seen & 2 != 0 ? f.M : 1, day: seen & 4 != 0 ? f.d : 1, hour: f.H, minute: f.m, second: f.s,
                       ms: 0, zoneOffsetSeconds: zoneOffsetSeconds)
    }

    /// `2025-04-23T16:49:54.206Z`, `2024-08-28T22:49:41+08:00`, `2024-08-28 22:49:41`.
    public static func parseISO8601(_ text: String, defaultOffset: Int) -> Int64? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                v = v * 10 + Int(b[i] - 0x30)
            }
            return v
        }
        guard b.count >= 19, let year = num(0, 4), b[4] == 0x2D, let month = num(5, 2), b[7] == 0x2D, let day = num(8, 2),
            b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " ") || b[10] == UInt8(ascii: "t"),
            let hour = num(11, 2), b[13] == 0x3A, let minute = num(14, 2), b[16] == 0x3A, let second = num(17, 2)
        else { return nil }
        var i = 19
        var ms = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 100
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                ms += Int(b[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
        }
        var offset = defaultOffset
        if i < b.count {
            if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                offset = 0
                i += 1
            } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
                guard let oh = num(i + 1, 2) else { return nil }
                var om = 0
                if i + 3 < b.count, b[i + 3] == 0x3A {
                    guard let m = num(i + 4, 2) else { return nil }
                    om = m
                    i += 6
                } else if let m = num(i + 3, 2) {
                    om = m
                    i += 5
                } else {
                    i += 3
                }
                offset = sign * (oh * 3600 + om * 60)
            }
        }
        guard i == b.count else { return nil }
        return civilMs(year: year, month: month, day: day, hour: hour, minute: minute, second: second, ms: ms, zoneOffsetSeconds: offset)
    }

    /// Parses `+08:00`, `-0530`, `Z`, `UTC`.
    static func parseZone(_ text: String) -> Int? {
        if text == "Z" || text == "UTC" || text == "utc" { return 0 }
        let b = Array(text.utf8)
        guard b.count >= 3, b[0] == UInt8(ascii: "+") || b[0] == UInt8(ascii: "-") else { return nil }
        let digits = b.dropFirst().filter { $0 != 0x3A }
        guard digits.count == 4 || digits.count == 2, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let d = digits.map { Int($0 - 0x30) }
        let hours = d[0] * 10 + d[1]
        let minutes = d.count == 4 ? d[2] * 10 + d[3] : 0
        guard hours <= 14, minutes < 60 else { return nil }
        return (b[0] == UInt8(ascii: "-") ? -1 : 1) * (hours * 3600 + minutes * 60)
    }
}

/// A digit pattern compiled once: one field code per character (y M d H m s → 0…5).
public struct TimePattern: Sendable, Hashable {
    /// The pattern as written.
    public let text: String
    let codes: [UInt8]
    let twoDigitYear: Bool

    init(_ text: String) {
        self.text = text
        self.codes = text.map { c -> UInt8 in
            switch c {
            case "y": 0
            case "M": 1
            case "d": 2
            case "H": 3
            case "m": 4
            default: 5
            }
        }
        self.twoDigitYear = text.filter { $0 == "y" }.count == 2
    }
}
