import Testing
import TimeSeriesStore

/// Damaged and forged segment files are refused with the right `SegmentError`, never trapped on.
@Suite struct SegmentCorruptionTests {
    enum Kind: String { case truncated, checksum, corrupt, unsupportedVersion, compression }

    static func kind(_ error: SegmentError) -> Kind {
        switch error {
        case .truncated: .truncated
        case .checksum: .checksum
        case .corrupt: .corrupt
        case .unsupportedVersion: .unsupportedVersion
        case .compression: .compression
        }
    }

    /// A few KB: several blocks (some compressed, some raw), a compressed index. (150 points a series: with format
    /// 2's zero-run timestamps, 60 left blocks too small to compress.)
    static let smallSegment: (bytes: [UInt8], workload: [(SeriesID, [Point])]) = {
        var workload = CodecFixtures.cityWorkload(series: 10, points: 150, seed: 11)
        workload.append((1_000, CodecFixtures.points([5, 6], [1.5, 2.5])))  // a chunk small enough for a raw block
        var writer = SegmentWriter(level: 3, blockSize: 300)
        for (id, points) in workload { writer.append(series: id, points: points) }
        return (try! writer.finish(), workload)
    }()

    /// Recomputes the CRC after a deliberate edit, so the structural checks behind it are what gets tested.
    static func reseal(_ bytes: inout [UInt8]) {
        let n = bytes.count
        let crc = CRC32C.checksum(bytes[0..<(n - 8)])
        for i in 0..<4 { bytes[n - 8 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    }

    @Test func smallSegmentIsShapedAsIntended() throws {
        let (bytes, workload) = Self.smallSegment
        #expect((1_500...6_000).contains(bytes.count), "\(bytes.count) bytes")
        let reader = try SegmentReader(bytes: bytes)
        #expect(reader.blocks.contains { $0.isCompressed } && reader.blocks.contains { !$0.isCompressed })
        for (id, points) in workload {
            #expect(CodecFixtures.bits(try reader.points(for: id)) == CodecFixtures.bits(points))
        }
    }

    /// Every single-bit flip anywhere in the file is detected, and reported as what it damaged.
    @Test func everySingleBitFlipIsDetected() {
        var bytes = Self.smallSegment.bytes
        let n = bytes.count
        var seen: [Kind: Int] = [:]
        for bit in 0..<(n * 8) {
            let byte = bit / 8
            bytes[byte] ^= 1 << (bit % 8)
            defer { bytes[byte] ^= 1 << (bit % 8) }
            let error = #expect(throws: SegmentError.self, "bit \(bit) (byte \(byte) of \(n))") { _ = try SegmentReader(bytes: bytes) }
            guard let error else { continue }
            let kind = Self.kind(error)
            seen[kind, default: 0] += 1
            let expected: Set<Kind>
            switch byte {
            case 0..<4, (n - 4)...: expected = [.corrupt]  // magics
            case 4: expected = [.unsupportedVersion]
            case 8..<16: expected = [.truncated, .corrupt]  // the declared length no longer matches
            default: expected = [.checksum]  // reserved bytes, blocks, index, trailer fields, the CRC itself
            }
            #expect(expected.contains(kind), "bit \(bit) (byte \(byte) of \(n)): \(error)")
        }
        #expect(seen[.checksum, default: 0] > 8 * (n - 40))
    }

    /// Every truncation length, including zero bytes, is reported as truncation.
    @Test func everyTruncationIsDetected() {
        let bytes = Self.smallSegment.bytes
        for length in 0..<bytes.count {
            let error = #expect(throws: SegmentError.self, "length \(length)") { _ = try SegmentReader(bytes: Array(bytes.prefix(length))) }
            if let error { #expect(Self.kind(error) == .truncated, "length \(length): \(error)") }
        }
    }

    @Test func appendedBytesAreRefused() {
        let error = #expect(throws: SegmentError.self) { _ = try SegmentReader(bytes: Self.smallSegment.bytes + [0]) }
        #expect(error.map(Self.kind) == .corrupt)
        #expect(error?.description.contains("trailing garbage") == true)
    }

    @Test func otherFilesAreRefusedWithClearMessages() {
        let notSegment = Array("SQLite format 3\0".utf8) + Array(repeating: 0, count: 100)
        let error = #expect(throws: SegmentError.self) { _ = try SegmentReader(bytes: notSegment) }
        #expect(error.map(Self.kind) == .corrupt)
        #expect(error?.description.contains("not a segment file") == true)

        for version: UInt8 in [0, 3, 255] {
            var other = Self.smallSegment.bytes
            other[4] = version
            Self.reseal(&other)
            let error = #expect(throws: SegmentError.unsupportedVersion(version)) { _ = try SegmentReader(bytes: other) }
            #expect(error?.description == "segment version \(version) is not supported (this build reads 1 to 2)")
        }

        let checksum = #expect(throws: SegmentError.self) {
            var damaged = Self.smallSegment.bytes
            damaged[100] ^= 0x10
            _ = try SegmentReader(bytes: damaged)
        }
        #expect(checksum?.description.contains("stored CRC32C 0x") == true, "\(String(describing: checksum))")
    }

    @Test func randomGarbageIsRefused() {
        var g = SeededGenerator(seed: 0x5E6)
        for round in 0..<2_000 {
            var bytes = (0..<Int.random(in: 0...300, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            if round % 2 == 0 && bytes.count >= 40 {
                // Plausible frame: right magics, version and length, so the CRC is what must catch it.
                bytes.replaceSubrange(0..<5, with: SegmentFormat.magic + [SegmentFormat.version])
                for i in 0..<8 { bytes[8 + i] = UInt8(truncatingIfNeeded: bytes.count >> (8 * i)) }
                bytes.replaceSubrange((bytes.count - 4)..., with: SegmentFormat.magic)
                let error = #expect(throws: SegmentError.self) { _ = try SegmentReader(bytes: bytes) }
                #expect(error.map(Self.kind) == .checksum)
            } else {
                #expect(throws: SegmentError.self) { _ = try SegmentReader(bytes: bytes) }
            }
        }
    }

    /// A forged file (valid CRC) with random byte changes in its blocks and index: the reader refuses it as corrupt
    /// or, when the change happens to be consistent, answers without trapping and never returns a chunk that
    /// disagrees with its index entry.
    @Test func resealedMutationsNeverTrap() {
        let original = Self.smallSegment.bytes
        let n = original.count
        var g = SeededGenerator(seed: 0xF0F0)
        var refusedAtOpen = 0
        var refusedAtRead = 0
        for round in 0..<3_000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &g) {
                let at = Int.random(in: SegmentFormat.headerSize..<(n - 8), using: &g)
                bytes[at] ^= UInt8.random(in: 1...255, using: &g)
            }
            Self.reseal(&bytes)
            do {
                let reader = try SegmentReader(bytes: bytes)
                for entry in reader.entries {
                    do {
                        let points = try reader.points(for: entry.series)
                        #expect(points.count == entry.count && points.first?.timeMs == entry.tMin && points.last?.timeMs == entry.tMax)
                    } catch {
                        #expect(Self.kind(error) == .corrupt, "round \(round): \(error)")
                        refusedAtRead += 1
                    }
                }
            } catch {
                #expect(Self.kind(error) == .corrupt, "round \(round): \(error)")
                refusedAtOpen += 1
            }
        }
        print("resealed mutations: \(refusedAtOpen) of 3,000 refused at open, \(refusedAtRead) reads refused")
        #expect(refusedAtOpen > 300)
        #expect(refusedAtRead > 10)
    }

    @Test func blocksAboveTheReadersLimitAreRefused() throws {
        let bytes = Self.smallSegment.bytes
        let largest = try SegmentReader(bytes: bytes).blocks.map(\.rawBytes).max()!
        _ = try SegmentReader(bytes: bytes, maxBlockBytes: largest)
        let error = #expect(throws: SegmentError.self) { _ = try SegmentReader(bytes: bytes, maxBlockBytes: largest - 1) }
        #expect(error.map(Self.kind) == .corrupt)
    }

    @Test func aDamagedZstdFrameIsReportedWhenItsSeriesIsRead() throws {
        let (original, workload) = Self.smallSegment
        let blocks = try SegmentReader(bytes: original).blocks
        let number = try #require(blocks.firstIndex { $0.isCompressed })
        var bytes = original
        bytes[blocks[number].offset + 1] ^= 0xFF  // zstd frame magic
        Self.reseal(&bytes)
        let reader = try SegmentReader(bytes: bytes)  // the index is intact
        var failed = 0
        for (id, points) in workload {
            do {
                #expect(CodecFixtures.bits(try reader.points(for: id)) == CodecFixtures.bits(points))
            } catch {
                #expect(Self.kind(error) == .corrupt)
                #expect(error.description.contains("block \(number)"))
                failed += 1
            }
        }
        #expect(failed >= 1, "the series in the damaged block fail")
        #expect(failed < workload.count, "the others still read")
    }

    // MARK: - Forged index bodies

    /// Two series in one raw block, so the chunks are known exactly.
    static let pointsA = CodecFixtures.points([10, 20, 30], [1, 2, 3])
    static let pointsB = CodecFixtures.points([15, 25], [0.5, 0.25])

    static func chunk(_ points: [Point], version: UInt8 = SegmentFormat.version) -> [UInt8] {
        var bytes: [UInt8] = []
        ChunkCodec.encode(points, into: &bytes, version: version)
        return bytes
    }

    struct Entry {
        var delta: UInt64
        var block: UInt64 = 0
        var offset: UInt64
        var length: UInt64
        var count: UInt64
        var tMin: Int64
        var span: UInt64
        var stats: [Double] = [0, 0, 0, 0]
        var statMarker: UInt8 = 0xFF
    }

    static func validEntries(version: UInt8 = SegmentFormat.version) -> [Entry] {
        let a = chunk(pointsA, version: version)
        let b = chunk(pointsB, version: version)
        return [
            Entry(delta: 4, offset: 0, length: UInt64(a.count), count: 3, tMin: 10, span: 20, stats: [1, 3, 6, 3]),
            Entry(delta: 5, offset: UInt64(a.count), length: UInt64(b.count), count: 2, tMin: 15, span: 10, stats: [0.25, 0.5, 0.75, 0.25]),
        ]
    }

    /// A complete file of format `version`: header, one raw block with the two chunks, a raw index with `entries`,
    /// trailer. Version 2 entries have no block or offset (those fields of `Entry` are ignored) and store `tMin`
    /// relative to the previous entry's.
    static func forge(entries: [Entry], version: UInt8 = SegmentFormat.version, blocks: [(stored: UInt64, raw: UInt64)]? = nil, blockCount: UInt64? = nil,
                      seriesCount: UInt64? = nil, extra: [UInt8] = [], blockBytes: [UInt8]? = nil) -> [UInt8] {
        let data = blockBytes ?? chunk(pointsA, version: version) + chunk(pointsB, version: version)
        var file = SegmentFormat.magic + [version, 0, 0, 0] + [UInt8](repeating: 0, count: 8)
        file.append(0)  // raw block
        file += data
        var body: [UInt8] = []
        let table = blocks ?? [(UInt64(data.count + 1), UInt64(data.count))]
        Varint.append(blockCount ?? UInt64(table.count), to: &body)
        for b in table {
            Varint.append(b.stored, to: &body)
            Varint.append(b.raw, to: &body)
        }
        Varint.append(seriesCount ?? UInt64(entries.count), to: &body)
        var previousTMin: Int64 = 0
        for e in entries {
            let fields = version == 1 ? [e.delta, e.block, e.offset, e.length, e.count] : [e.delta, e.length, e.count]
            for v in fields { Varint.append(v, to: &body) }
            Varint.appendSigned(version == 1 ? e.tMin : e.tMin &- previousTMin, to: &body)
            previousTMin = e.tMin
            Varint.append(e.span, to: &body)
            for s in e.stats {
                body.append(e.statMarker)  // 0xFF: stored as the bit pattern
                for i in 0..<8 { body.append(UInt8(truncatingIfNeeded: s.bitPattern >> (8 * UInt64(i)))) }
            }
        }
        body += extra
        let indexOffset = file.count
        file.append(0)  // raw index
        file += body
        func le(_ v: UInt64, _ width: Int) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        file += le(UInt64(indexOffset), 8) + le(UInt64(body.count + 1), 4) + le(UInt64(body.count), 4)
        let total = file.count + 8
        file.replaceSubrange(8..<16, with: le(UInt64(total), 8))
        file += le(UInt64(CRC32C.checksum(file)), 4) + SegmentFormat.magic
        return file
    }

    @Test(arguments: [UInt8(1), 2])
    func theForgeBuildsAValidFile(version: UInt8) throws {
        let reader = try SegmentReader(bytes: Self.forge(entries: Self.validEntries(version: version), version: version))
        #expect(reader.formatVersion == version)
        #expect(reader.series == [4, 9])
        #expect(CodecFixtures.bits(try reader.points(for: 4)) == CodecFixtures.bits(Self.pointsA))
        #expect(CodecFixtures.bits(try reader.points(for: 9)) == CodecFixtures.bits(Self.pointsB))
        #expect(reader.entry(for: 9)?.sum == 0.75)
    }

    @Test(arguments: [UInt8(1), 2])
    func inconsistentIndexesAreRefusedAtOpen(version: UInt8) {
        let valid = Self.validEntries(version: version)
        let dataCount = UInt64(Self.chunk(Self.pointsA, version: version).count + Self.chunk(Self.pointsB, version: version).count)
        var forged: [(String, [UInt8])] = []
        func forge(entries: [Entry], blocks: [(stored: UInt64, raw: UInt64)]? = nil, blockCount: UInt64? = nil, seriesCount: UInt64? = nil,
                   extra: [UInt8] = []) -> [UInt8] {
            Self.forge(entries: entries, version: version, blocks: blocks, blockCount: blockCount, seriesCount: seriesCount, extra: extra)
        }
        var e = valid
        e[1].delta = 0
        forged.append(("repeated series id", forge(entries: e)))
        e = valid
        e[0].delta = UInt64(UInt32.max)
        forged.append(("series id beyond 32 bits", forge(entries: e)))
        if version == 1 {
            e = valid
            e[1].offset += 1
            forged.append(("gap between chunks", forge(entries: e)))
            e = valid
            e[1].block = 1
            forged.append(("block number out of range", forge(entries: e)))
        }
        e = valid
        e[0].length -= 1
        forged.append(("overlapping chunks", forge(entries: e)))
        e = valid
        e[1].length -= 1
        forged.append(("block not covered", forge(entries: e)))
        e = valid
        e[1].length += 1
        forged.append(("chunk past the block", forge(entries: e)))
        e = valid
        e[0].count = 0
        forged.append(("empty chunk", forge(entries: e)))
        e = valid
        // Format 2 lets a chunk hold more points than bytes (zero runs), up to a bound.
        e[0].count = version == 1 ? 1_000 : UInt64(ChunkCodec.maxPointsBeyondBytes + 1)
        forged.append(("count above the chunk's bytes", forge(entries: e)))
        e = valid
        e[0].tMin = .max
        forged.append(("tMax overflows", forge(entries: e)))
        e = valid
        e[0].statMarker = 16
        forged.append(("statistic exponent 16", forge(entries: e)))
        forged.append(("series count beyond the index", forge(entries: valid, seriesCount: 1 << 40)))
        forged.append(("missing entry", forge(entries: valid, seriesCount: 3)))
        forged.append(("bytes after the index", forge(entries: valid, extra: [0])))
        forged.append(("block table longer than the data", forge(entries: valid, blocks: [(dataCount + 2, dataCount + 1)])))
        forged.append(("raw block with a wrong raw length", forge(entries: valid, blocks: [(dataCount + 1, dataCount - 1)])))
        forged.append(("block count beyond the index", forge(entries: valid, blockCount: 1 << 40)))
        forged.append(("one block too many", forge(entries: valid, blocks: [(dataCount + 1, dataCount), (0, 0)])))
        for (name, bytes) in forged {
            let error = #expect(throws: SegmentError.self, "\(name)") { _ = try SegmentReader(bytes: bytes) }
            if let error { #expect(Self.kind(error) == .corrupt, "\(name): \(error)") }
        }
    }

    @Test func chunksThatDisagreeWithTheIndexAreRefusedOnRead() throws {
        var e = Self.validEntries()
        e[0].tMin = 11  // the chunk starts at 10
        let reader = try SegmentReader(bytes: Self.forge(entries: e))
        let error = #expect(throws: SegmentError.self) { _ = try reader.points(for: 4) }
        #expect(error.map(Self.kind) == .corrupt)
        #expect(CodecFixtures.bits(try reader.points(for: 9)) == CodecFixtures.bits(Self.pointsB))

        // The chunk itself says 2 points where the index says 3: same length, different count varint.
        var data = Self.chunk(Self.pointsA) + Self.chunk(Self.pointsB)
        data[0] = 2
        let mismatched = try SegmentReader(bytes: Self.forge(entries: Self.validEntries(), blockBytes: data))
        #expect(throws: SegmentError.self) { _ = try mismatched.points(for: 4) }
    }
}
