import Synchronization
import Zstd

/// Reads one segment file held in memory (docs/formats/segment.md).
///
/// `init` verifies the whole file before answering anything: magics, version, length, the CRC32C over every byte,
/// and the index's internal consistency. After that, `entry(for:)` answers from the parsed index alone, and
/// `points(for:)` decompresses only the block holding that series (at most its declared raw length) and decodes
/// only its chunk. The last decompressed block is cached, so reading the series of one block in turn decompresses
/// it once.
///
/// Pure and synchronous; safe to share between threads (the only mutable state, the block cache, sits behind a
/// `Mutex` that is never held while decompressing).
public final class SegmentReader: Sendable {
    /// Where one block sits in the file and how large it is.
    public struct Block: Sendable, Hashable {
        /// Offset of the block's kind byte in the file.
        public let offset: Int
        /// Bytes on disk, kind byte included.
        public let storedBytes: Int
        /// Bytes once decompressed: whole chunks, back to back.
        public let rawBytes: Int
        /// Whether the payload is a zstd frame (else it is stored raw).
        public let isCompressed: Bool
    }

    /// Every series in the segment, ascending, with its statistics.
    public let entries: [SegmentIndexEntry]
    /// Every series id in the segment, ascending.
    public let series: [SeriesID]
    /// The blocks, in file order.
    public let blocks: [Block]
    /// Earliest `tMin` to latest `tMax` over all series; nil for an empty segment.
    public let timeRange: ClosedRange<Int64>?
    /// Points in the segment (sum of entry counts).
    public let pointCount: Int
    /// Size of the file.
    public var byteCount: Int { bytes.count }
    /// Memory this reader holds: the file, its decoded index (an entry and an id per series, which for a checkpoint
    /// piece of many series outweighs the compressed points), its block table and one decompressed block (16 KiB by
    /// default).
    public var memoryBytes: Int {
        bytes.count + entries.count * MemoryLayout<SegmentIndexEntry>.stride + series.count * MemoryLayout<SeriesID>.stride
            + blocks.count * MemoryLayout<Block>.stride + 16 * 1024
    }
    /// The file's format version (one of `SegmentFormat.readableVersions`).
    public let formatVersion: UInt8

    private let bytes: [UInt8]
    private let cache = Mutex<CachedBlock?>(nil)

    private struct CachedBlock: Sendable {
        let number: Int
        let bytes: [UInt8]
    }

