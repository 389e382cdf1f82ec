import Foundation

// Helpers for the city simulator: deterministic randomness, device identities, byte/JSON writers, time formats
// and the checks device frames carry. Everything here is pure and allocation-light: the simulator has to produce
// about a million messages for a benchmark.

// MARK: - randomness

/// Deterministic mixing and a SplitMix64 generator. Never `Hasher` (randomly seeded per process).
struct SimRNG: RandomNumberGenerator, Sendable {
    var state: UInt64

    init(_ seed: UInt64) { state = seed }

    /// Seeds from several values at once.
    init(_ a: UInt64, _ b: UInt64, _ c: UInt64 = 0) {
        state = SimRNG.mix(a ^ SimRNG.mix(b &+ 0x9E37_79B9_7F4A_7C15 ^ SimRNG.mix(c &+ 0x632B_E59B_D9B4_E019)))
    }

    /// SplitMix64 finaliser: a good 64-bit avalanche.
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A stable 64-bit hash of a string (FNV-1a, then mixed).
    static func hash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return mix(h)
    }

    /// A uniform value in [0, 1) from a hash.
    @inline(__always)
    static func unit(_ x: UInt64) -> Double { Double(mix(x) >> 11) * 0x1.0p-53 }

    @inline(__always)
    mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    @inline(__always)
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [lo, hi).
    @inline(__always)
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }

    /// Uniform integer in lo...hi.
    @inline(__always)
    mutating func int(_ lo: Int, _ hi: Int) -> Int { lo + Int(next() % UInt64(hi - lo + 1)) }

    /// True with probability p.
    @inline(__always)
    mutating func chance(_ p: Double) -> Bool { uniform() < p }

    /// Approximately normal noise (Irwin-Hall of four uniforms, variance matched), cheap and bounded at ±3.46 σ.
    @inline(__always)
    mutating func gaussian(_ sigma: Double = 1) -> Double {
        let s = uniform() + uniform() + uniform() + uniform() - 2
        return s * 1.7320508075688772 * sigma
    }
}

// MARK: - identities

