import Zstd

/// Builds one immutable segment file in memory: the chunks of many series for one time partition
/// (docs/formats/segment.md).
///
/// Pure and synchronous: `append` encodes a series' chunk at once (so raw points are not kept), `finish` sorts the
/// chunks by series id, packs them into blocks of about `blockSize` bytes, compresses each block with zstd at
/// `level` when that pays, and returns the whole file. The caller writes it to a temporary file, fsyncs and renames.
/// Run it on a blocking-work thread (zstd is CPU-bound), never on the cooperative pool.
public struct SegmentWriter: Sendable {
    /// zstd level for blocks and the index.
    public let level: Int32
    /// Uncompressed bytes at which a block is cut.
    public let blockSize: Int
    /// The segment format version written: `SegmentFormat.version`, or 1 for compatibility tests.
    public let formatVersion: UInt8

    /// Every chunk so far, back to back in append order.
    private var chunkBytes: [UInt8] = []
    /// One per appended series: where its chunk is in `chunkBytes`, and its statistics.
    private var pending: [Pending] = []
    private var points = 0

    private struct Pending: Sendable {
        var series: SeriesID
        var start: Int
        var length: Int
        var count: Int
        var tMin: Int64
        var tMax: Int64
        var min: Double
        var max: Double
        var sum: Double
        var last: Double
    }

    /// Creates an empty writer. The defaults are the measured choice in docs/formats/segment.md ("Choosing block
    /// size and zstd level"): larger blocks barely shrink the file but make every one-series query decompress more.
    ///
    /// - Parameters:
    ///   - level: zstd level, 1 (fast) to 19; 3 is zstd's default.
    ///   - blockSize: uncompressed bytes per block; a block is cut before the chunk that would pass it.
    ///   - formatVersion: the format written; only 1 (what older builds wrote, for tests of reading it) and
    ///     `SegmentFormat.version` exist.
    public init(level: Int32 = 3, blockSize: Int = 16 * 1024, formatVersion: UInt8 = SegmentFormat.version) {
        precondition(blockSize > 0, "blockSize must be positive")
        precondition(formatVersion == 1 || formatVersion == SegmentFormat.version, "segment format \(formatVersion) cannot be written")
        self.level = level
        self.blockSize = blockSize
        self.formatVersion = formatVersion
    }

    /// Series appended so far (empty appends not counted).
    public var seriesCount: Int { pending.count }
    /// Points appended so far.
    public var pointCount: Int { points }

    /// Adds one series' points. An empty `points` adds nothing.
    ///
    /// Preconditions (programmer errors, not input errors: the store resolves its heads before sealing): times are
    /// strictly ascending, a series is appended at most once per segment (checked by `finish`), and the chunk is at
    /// most `SegmentFormat.maxBlockBytes` (over 13 million points).
    public mutating func append(series: SeriesID, points: [Point]) {
        guard let first = points.first, let lastPoint = points.last else { return }
        var minimum = Double.nan
        var maximum = Double.nan
        var sum = 0.0
        var previousTime = Int64.min
        for (index, point) in points.enumerated() {
            precondition(index == 0 || point.timeMs > previousTime, "series \(series): times must be strictly ascending (point \(index))")
            previousTime = point.timeMs
            let v = point.value
            sum += v
            if !v.isNaN {
                if minimum.isNaN || v < minimum { minimum = v }
                if maximum.isNaN || v > maximum { maximum = v }
            }
        }
        let start = chunkBytes.count
        ChunkCodec.encode(points, into: &chunkBytes, version: formatVersion)
        let length = chunkBytes.count - start
        precondition(length <= SegmentFormat.maxBlockBytes, "series \(series): chunk of \(length) bytes exceeds the block limit")
        pending.append(Pending(series: series, start: start, length: length, count: points.count, tMin: first.timeMs,
                               tMax: lastPoint.timeMs, min: minimum, max: maximum, sum: sum, last: lastPoint.value))
        self.points += points.count
    }