    /// Verifies and indexes a segment file.
    ///
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - maxBlockBytes: the largest decompressed block accepted, the limit every decompression runs under.
    /// - Throws: `SegmentError.truncated` when the file is shorter than its header declares; `.checksum` when the
    ///   CRC32C does not match; `.unsupportedVersion` for another format version; `.corrupt` for anything else.
    public init(bytes: [UInt8], maxBlockBytes: Int = SegmentFormat.maxBlockBytes) throws(SegmentError) {
        let n = bytes.count
        let header = SegmentFormat.headerSize
        guard n >= SegmentFormat.minimumSize else {
            throw .truncated("file has \(n) bytes; the smallest segment has \(SegmentFormat.minimumSize)")
        }
        guard bytes[0..<4].elementsEqual(SegmentFormat.magic) else {
            throw .corrupt("not a segment file: starts with \(Self.hex(bytes[0..<4])), expected \(Self.hex(SegmentFormat.magic[...]))")
        }
        guard SegmentFormat.readableVersions.contains(bytes[4]) else { throw .unsupportedVersion(bytes[4]) }
        let version = bytes[4]
        let declared = LittleEndian.readUInt64(bytes, at: 8)
        guard declared == UInt64(n) else {
            if declared > UInt64(n) { throw .truncated("file has \(n) bytes, header declares \(declared)") }
            throw .corrupt("file has \(n) bytes, header declares \(declared): trailing garbage")
        }
        guard bytes[(n - 4)...].elementsEqual(SegmentFormat.magic) else {
            throw .corrupt("trailing magic is \(Self.hex(bytes[(n - 4)...])), expected \(Self.hex(SegmentFormat.magic[...]))")
        }
        let stored = LittleEndian.readUInt32(bytes, at: n - 8)
        let computed = CRC32C.checksum(bytes[0..<(n - 8)])
        guard stored == computed else {
            throw .checksum("stored CRC32C \(Self.hex32(stored)), computed \(Self.hex32(computed)) over \(n - 8) bytes")
        }

        // From here the bytes are as the writer produced them (or forged with a valid CRC): check structure.
        guard bytes[5] == 0, bytes[6] == 0, bytes[7] == 0 else { throw .corrupt("reserved header bytes are not zero") }
        let trailer = n - SegmentFormat.trailerSize
        let indexOffset = LittleEndian.readUInt64(bytes, at: trailer)
        let indexLength = Int(LittleEndian.readUInt32(bytes, at: trailer + 8))
        let bodyLength = Int(LittleEndian.readUInt32(bytes, at: trailer + 12))
        guard indexOffset >= UInt64(header), indexOffset <= UInt64(trailer), indexLength >= 1,
              Int(indexOffset) + indexLength == trailer else {
            throw .corrupt("index at \(indexOffset) (\(indexLength) bytes) does not end at the trailer (byte \(trailer))")
        }
        guard bodyLength <= SegmentFormat.maxIndexBytes else {
            throw .corrupt("index body of \(bodyLength) bytes exceeds the limit of \(SegmentFormat.maxIndexBytes)")
        }
        let dataEnd = Int(indexOffset)
        let body = try Self.load(bytes, at: dataEnd, storedBytes: indexLength, rawBytes: bodyLength, what: "index")
        var index = IndexParser(body: body)

        // Block table: blocks are back to back from the end of the header to the index.
        let blockCount = try index.count(minimumBytesEach: 2, "blocks")
        var blocks: [Block] = []
        blocks.reserveCapacity(blockCount)
        var position = header
        for number in 0..<blockCount {
            let storedBytes = try index.size(limit: dataEnd - position, "block \(number) length")
            let rawBytes = try index.size(limit: maxBlockBytes, "block \(number) raw length")
            guard storedBytes >= 2, rawBytes >= 1 else { throw .corrupt("block \(number) is empty") }
            guard let kind = SegmentFormat.Kind(rawValue: bytes[position]) else {
                throw .corrupt("block \(number) at byte \(position) has unknown kind \(bytes[position])")
            }
            if kind == .raw && rawBytes != storedBytes - 1 {
                throw .corrupt("raw block \(number) stores \(storedBytes - 1) bytes but declares \(rawBytes)")
            }
            blocks.append(Block(offset: position, storedBytes: storedBytes, rawBytes: rawBytes, isCompressed: kind == .zstd))
            position += storedBytes
        }
        guard position == dataEnd else { throw .corrupt("blocks end at byte \(position), the index starts at \(dataEnd)") }

        // Entries: ascending ids; chunks tile the blocks exactly, in order.
        // The fewest bytes an entry takes: one per varint, two per statistic.
        let seriesCount = try index.count(minimumBytesEach: version == 1 ? 15 : 13, "series")
        var entries: [SegmentIndexEntry] = []
        entries.reserveCapacity(seriesCount)
        var previous: UInt64 = 0
        var cursorBlock = 0
        var cursorOffset = 0
        var points = 0
        var previousTMin: Int64 = 0
        for number in 0..<seriesCount {
            let delta = try index.uvarint()
            let id = previous &+ delta
            guard number == 0 || delta >= 1, delta <= UInt64(UInt32.max), id <= UInt64(UInt32.max) else {
                throw .corrupt("index entry \(number): series ids are not ascending 32-bit values")
            }
            previous = id
            if cursorBlock < blockCount && cursorOffset == blocks[cursorBlock].rawBytes {
                cursorBlock += 1
                cursorOffset = 0
            }
            // Format 1 names the block and offset (which must be where the previous chunk ended); format 2 has
            // them from the tiling alone.
            var block = cursorBlock
            var chunkOffset = cursorOffset
            if version == 1 {
                block = try index.size(limit: blockCount, "entry \(number) block")
                chunkOffset = try index.size(limit: maxBlockBytes, "entry \(number) offset")
            }
            let length = try index.size(limit: maxBlockBytes, "entry \(number) length")
            // Zero-run timestamps let a version-2 chunk hold more points than bytes, up to a bound.
            let count = try index.size(limit: version == 1 ? length : max(length, ChunkCodec.maxPointsBeyondBytes), "entry \(number) count")
            let tMinField = try index.svarint()
            let tMin = version == 1 ? tMinField : previousTMin &+ tMinField
            previousTMin = tMin
            let span = try index.uvarint()
            // tMax − tMin can exceed Int64.max (a chunk from Int64.min to Int64.max), so compare as unsigned.
            guard span <= UInt64(bitPattern: Int64.max &- tMin) else {
                throw .corrupt("index entry \(number): tMin \(tMin) + \(span) overflows")
            }
            let tMax = tMin &+ Int64(bitPattern: span)
            guard count >= 1, length >= 3 else { throw .corrupt("index entry \(number): empty chunk") }
            guard block == cursorBlock, chunkOffset == cursorOffset, block < blockCount, length <= blocks[block].rawBytes - chunkOffset else {
                throw .corrupt("index entry \(number) (series \(id)) at block \(block) offset \(chunkOffset) length \(length) does not follow the previous chunk")
            }
            cursorOffset += length
            let minimum = try index.statistic()
            let maximum = try index.statistic()
            let sum = try index.statistic()
            let last = try index.statistic()
            entries.append(SegmentIndexEntry(series: SeriesID(id), count: count, tMin: tMin, tMax: tMax, min: minimum, max: maximum,
                                             sum: sum, last: last, block: block, offset: chunkOffset, length: length))
            points += count
        }
        guard blockCount == 0 || (cursorBlock == blockCount - 1 && cursorOffset == blocks[cursorBlock].rawBytes) else {
            throw .corrupt("index: chunks do not cover every block")
        }
        guard index.isAtEnd else { throw .corrupt("index: \(index.remaining) bytes left after the last entry") }

        self.bytes = bytes
        self.formatVersion = version
        self.blocks = blocks
        self.entries = entries
        self.series = entries.map(\.series)
        self.pointCount = points
        if let low = entries.map(\.tMin).min(), let high = entries.map(\.tMax).max() {
            self.timeRange = low...high
        } else {
            self.timeRange = nil
        }
    }

