#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The WAL's on-disk format: limits, record types, encoding and decoding. Documented in `docs/formats/wal.md`.
enum WALFormat {
    /// `[length u32 LE][crc32c u32 LE]` before every payload.
    static let headerBytes = 8
    /// The largest payload a reader accepts (16 MiB); a length above it is corrupt, never an allocation.
    static let maxPayloadBytes = 16 << 20
    /// The writer splits point batches into records of at most this many entries (≤ 1.5 MB each).
    static let maxPointsPerRecord = 65_536
    /// The writer closes a series record once its payload passes this size.
    static let seriesRecordTargetBytes = 1 << 20
    /// A points entry is at most a 5-byte id, a 10-byte time delta and 8 value bytes.
    static let maxPointEntryBytes = 23
    /// A points entry is at least 1 + 1 + 8 bytes; bounds the count a payload can claim.
    static let minPointEntryBytes = 10
    /// A series entry is at least an id byte and three length bytes.
    static let minSeriesEntryBytes = 4

    /// The payload's first byte.
    enum RecordType: UInt8 {
        case points = 1
        case series = 2
    }
}

/// WAL file names, in one place: `wal-00000001.log` … and the directory lock `wal.lock`.
enum WALFileName {
    static let prefix = "wal-"
    static let suffix = ".log"
    static let digits = 8
    /// Held (flock) by the open writer and by a repairing replay.
    static let lockFile = "wal.lock"

    /// `wal-` + number zero-padded to 8 digits + `.log`.
    static func name(_ number: Int) -> String {
        let text = String(number)
        return prefix + String(repeating: "0", count: max(0, digits - text.count)) + text + suffix
    }

    /// The path of file `number` in `directory`.
    static func path(_ directory: String, _ number: Int) -> String { directory + "/" + name(number) }

    /// The number in a WAL file name, or nil for any other name (at least 8 decimal digits, number ≥ 1).
    static func number(of name: String) -> Int? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let digitsPart = name.utf8.dropFirst(prefix.utf8.count).dropLast(suffix.utf8.count)
        guard digitsPart.count >= digits, digitsPart.count <= 18, digitsPart.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        guard let number = Int(String(decoding: digitsPart, as: UTF8.self)), number >= 1 else { return nil }
        return number
    }

    /// The numbers of the WAL files in `directory`, ascending; empty when the directory does not exist.
    static func list(_ directory: String) throws(WALError) -> [Int] {
        guard let dir = opendir(directory) else {
            let code = errno
            if code == ENOENT { return [] }
            throw WALError.io(operation: "opendir", path: directory, errno: code)
        }
        defer { closedir(dir) }
        var numbers: [Int] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if let number = number(of: name) { numbers.append(number) }
        }
        return numbers.sorted()
    }
}

/// Why a payload with a good checksum still does not decode.
enum WALDecodeError: Error, Equatable, CustomStringConvertible {
    case empty
    case unknownType(UInt8)
    case truncated(offset: Int)
    case varintOverflow(offset: Int)
    case countTooLarge(UInt64)
    case invalidUTF8(offset: Int)
    case trailingBytes(Int)

    var description: String {
        switch self {
        case .empty: "empty payload"
        case .unknownType(let type): "unknown record type \(type)"
        case .truncated(let offset): "payload ends inside an entry at byte \(offset)"
        case .varintOverflow(let offset): "varint too long at byte \(offset)"
        case .countTooLarge(let count): "entry count \(count) larger than the payload can hold"
        case .invalidUTF8(let offset): "invalid UTF-8 at byte \(offset)"
        case .trailingBytes(let count): "\(count) bytes after the last entry"
        }
    }
}