enum SimIdentity {
    /// `count` decimal digits from a number (zero-padded, most significant first).
    static func digits(_ value: UInt64, count: Int) -> String {
        var v = value
        var out = [UInt8](repeating: 0x30, count: count)
        var i = count - 1
        while i >= 0 {
            out[i] = 0x30 + UInt8(v % 10)
            v /= 10
            i -= 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lower-case hex of a number, zero-padded to `count` digits.
    static func hex(_ value: UInt64, count: Int) -> String {
        let table: [UInt8] = Array("0123456789abcdef".utf8)
        var v = value
        var out = [UInt8](repeating: 0x30, count: count)
        var i = count - 1
        while i >= 0 {
            out[i] = table[Int(v & 0xF)]
            v >>= 4
            i -= 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Luhn check digit of a digit string (the IMEI's 15th digit).
    static func luhnDigit(_ body: String) -> Character {
        var sum = 0
        for (i, c) in body.utf8.reversed().enumerated() {
            var d = Int(c - 0x30)
            if i % 2 == 0 {
                d *= 2
                if d > 9 { d -= 9 }
            }
            sum += d
        }
        return Character(String((10 - sum % 10) % 10))
    }

    /// A unique serial for device `index` under `key`: a bijection on 0..<modulus (for index < modulus), so ids
    /// never collide within a model.
    static func serial(key: UInt64, index: Int, modulus: UInt64) -> UInt64 {
        // An odd multiplier that is coprime with 10^n and 16^n keeps the map one-to-one.
        (key % modulus &+ UInt64(index) &* 7_919) % modulus
    }

    /// A 15-digit IMEI with an 8-digit TAC and a valid Luhn digit.
    static func imei(tac: String, key: UInt64, index: Int) -> String {
        let body = tac + digits(serial(key: key, index: index, modulus: 1_000_000), count: 6)
        return body + String(luhnDigit(body))
    }

    /// A lower-case 16-hex-digit DevEUI under a vendor prefix.
    static func devEUI(prefix: String, key: UInt64, index: Int) -> String {
        let n = 16 - prefix.count
        var modulus: UInt64 = 1
        for _ in 0..<n { modulus *= 16 }
        return prefix + hex(serial(key: key, index: index, modulus: modulus), count: n)
    }
}

// MARK: - writing bytes

/// Appends binary fields and JSON text to a byte array.
struct SimWriter {
    var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    // Binary.
    @inline(__always) mutating func u8(_ v: Int) { bytes.append(UInt8(truncatingIfNeeded: v)) }
    @inline(__always) mutating func u16le(_ v: Int) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    }
    @inline(__always) mutating func u16be(_ v: Int) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }
    @inline(__always) mutating func u32le(_ v: Int) {
        for s in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> s)) }
    }
    @inline(__always) mutating func u32be(_ v: Int) {
        for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> s)) }
    }
    @inline(__always) mutating func f32le(_ v: Double) { u32le(Int(Float(v).bitPattern)) }
    /// Packs a digit string as BCD (two digits a byte; hex letters are packed as nibbles too).
    mutating func bcd(_ digits: String) {
        var high: UInt8?
        for c in digits.utf8 {
            let d: UInt8 = c >= 0x61 ? c - 0x61 + 10 : (c >= 0x41 ? c - 0x41 + 10 : c - 0x30)
            if let h = high {
                bytes.append(h << 4 | d)
                high = nil
            } else {
                high = d
            }
        }
        if let h = high { bytes.append(h << 4) }
    }
    /// ASCII text padded with NULs (or cut) to `length`.
    mutating func ascii(_ s: String, length: Int) {
        var n = 0
        for c in s.utf8 where n < length {
            bytes.append(c)
            n += 1
        }
        while n < length {
            bytes.append(0)
            n += 1
        }
    }

    // Text.
    @inline(__always) mutating func text(_ s: String) { bytes.append(contentsOf: s.utf8) }
    @inline(__always) mutating func text(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }
    /// A JSON string (the simulator's strings never need escaping, except `quotedEscaped`).
    @inline(__always) mutating func quoted(_ s: String) {
        bytes.append(0x22)
        bytes.append(contentsOf: s.utf8)
        bytes.append(0x22)
    }
    /// A decimal integer.
    mutating func int(_ v: Int) {
        if v < 0 {
            bytes.append(0x2D)
            uint(UInt64(-v))
        } else {
            uint(UInt64(v))
        }
    }
    mutating func uint(_ v: UInt64) {
        var div: UInt64 = 1
        while div <= v / 10 { div *= 10 }
        var x = v
        while div > 0 {
            bytes.append(0x30 + UInt8(x / div))
            x %= div
            div /= 10
        }
    }
    /// A decimal with exactly `decimals` fraction digits (no exponent, no locale).
    mutating func fixed(_ v: Double, _ decimals: Int) {
        var value = v
        if !value.isFinite { value = 0 }
        var p: Double = 1
        for _ in 0..<decimals { p *= 10 }
        let scaled = (abs(value) * p).rounded()
        let n = UInt64(min(scaled, 9.0e17))
        let ip = UInt64(p)
        if value < 0, n != 0 { bytes.append(0x2D) }
        uint(n / ip)
        if decimals > 0 {
            bytes.append(0x2E)
            var frac = n % ip
            var div = ip / 10
            while div > 0 {
                bytes.append(0x30 + UInt8(frac / div))
                frac %= div
                div /= 10
            }
        }
    }
    /// Zero-padded unsigned decimal of a fixed width.
    mutating func padded(_ v: Int, _ width: Int) {
        var div = 1
        for _ in 1..<width { div *= 10 }
        var x = v
        while div > 0 {
            bytes.append(0x30 + UInt8((x / div) % 10))
            x %= div
            div /= 10
        }
    }
    /// Lower-case hex text of bytes.
    mutating func hexText(_ data: [UInt8]) {
        let table: StaticString = "0123456789abcdef"
        table.withUTF8Buffer { t in
            for b in data {
                bytes.append(t[Int(b >> 4)])
                bytes.append(t[Int(b & 0x0F)])
            }
        }
    }
}

// MARK: - time

