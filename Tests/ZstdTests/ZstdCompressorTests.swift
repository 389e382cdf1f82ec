import Testing
import Zstd

/// Deterministic pseudo-random bytes (SplitMix64), so failures reproduce.
func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    var out: [UInt8] = []
    out.reserveCapacity(count)
    while out.count < count {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        withUnsafeBytes(of: z) { out.append(contentsOf: $0.prefix(count - out.count)) }
    }
    return out
}

/// Sensor-like text: compressible.
func sensorLikeBytes(count: Int) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    while out.count < count {
        out.append(contentsOf: Array("{\"ts\":\(1_700_000_000_000 + i * 60_000),\"v\":\(20 + i % 7).\(i % 10)}\n".utf8))
        i += 1
    }
    return Array(out.prefix(count))
}

@Suite struct ZstdCompressorTests {
    @Test(arguments: [0, 1, 2, 100, 4_096, 65_536, 1_000_003])
    func randomBytesRoundTrip(count: Int) throws {
        var compressor = try ZstdCompressor()
        let input = pseudoRandomBytes(count: count, seed: UInt64(count))
        let frame = try compressor.compress(input, level: 1)
        #expect(try Zstd.decompress(frame, maxSize: count) == input)
    }

    @Test(arguments: [1, 3, 9, 19])
    func compressibleBytesRoundTripAtLevel(level: Int) throws {
        var compressor = try ZstdCompressor()
        let input = sensorLikeBytes(count: 200_000)
        let frame = try compressor.compress(input, level: level)
        #expect(frame.count < input.count / 3)
        #expect(try Zstd.decompress(frame, maxSize: input.count) == input)
    }

    @Test func emptyInputMakesAValidFrame() throws {
        var compressor = try ZstdCompressor()
        let frame = try compressor.compress([])
        #expect(!frame.isEmpty)
        #expect(try Zstd.decompress(frame, maxSize: 0) == [])
    }

    @Test func largeInputRoundTrips() throws {
        var compressor = try ZstdCompressor()
        // 24 MiB: random half, compressible half.
        let input = pseudoRandomBytes(count: 12 << 20, seed: 7) + sensorLikeBytes(count: 12 << 20)
        let frame = try compressor.compress(input, level: 1)
        let output = try Zstd.decompress(frame, maxSize: input.count)
        #expect(output.count == input.count)
        #expect(output == input)
    }

    @Test func oneCompressorServesManyCalls() throws {
        var compressor = try ZstdCompressor()
        for (index, size) in [10, 10_000, 0, 123_457, 5].enumerated() {
            let input = pseudoRandomBytes(count: size, seed: UInt64(index))
            let frame = try compressor.compress(input, level: index % 2 == 0 ? 1 : 6)
            #expect(try Zstd.decompress(frame, maxSize: size) == input)
        }
    }

    @Test func appendingVariantKeepsPrefixAndAppendsOneFrame() throws {
        var compressor = try ZstdCompressor()
        let prefix: [UInt8] = [0xCA, 0xFE, 0xBA, 0xBE]
        var dst = prefix
        let first = sensorLikeBytes(count: 50_000)
        let second = pseudoRandomBytes(count: 777, seed: 9)
        try compressor.compress(first, level: 3, appendingTo: &dst)
        let firstEnd = dst.count
        try compressor.compress(second, level: 3, appendingTo: &dst)
        #expect(Array(dst.prefix(4)) == prefix)
        #expect(try Zstd.decompress(Array(dst[4..<firstEnd]), maxSize: first.count) == first)
        #expect(try Zstd.decompress(Array(dst[firstEnd...]), maxSize: second.count) == second)
        // The two frames back to back decode to both inputs.
        #expect(try Zstd.decompress(Array(dst[4...]), maxSize: first.count + second.count) == first + second)
        // The appended frame is what the plain variant returns.
        #expect(Array(dst[firstEnd...]) == (try compressor.compress(second, level: 3)))
    }

    @Test func levelsAreReported() {
        #expect(ZstdCompressor.defaultLevel == 3)
        #expect(ZstdCompressor.levels.contains(1))
        #expect(ZstdCompressor.levels.upperBound >= 19)
    }
}