/// Encodes batches into framed records, ready to be written as they are.
enum WALRecordEncoder {
    /// Framed `points` records for `points` (one record per 65,536 points).
    static func encode(points: [(SeriesID, Point)]) -> [UInt8] {
        guard !points.isEmpty else { return [] }
        let recordCount = (points.count + WALFormat.maxPointsPerRecord - 1) / WALFormat.maxPointsPerRecord
        let worst = recordCount * (WALFormat.headerBytes + 1 + 5) + points.count * WALFormat.maxPointEntryBytes
        return [UInt8](unsafeUninitializedCapacity: worst) { buffer, initialized in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            var i = 0
            points.withUnsafeBufferPointer { all in
                var start = 0
                while start < all.count {
                    let end = min(all.count, start + WALFormat.maxPointsPerRecord)
                    let recordStart = i
                    i += WALFormat.headerBytes
                    base.storeBytes(of: WALFormat.RecordType.points.rawValue, toByteOffset: i, as: UInt8.self)
                    i += 1
                    putVarint(UInt64(end - start), base, &i)
                    var previous: Int64 = 0
                    for k in start..<end {
                        let (id, point) = all[k]
                        putVarint(UInt64(id), base, &i)
                        putVarint(zigzag(point.timeMs &- previous), base, &i)
                        previous = point.timeMs
                        base.storeBytes(of: point.value.bitPattern.littleEndian, toByteOffset: i, as: UInt64.self)
                        i += 8
                    }
                    frame(base, recordStart: recordStart, end: i)
                    start = end
                }
            }
            initialized = i
        }
    }

    /// Framed `series` records for `definitions` (a new record once one passes about 1 MiB).
    static func encode(series definitions: [WALSeriesDefinition]) throws(WALError) -> [UInt8] {
        var out: [UInt8] = []
        var payload: [UInt8] = []
        var entries = 0
        var entry: [UInt8] = []
        for definition in definitions {
            entry.removeAll(keepingCapacity: true)
            appendVarint(UInt64(definition.id), to: &entry)
            for text in [definition.device, definition.metric, definition.unit] {
                appendVarint(UInt64(text.utf8.count), to: &entry)
                entry.append(contentsOf: text.utf8)
            }
            // Type byte + count varint + this entry must fit on its own.
            guard entry.count + 1 + 5 <= WALFormat.maxPayloadBytes else { throw WALError.recordTooLarge(bytes: entry.count + 6) }
            if entries > 0, payload.count + entry.count > WALFormat.seriesRecordTargetBytes {
                appendSeriesRecord(entries: entries, body: payload, to: &out)
                payload.removeAll(keepingCapacity: true)
                entries = 0
            }
            payload.append(contentsOf: entry)
            entries += 1
        }
        if entries > 0 { appendSeriesRecord(entries: entries, body: payload, to: &out) }
        return out
    }

    private static func appendSeriesRecord(entries: Int, body: [UInt8], to out: inout [UInt8]) {
        var payload: [UInt8] = [WALFormat.RecordType.series.rawValue]
        payload.reserveCapacity(body.count + 6)
        appendVarint(UInt64(entries), to: &payload)
        payload.append(contentsOf: body)
        appendFramed(payload: payload, to: &out)
    }

    /// Appends `[length][crc32c][payload]`.
    static func appendFramed(payload: [UInt8], to out: inout [UInt8]) {
        let crc = CRC32C.checksum(payload)
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: crc.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: payload)
    }

    /// Writes the header of the record whose payload spans `recordStart + 8 ..< end`.
    @inline(__always)
    private static func frame(_ base: UnsafeMutableRawPointer, recordStart: Int, end: Int) {
        let payloadStart = recordStart + WALFormat.headerBytes
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: base + payloadStart, count: end - payloadStart))
        base.storeBytes(of: UInt32(end - payloadStart).littleEndian, toByteOffset: recordStart, as: UInt32.self)
        base.storeBytes(of: crc.littleEndian, toByteOffset: recordStart + 4, as: UInt32.self)
    }

    @inline(__always)
    static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }

    @inline(__always)
    static func putVarint(_ value: UInt64, _ base: UnsafeMutableRawPointer, _ i: inout Int) {
        var v = value
        while v >= 0x80 {
            base.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, toByteOffset: i, as: UInt8.self)
            v >>= 7
            i += 1
        }
        base.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self)
        i += 1
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(truncatingIfNeeded: v))
    }
}