enum SimTime {
    /// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    @inline(__always)
    static func civil(days z0: Int64) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(m <= 2 ? y + 1 : y), Int(m), Int(d))
    }

    @inline(__always)
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Parts of a Unix-ms time shifted by `offsetSeconds`.
    static func parts(_ ms: Int64, offsetSeconds: Int64 = 0) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millis: Int) {
        let shifted = ms + offsetSeconds * 1000
        let secs = floorDiv(shifted, 1000)
        let millis = Int(shifted - secs * 1000)
        let days = floorDiv(secs, 86400)
        let sod = Int(secs - days * 86400)
        let c = civil(days: days)
        return (c.year, c.month, c.day, sod / 3600, sod % 3600 / 60, sod % 60, millis)
    }

    /// `2025-06-01T10:00:00.123Z`.
    static func writeISO8601(_ ms: Int64, into w: inout SimWriter) {
        let p = parts(ms)
        w.padded(p.year, 4); w.u8(0x2D); w.padded(p.month, 2); w.u8(0x2D); w.padded(p.day, 2)
        w.u8(0x54); w.padded(p.hour, 2); w.u8(0x3A); w.padded(p.minute, 2); w.u8(0x3A); w.padded(p.second, 2)
        w.u8(0x2E); w.padded(p.millis, 3); w.u8(0x5A)
    }

    /// `yyyyMMddHHmmss` in the given zone.
    static func writeCompact(_ ms: Int64, offsetSeconds: Int64, into w: inout SimWriter) {
        let p = parts(ms, offsetSeconds: offsetSeconds)
        w.padded(p.year, 4); w.padded(p.month, 2); w.padded(p.day, 2)
        w.padded(p.hour, 2); w.padded(p.minute, 2); w.padded(p.second, 2)
    }

    /// `yyMMddHHmmss` digits (for YKC transaction numbers).
    static func compactDigits(_ ms: Int64, offsetSeconds: Int64) -> String {
        var w = SimWriter(capacity: 12)
        let p = parts(ms, offsetSeconds: offsetSeconds)
        w.padded(p.year % 100, 2); w.padded(p.month, 2); w.padded(p.day, 2)
        w.padded(p.hour, 2); w.padded(p.minute, 2); w.padded(p.second, 2)
        return String(decoding: w.bytes, as: UTF8.self)
    }
}

// MARK: - checks

enum SimCheck {
    static func sum8(_ bytes: ArraySlice<UInt8>) -> UInt8 {
        var s: UInt8 = 0
        for b in bytes { s &+= b }
        return s
    }

    /// CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), table-driven.
    static let crcTable: [UInt16] = (0..<256).map { i -> UInt16 in
        var c = UInt16(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xA001 : c >> 1 }
        return c
    }

    static func crc16Modbus(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        crcTable.withUnsafeBufferPointer { t in
            for b in bytes { crc = (crc >> 8) ^ t[Int((crc ^ UInt16(b)) & 0xFF)] }
        }
        return crc
    }
}

// MARK: - daily cycle

/// Time-of-day helpers on the simulated clock (in the city's local time).
struct SimClock {
    /// Unix ms.
    let t: Int64
    /// Local seconds since midnight.
    let secondOfDay: Int
    /// Local days since 1970-01-01.
    let day: Int64
    /// Local hour as a fraction, 0 ..< 24.
    let hour: Double

    init(_ t: Int64, offsetSeconds: Int64) {
        self.t = t
        let local = SimTime.floorDiv(t, 1000) + offsetSeconds
        day = SimTime.floorDiv(local, 86400)
        secondOfDay = Int(local - day * 86400)
        hour = Double(secondOfDay) / 3600 + Double(((t % 1000) + 1000) % 1000) / 3_600_000
    }

    /// cos over 24 h, 1 at `peakHour`, -1 twelve hours later.
    @inline(__always)
    func cycle(peak peakHour: Double) -> Double {
        cos((hour - peakHour) * (2 * Double.pi / 24))
    }

    /// True between dusk and dawn (18:00-06:00 shifted by `shiftMinutes`).
    func isNight(shiftMinutes: Double = 0) -> Bool {
        let h = hour - shiftMinutes / 60
        let hh = h < 0 ? h + 24 : (h >= 24 ? h - 24 : h)
        return hh >= 18 || hh < 6
    }
}
