import Testing
@testable import TimeSeriesStore

@Suite struct WALFormatTests {
    // MARK: File names

    @Test func fileNamesRoundTrip() {
        #expect(WALFileName.name(1) == "wal-00000001.log")
        #expect(WALFileName.name(12_345_678) == "wal-12345678.log")
        #expect(WALFileName.name(123_456_789) == "wal-123456789.log")
        for n in [1, 9, 10, 99_999_999, 100_000_000, 5_000_000_000] {
            #expect(WALFileName.number(of: WALFileName.name(n)) == n)
        }
    }

    @Test(arguments: [
        "wal-1.log", "wal-0000000a.log", "wal-00000000.log", "wal-00000001.log.tmp", "wal-00000001.LOG", "x-00000001.log",
        "wal-+0000001.log", "wal--0000001.log", "wal-.log", "wal.lock", "", "wal-0000000001234567890123.log",
    ])
    func otherNamesAreNotWALFiles(name: String) {
        #expect(WALFileName.number(of: name) == nil)
    }

    // MARK: Points

    static let pointCases: [(String, [(SeriesID, Point)])] = [
        ("single", [(7, Point(timeMs: 1_767_225_600_000, value: 21.5))]),
        ("regular", (0..<100).map { (SeriesID($0 % 3), Point(timeMs: 1_767_225_600_000 + Int64($0) * 60_000, value: Double($0) * 0.01)) }),
        ("jitter and out of order", [1_000, 998, 1_003, -5, 0, 1_000_000].map { (1, Point(timeMs: $0, value: 1)) }),
        ("negative epoch", [(0, Point(timeMs: -86_400_000, value: -1)), (0, Point(timeMs: -1, value: 2))]),
        ("extreme times wrap", [Int64.min, Int64.max, Int64.min, 0, Int64.max, -1].map { (SeriesID.max, Point(timeMs: $0, value: 0)) }),
        ("special values", [
            Double.nan, -Double.nan, Double(bitPattern: 0x7FF4_0000_0000_0001), -0.0, .infinity, -.infinity,
            .leastNonzeroMagnitude, .greatestFiniteMagnitude, .ulpOfOne,
        ].enumerated().map { (SeriesID($0.offset), Point(timeMs: Int64($0.offset), value: $0.element)) }),
        ("large ids", [SeriesID.max, 0, 127, 128, 16_383, 16_384, 1 << 28].map { ($0, Point(timeMs: 5, value: 5)) }),
    ]

    @Test(arguments: pointCases.indices)
    func pointsRoundTripBitExactly(index: Int) throws {
        let (name, points) = Self.pointCases[index]
        let bytes = WALRecordEncoder.encode(points: points)
        let records = try WALFixture.decodeFramed(bytes)
        #expect(records.count == 1, "\(name)")
        #expect(records.first.map(WALFixture.comparable) == WALFixture.Rec.points(points.map(WALFixture.P.init)), "\(name)")
    }

    @Test func emptyBatchWritesNothing() {
        #expect(WALRecordEncoder.encode(points: []).isEmpty)
        #expect((try? WALRecordEncoder.encode(series: [])) == [])
    }

    @Test func largeBatchesSplitIntoRecordsOf65536Points() throws {
        let points = WALFixture.points(seed: 3, count: 2 * WALFormat.maxPointsPerRecord + 5)
        let records = try WALFixture.decodeFramed(WALRecordEncoder.encode(points: points))
        #expect(records.count == 3)
        let flattened = records.flatMap { record -> [WALFixture.P] in
            guard case .points(let p) = WALFixture.comparable(record) else { return [] }
            return p
        }
        #expect(flattened == points.map(WALFixture.P.init))
    }

    @Test func regularSensorDataCostsAboutTwelveBytesPerPoint() {
        // 1,000 series reporting every minute: small ids, 60 s deltas (inside a record the delta runs across series).
        var points: [(SeriesID, Point)] = []
        for minute in 0..<10 {
            for series in 0..<1000 { points.append((SeriesID(series), Point(timeMs: 1_767_225_600_000 + Int64(minute) * 60_000, value: 20.5))) }
        }
        let bytes = WALRecordEncoder.encode(points: points)
        #expect(bytes.count < points.count * 13)
    }