/// Decodes one payload (the bytes after the header, checksum already verified).
enum WALRecordDecoder {
    static func decode(_ payload: UnsafeRawBufferPointer) throws(WALDecodeError) -> WALRecord {
        guard let base = payload.baseAddress, !payload.isEmpty else { throw .empty }
        var c = Cursor(base: base, end: payload.count)
        let typeByte = try c.byte()
        guard let type = WALFormat.RecordType(rawValue: typeByte) else { throw .unknownType(typeByte) }
        let count = try c.uvarint64()
        let record: WALRecord
        switch type {
        case .points:
            // Bound the reservation by what the payload can actually hold, whatever the count claims.
            guard count <= UInt64(c.remaining / WALFormat.minPointEntryBytes) else { throw .countTooLarge(count) }
            var points: [(SeriesID, Point)] = []
            points.reserveCapacity(Int(count))
            var previous: Int64 = 0
            for _ in 0..<Int(count) {
                let id = try c.uvarint32()
                let delta = WALRecordDecoder.unzigzag(try c.uvarint64())
                let time = previous &+ delta
                previous = time
                let bits = try c.uint64LE()
                points.append((id, Point(timeMs: time, value: Double(bitPattern: bits))))
            }
            record = .points(points)
        case .series:
            guard count <= UInt64(c.remaining / WALFormat.minSeriesEntryBytes) else { throw .countTooLarge(count) }
            var definitions: [WALSeriesDefinition] = []
            definitions.reserveCapacity(Int(count))
            for _ in 0..<Int(count) {
                let id = try c.uvarint32()
                let device = try c.string()
                let metric = try c.string()
                let unit = try c.string()
                definitions.append((id: id, device: device, metric: metric, unit: unit))
            }
            record = .series(definitions)
        }
        guard c.remaining == 0 else { throw .trailingBytes(c.remaining) }
        return record
    }

    @inline(__always)
    static func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }

    /// Bounds-checked reads over a payload.
    struct Cursor {
        let base: UnsafeRawPointer
        let end: Int
        var i = 0

        init(base: UnsafeRawPointer, end: Int) {
            self.base = base
            self.end = end
        }

        var remaining: Int { end - i }

        @inline(__always)
        mutating func byte() throws(WALDecodeError) -> UInt8 {
            guard i < end else { throw .truncated(offset: i) }
            let b = base.load(fromByteOffset: i, as: UInt8.self)
            i += 1
            return b
        }

        @inline(__always)
        mutating func uvarint64() throws(WALDecodeError) -> UInt64 {
            let start = i
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let b = try byte()
                if shift == 63 && b > 1 { throw .varintOverflow(offset: start) }
                result |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return result }
                shift += 7
                if shift > 63 { throw .varintOverflow(offset: start) }
            }
        }

        @inline(__always)
        mutating func uvarint32() throws(WALDecodeError) -> UInt32 {
            let start = i
            let value = try uvarint64()
            guard value <= UInt64(UInt32.max) else { throw .varintOverflow(offset: start) }
            return UInt32(value)
        }

        @inline(__always)
        mutating func uint64LE() throws(WALDecodeError) -> UInt64 {
            guard end - i >= 8 else { throw .truncated(offset: i) }
            let value = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
            return UInt64(littleEndian: value)
        }

        mutating func string() throws(WALDecodeError) -> String {
            let length = try uvarint64()
            guard length <= UInt64(remaining) else { throw .truncated(offset: i) }
            let bytes = UnsafeBufferPointer(start: (base + i).assumingMemoryBound(to: UInt8.self), count: Int(length))
            guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8(offset: i) }
            i += Int(length)
            return text
        }
    }
}
