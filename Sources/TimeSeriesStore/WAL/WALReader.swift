#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a replay read, and every damaged place it found.
public struct WALReplayReport: Sendable {
    /// One bad record and what replay did about it.
    public struct Issue: Sendable, Hashable, CustomStringConvertible {
        /// Why the record was bad.
        public enum Kind: String, Sendable, Hashable {
            /// Fewer than 8 header bytes before the end of the file.
            case truncatedHeader
            /// The length field points past the end of the file (a torn write, or a hostile length).
            case truncatedPayload
            /// The length field is 0 or above `WALFormat.maxPayloadBytes`.
            case invalidLength
            /// The payload's CRC-32C differs from the header's.
            case checksumMismatch
            /// The CRC matches but the payload does not decode (unknown type, bad varint, bad UTF-8, extra bytes).
            case undecodablePayload
            /// Reading the file failed (EIO).
            case unreadable
        }

        /// The file's number.
        public var fileNumber: Int
        /// Byte offset of the bad record in the file.
        public var offset: Int
        /// What was wrong.
        public var kind: Kind
        /// Bytes from `offset` to the end of the file that were not replayed.
        public var skippedBytes: Int
        /// The issue is in the last (highest-numbered non-empty) file: a torn tail, tolerated.
        public var inLastFile: Bool
        /// The file was cut at `offset` (repair of the last file).
        public var truncated: Bool
        /// Decoder or system error text, if any.
        public var detail: String

        /// One line for logs: kind, file, offset and what replay did.
        public var description: String {
            let place = "\(WALFileName.name(fileNumber)) at byte \(offset)"
            let action = truncated ? "truncated \(skippedBytes) bytes" : inLastFile ? "skipped \(skippedBytes) bytes (not repaired)" : "skipped the remaining \(skippedBytes) bytes of the file"
            return "WAL \(kind.rawValue) in \(place): \(action)" + (detail.isEmpty ? "" : " (\(detail))")
        }
    }

    /// Numbers of the files read, in order.
    public var files: [Int] = []
    /// Good records handed to the caller.
    public var records = 0
    /// Points in those records.
    public var points = 0
    /// Series definitions in those records.
    public var seriesDefinitions = 0
    /// Bytes of good records (headers included).
    public var bytes = 0
    /// Every bad record found, in file order (at most one per file: the rest of a file is never read after one).
    public var issues: [Issue] = []
    /// The largest read buffer allocated: at most max(1 MiB, the largest good record), never a claimed length.
    public var largestReadBuffer = 0

    /// No issue at all.
    public var isClean: Bool { issues.isEmpty }
    /// The tolerated torn tail of the last file, if any.
    public var tail: Issue? { issues.first { $0.inLastFile } }
    /// Files before the last one that had a bad record (their rest was skipped).
    public var corruptFiles: [Int] { issues.filter { !$0.inLastFile }.map(\.fileNumber) }
    /// Bytes cut from the last file.
    public var truncatedBytes: Int { issues.filter(\.truncated).reduce(0) { $0 + $1.skippedBytes } }
    /// Bytes not replayed, in all files.
    public var skippedBytes: Int { issues.reduce(0) { $0 + $1.skippedBytes } }
    /// One line per issue, for logs and the recovery report.
    public var notes: [String] { issues.map(\.description) }

    /// An empty report.
    public init() {}
}