    /// The index entry of `series`, or nil when the segment does not hold it. Needs no decompression.
    public func entry(for series: SeriesID) -> SegmentIndexEntry? {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].series < series { low = middle + 1 } else { high = middle }
        }
        return low < entries.count && entries[low].series == series ? entries[low] : nil
    }

    /// The points of `series`, ascending by time; empty when the segment does not hold it.
    ///
    /// - Throws: `SegmentError.corrupt` when the block does not decompress to its declared size or the chunk does
    ///   not decode to what the index says (possible only for a file forged with a valid CRC, or a writer bug).
    public func points(for series: SeriesID) throws(SegmentError) -> [Point] {
        guard let entry = entry(for: series) else { return [] }
        let block = blocks[entry.block]
        let source: [UInt8]
        let start: Int
        if block.isCompressed {
            source = try decompressed(block: entry.block)
            start = entry.offset
        } else {
            source = bytes
            start = block.offset + 1 + entry.offset
        }
        let points: [Point]
        do {
            points = try ChunkCodec.decode(source, range: start..<(start + entry.length), version: formatVersion)
        } catch {
            throw .corrupt("series \(series) in block \(entry.block): \(error)")
        }
        guard points.count == entry.count, points.first?.timeMs == entry.tMin, points.last?.timeMs == entry.tMax else {
            throw .corrupt("series \(series): chunk does not match its index entry")
        }
        return points
    }

    // MARK: - Helpers

    private func decompressed(block number: Int) throws(SegmentError) -> [UInt8] {
        if let hit = cache.withLock({ $0?.number == number ? $0?.bytes : nil }) { return hit }
        let block = blocks[number]
        let raw = try Self.load(bytes, at: block.offset, storedBytes: block.storedBytes, rawBytes: block.rawBytes, what: "block \(number)")
        cache.withLock { $0 = CachedBlock(number: number, bytes: raw) }
        return raw
    }

    /// The uncompressed bytes of a stored section (`kind │ payload`), decompressed under the declared size.
    private static func load(
        _ bytes: [UInt8], at offset: Int, storedBytes: Int, rawBytes: Int, what: @autoclosure () -> String
    ) throws(SegmentError) -> [UInt8] {
        let payload = (offset + 1)..<(offset + storedBytes)
        switch SegmentFormat.Kind(rawValue: bytes[offset]) {
        case .raw:
            guard payload.count == rawBytes else {
                throw .corrupt("\(what()) stores \(payload.count) raw bytes but declares \(rawBytes)")
            }
            return Array(bytes[payload])
        case .zstd:
            let raw: [UInt8]
            do {
                raw = try Zstd.decompress(Array(bytes[payload]), maxSize: rawBytes)
            } catch {
                throw .corrupt("\(what()) at byte \(offset): \(error)")
            }
            guard raw.count == rawBytes else {
                throw .corrupt("\(what()) at byte \(offset) decompressed to \(raw.count) bytes, declared \(rawBytes)")
            }
            return raw
        case nil:
            throw .corrupt("\(what()) at byte \(offset) has unknown kind \(bytes[offset])")
        }
    }

    private static func hex(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    private static func hex32(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// Reads the fields of an index body in order; every failure is `SegmentError.corrupt` naming the byte. Field
/// descriptions are autoclosures so that a valid index builds no strings.
private struct IndexParser {
    let body: [UInt8]
    var offset = 0

    var isAtEnd: Bool { offset == body.count }
    var remaining: Int { body.count - offset }

    mutating func uvarint() throws(SegmentError) -> UInt64 {
        do {
            return try Varint.read(body, at: &offset, end: body.count)
        } catch {
            throw .corrupt("index: \(error)")
        }
    }

    mutating func svarint() throws(SegmentError) -> Int64 {
        ZigZag.decode(try uvarint())
    }

    mutating func statistic() throws(SegmentError) -> Double {
        do {
            return try SegmentStatistic.read(body, at: &offset, end: body.count)
        } catch {
            throw .corrupt("index: \(error)")
        }
    }

    /// A size or position, refused above `limit`.
    mutating func size(limit: Int, _ what: @autoclosure () -> String) throws(SegmentError) -> Int {
        let value = try uvarint()
        guard value <= UInt64(max(limit, 0)) else { throw .corrupt("index: \(what()) \(value) exceeds \(limit)") }
        return Int(value)
    }

    /// A count, refused unless `minimumBytesEach` bytes per item are left, so nothing is reserved beyond the input.
    mutating func count(minimumBytesEach: Int, _ what: @autoclosure () -> String) throws(SegmentError) -> Int {
        let value = try uvarint()
        guard value <= UInt64(remaining / minimumBytesEach) else {
            throw .corrupt("index declares \(value) \(what()) in \(remaining) bytes")
        }
        return Int(value)
    }
}