    // MARK: Series

    @Test func seriesRoundTripWithUnicodeAndEmptyStrings() throws {
        let definitions: [WALSeriesDefinition] = [
            (id: 0, device: "", metric: "", unit: ""),
            (id: 1, device: "724031556159", metric: "distance", unit: "m"),
            (id: 2, device: "设备-北京-001", metric: "温度", unit: "°C"),
            (id: 3, device: "🚦-crossing/7", metric: "state", unit: "µS/cm"),
            (id: SeriesID.max, device: String(repeating: "é", count: 3000), metric: "m\u{0}n", unit: "%"),
        ]
        let records = try WALFixture.decodeFramed(try WALRecordEncoder.encode(series: definitions))
        #expect(records.map(WALFixture.comparable) == [.series(definitions.map(WALFixture.S.init))])
    }

    @Test func oversizedSeriesDefinitionIsRefused() {
        let huge = String(repeating: "x", count: WALFormat.maxPayloadBytes)
        #expect(throws: WALError.recordTooLarge(bytes: WALFormat.maxPayloadBytes + 1 + 3 + 3 + 6)) {
            try WALRecordEncoder.encode(series: [(id: 1, device: huge, metric: "", unit: "")])
        }
    }

    @Test func manySeriesSplitIntoRecordsOfAboutOneMiB() throws {
        let definitions: [WALSeriesDefinition] = (0..<40_000).map { (id: SeriesID($0), device: "device-\($0)-" + String(repeating: "d", count: 40), metric: "metric", unit: "u") }
        let records = try WALFixture.decodeFramed(try WALRecordEncoder.encode(series: definitions))
        #expect(records.count > 1)
        let flattened = records.flatMap { record -> [WALFixture.S] in
            guard case .series(let s) = WALFixture.comparable(record) else { return [] }
            return s
        }
        #expect(flattened == definitions.map(WALFixture.S.init))
    }

    // MARK: Decoder rejects what the writer never produces

    static let badPayloads: [(String, [UInt8], WALDecodeError)] = [
        ("empty", [], .empty),
        ("unknown type", [9, 0], .unknownType(9)),
        ("no count", [1], .truncated(offset: 1)),
        ("points count larger than the payload can hold", [1, 0x80, 0x80, 0x80, 0x80, 0x10] + [UInt8](repeating: 0, count: 20), .countTooLarge(1 << 32)),
        ("series count larger than the payload can hold", [2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0], .countTooLarge(0x7FFF_FFFF_FFFF_FFFF)),
        // Two entries claimed; the second is long enough to pass the count bound but ends early.
        ("entry cut short", [1, 2, 5, 2, 1, 2, 3, 4, 5, 6, 7, 8] + [UInt8](repeating: 0x80, count: 9) + [0], .truncated(offset: 22)),
        ("value cut short", [1, 2, 5, 2, 1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0x80, 0x80, 0x80, 1, 0x80, 0x80, 0x80, 0x80, 1], .truncated(offset: 22)),
        ("series id above 32 bits", [1, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0], .varintOverflow(offset: 2)),
        ("varint longer than 10 bytes", [1, 1, 1] + [UInt8](repeating: 0xFF, count: 10) + [1, 0, 0, 0, 0, 0, 0, 0, 0], .varintOverflow(offset: 3)),
        ("trailing bytes", [1, 1, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xAA], .trailingBytes(1)),
        ("string longer than payload", [2, 1, 1, 100, 0x61, 0x62], .truncated(offset: 4)),
        ("invalid UTF-8", [2, 1, 1, 2, 0xC3, 0x28, 0, 0], .invalidUTF8(offset: 4)),
    ]

    @Test(arguments: badPayloads.indices)
    func decoderRejectsMalformedPayloads(index: Int) {
        let (name, payload, expected) = Self.badPayloads[index]
        #expect(throws: expected, "\(name)") {
            try payload.withUnsafeBytes { raw in _ = try WALRecordDecoder.decode(raw) }
        }
    }
}