/// Replays the WAL at startup. Rules (see `docs/formats/wal.md`, "Recovery"):
/// - files in number order, records in file order;
/// - a bad record in the **last** file (highest-numbered non-empty one) ends the replay; with `repair` the file is cut
///   at the end of the last good record, so the next replay is clean and nothing after a hole is ever returned;
/// - a bad record in an **earlier** file is reported, the rest of that file is skipped (framing after a bad length
///   cannot be trusted) and replay continues with the next file; the file is left untouched for inspection;
/// - no allocation follows a length field until it has been checked against the bytes left in the file and the
///   16 MiB record limit.
public enum WALReader {
    /// Calls `body` with every good record of the files numbered ≥ `from`, in order.
    ///
    /// - Parameters:
    ///   - repair: cut a torn tail off the last file. Takes `wal.lock` for the duration and throws
    ///     `WALError.locked` while a writer has the directory open; pass false to only read (e.g. beside a live writer).
    ///   - body: receives each record; an error it throws stops the replay and is rethrown (nothing is repaired then).
    /// - Throws: `WALError` if the directory cannot be listed or locked, or whatever `body` throws. Damage inside
    ///   files is reported, not thrown.
    public static func replay(
        directory: String, from number: Int = 0, repair: Bool = true, _ body: (WALRecord) throws -> Void
    ) throws -> WALReplayReport {
        var report = WALReplayReport()
        let numbers = try WALFileName.list(directory).filter { $0 >= number }
        guard !numbers.isEmpty else { return report }
        let lockFD = repair ? try WALFileIO.lockDirectory(directory) : -1
        defer { WALFileIO.closeFile(lockFD) }

        let sizes = numbers.map { fileSize(WALFileName.path(directory, $0)) ?? 0 }
        let lastIndex = sizes.lastIndex { $0 > 0 }
        let window = WALReadWindow()
        for (index, fileNumber) in numbers.enumerated() {
            let path = WALFileName.path(directory, fileNumber)
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 {
                let code = errno
                if code == ENOENT { continue }  // removed since the listing
                throw WALError.io(operation: "open", path: path, errno: code)
            }
            defer { WALFileIO.closeFile(fd) }
            report.files.append(fileNumber)
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw WALError.io(operation: "fstat", path: path, errno: errno) }
            let size = Int(info.st_size)
            let isLast = index == lastIndex
            window.reset()

            var offset = 0
            var problem: (WALReplayReport.Issue.Kind, String)?
            scan: while offset < size {
                let remaining = size - offset
                guard remaining >= WALFormat.headerBytes else {
                    problem = (.truncatedHeader, "\(remaining) bytes left")
                    break scan
                }
                let length: Int
                let storedCRC: UInt32
                do {
                    guard let header = try window.bytes(fd: fd, at: offset, count: WALFormat.headerBytes, fileSize: size) else {
                        problem = (.truncatedHeader, "file shrank while reading")
                        break scan
                    }
                    length = Int(UInt32(littleEndian: header.loadUnaligned(as: UInt32.self)))
                    storedCRC = UInt32(littleEndian: header.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                } catch {
                    problem = (.unreadable, "\(error)")
                    break scan
                }
                // Check the claimed length before it can size anything.
                guard length <= remaining - WALFormat.headerBytes else {
                    problem = (.truncatedPayload, "length \(length), \(remaining - WALFormat.headerBytes) bytes left")
                    break scan
                }
                guard length >= 1, length <= WALFormat.maxPayloadBytes else {
                    problem = (.invalidLength, "length \(length)")
                    break scan
                }
                let record: WALRecord
                do {
                    guard let payload = try window.bytes(fd: fd, at: offset + WALFormat.headerBytes, count: length, fileSize: size) else {
                        problem = (.truncatedPayload, "file shrank while reading")
                        break scan
                    }
                    let crc = CRC32C.checksum(payload)
                    guard crc == storedCRC else {
                        problem = (.checksumMismatch, "stored \(hex(storedCRC)), computed \(hex(crc))")
                        break scan
                    }
                    do {
                        record = try WALRecordDecoder.decode(payload)
                    } catch {
                        problem = (.undecodablePayload, error.description)
                        break scan
                    }
                } catch {
                    problem = (.unreadable, "\(error)")
                    break scan
                }
                try body(record)
                report.records += 1
                report.bytes += WALFormat.headerBytes + length
                switch record {
                case .points(let points): report.points += points.count
                case .series(let definitions): report.seriesDefinitions += definitions.count
                }
                offset += WALFormat.headerBytes + length
            }
            report.largestReadBuffer = max(report.largestReadBuffer, window.capacity)

            guard let (kind, detail) = problem else { continue }
            var issue = WALReplayReport.Issue(
                fileNumber: fileNumber, offset: offset, kind: kind, skippedBytes: size - offset, inLastFile: isLast,
                truncated: false, detail: detail
            )
            if isLast && repair && kind != .unreadable {
                do {
                    try WALFileIO.truncate(path, to: offset)
                    issue.truncated = true
                } catch {
                    issue.detail += issue.detail.isEmpty ? "\(error)" : "; \(error)"
                }
            }
            report.issues.append(issue)
        }
        return report
    }

    private static func fileSize(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    private static func hex(_ value: UInt32) -> String {
        let text = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - text.count) + text
    }
}

/// A read-ahead window over one file: reads up to 1 MiB at a time and grows only to hold a record whose length was
/// already checked against the file size and the record limit.
final class WALReadWindow {
    static let defaultBytes = 1 << 20
    private var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// File offset of `storage[0]` and the valid bytes from there.
    private var start = 0
    private var count = 0

    /// Bytes allocated now.
    var capacity: Int { storage.count }

    deinit { storage.deallocate() }

    /// Forgets the buffered bytes (next file); keeps the allocation.
    func reset() {
        start = 0
        count = 0
    }

    /// The file's bytes `offset ..< offset + needed` (which the caller checked lie within `fileSize`), or nil if the
    /// file turned out shorter. Valid until the next call.
    func bytes(fd: Int32, at offset: Int, count needed: Int, fileSize: Int) throws(WALError) -> UnsafeRawBufferPointer? {
        if offset >= start && offset + needed <= start + count {
            return UnsafeRawBufferPointer(start: storage.baseAddress! + (offset - start), count: needed)
        }
        let target = max(needed, min(max(storage.count, Self.defaultBytes), fileSize - offset))
        // Keep what is already buffered from `offset` on.
        var kept = 0
        if offset >= start && offset < start + count {
            kept = start + count - offset
        }
        if target > storage.count {
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: target, alignment: 16)
            if kept > 0 { grown.baseAddress!.copyMemory(from: storage.baseAddress! + (offset - start), byteCount: kept) }
            storage.deallocate()
            storage = grown
        } else if kept > 0 && offset != start {
            memmove(storage.baseAddress!, storage.baseAddress! + (offset - start), kept)
        }
        start = offset
        count = kept
        let base = storage.baseAddress!
        while count < target {
            let n = pread(fd, base + count, target - count, off_t(start + count))
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw WALError.io(operation: "read", path: "fd \(fd)", errno: code)
            }
            if n == 0 { break }
            count += n
        }
        guard count >= needed else { return nil }
        return UnsafeRawBufferPointer(start: base, count: needed)
    }
}