    /// The whole segment file.
    ///
    /// - Throws: `SegmentError.compression` when zstd cannot allocate its context.
    public func finish() throws(SegmentError) -> [UInt8] {
        let order = pending.indices.sorted { pending[$0].series < pending[$1].series }
        for (a, b) in zip(order, order.dropFirst()) {
            precondition(pending[a].series != pending[b].series, "series \(pending[a].series) appended twice to one segment")
        }
        var compressor: ZstdCompressor
        do {
            compressor = try ZstdCompressor()
        } catch {
            throw .compression(error.description)
        }
        let level = Int(level)

        var out: [UInt8] = []
        out.reserveCapacity(chunkBytes.count / 2 + pending.count * 48 + 1024)
        out.append(contentsOf: SegmentFormat.magic)
        out.append(contentsOf: [formatVersion, 0, 0, 0])
        LittleEndian.append(UInt64(0), to: &out)  // file length, patched below

        // Blocks: whole chunks in series order, cut before the chunk that would pass blockSize.
        var blocks: [(stored: Int, raw: Int)] = []
        var locations: [(block: Int, offset: Int)] = []  // written only by format 1
        locations.reserveCapacity(order.count)
        var block: [UInt8] = []
        block.reserveCapacity(min(blockSize, chunkBytes.count) + 64)
        for index in order {
            let chunk = pending[index]
            if !block.isEmpty && block.count + chunk.length > blockSize {
                let start = out.count
                try Self.appendStored(block, level: level, compressor: &compressor, to: &out)
                blocks.append((out.count - start, block.count))
                block.removeAll(keepingCapacity: true)
            }
            locations.append((blocks.count, block.count))
            block.append(contentsOf: chunkBytes[chunk.start..<(chunk.start + chunk.length)])
        }
        if !block.isEmpty {
            let start = out.count
            try Self.appendStored(block, level: level, compressor: &compressor, to: &out)
            blocks.append((out.count - start, block.count))
        }

        // Index body: block table, then one entry per series in ascending id order.
        var body: [UInt8] = []
        body.reserveCapacity(blocks.count * 6 + order.count * 32 + 16)
        Varint.append(UInt64(blocks.count), to: &body)
        for b in blocks {
            Varint.append(UInt64(b.stored), to: &body)
            Varint.append(UInt64(b.raw), to: &body)
        }
        Varint.append(UInt64(order.count), to: &body)
        var previous: SeriesID = 0
        var previousTMin: Int64 = 0
        let exponentLimit = formatVersion == 1 ? ValueCodec.maxDecimalExponentVersion1 : ValueCodec.maxDecimalExponent
        for (position, index) in order.enumerated() {
            let chunk = pending[index]
            Varint.append(UInt64(chunk.series - previous), to: &body)
            previous = chunk.series
            if formatVersion == 1 {
                // Version 2 derives both from the chunk lengths: chunks tile the blocks in order.
                Varint.append(UInt64(locations[position].block), to: &body)
                Varint.append(UInt64(locations[position].offset), to: &body)
            }
            Varint.append(UInt64(chunk.length), to: &body)
            Varint.append(UInt64(chunk.count), to: &body)
            // Version 2: relative to the previous entry's (series of one partition start close together).
            Varint.appendSigned(formatVersion == 1 ? chunk.tMin : chunk.tMin &- previousTMin, to: &body)
            previousTMin = chunk.tMin
            Varint.append(UInt64(bitPattern: chunk.tMax &- chunk.tMin), to: &body)
            for statistic in [chunk.min, chunk.max, chunk.sum, chunk.last] {
                SegmentStatistic.append(statistic, to: &body, maxDecimalExponent: exponentLimit)
            }
        }
        precondition(body.count <= SegmentFormat.maxIndexBytes, "index of \(order.count) series exceeds the index limit")

        let indexOffset = out.count
        try Self.appendStored(body, level: level, compressor: &compressor, to: &out)
        let indexLength = out.count - indexOffset

        // Trailer: everything up to and including the index lengths is covered by the CRC.
        LittleEndian.append(UInt64(indexOffset), to: &out)
        LittleEndian.append(UInt32(indexLength), to: &out)
        LittleEndian.append(UInt32(body.count), to: &out)
        LittleEndian.store(UInt64(out.count + 8), into: &out, at: 8)
        LittleEndian.append(CRC32C.checksum(out), to: &out)
        out.append(contentsOf: SegmentFormat.magic)
        return out
    }

    /// Appends `kind │ payload` for `raw`: zstd when the block is at least 128 bytes and zstd saves at least 10 %
    /// (below that, decompressing costs more than the bytes saved), else raw.
    private static func appendStored(
        _ raw: [UInt8], level: Int, compressor: inout ZstdCompressor, to out: inout [UInt8]
    ) throws(SegmentError) {
        let start = out.count
        if raw.count >= SegmentFormat.minCompressibleSize {
            out.append(SegmentFormat.Kind.zstd.rawValue)
            do {
                try compressor.compress(raw, level: level, appendingTo: &out)
            } catch {
                throw .compression(error.description)
            }
            if (out.count - start - 1) * 10 <= raw.count * 9 { return }
            out.removeLast(out.count - start)
        }
        out.append(SegmentFormat.Kind.raw.rawValue)
        out.append(contentsOf: raw)
    }
}
