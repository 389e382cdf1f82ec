import Testing
import Zstd

/// A hand-built zstd frame without a content size: header descriptor 0x00 (no FCS, not single-segment), a window
/// descriptor, then `blocks` RLE blocks of `blockSize` copies of `byte` (RFC 8878 §3.1.1). Decodes to
/// `blocks × blockSize` bytes from a few bytes of input: a decompression bomb when large.
func unknownSizeRLEFrame(blocks: Int, blockSize: Int = 1 << 17, byte: UInt8 = 0x41) -> [UInt8] {
    precondition(blockSize <= 1 << 17)
    var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]  // magic 0xFD2FB528, little-endian
    frame.append(0x00)  // Frame_Header_Descriptor: FCS absent, Single_Segment 0, no checksum, no dictionary
    frame.append(0x58)  // Window_Descriptor: exponent 11 -> window 2^21
    for index in 0..<blocks {
        let last: UInt32 = index == blocks - 1 ? 1 : 0
        let header = last | (1 << 1) | (UInt32(blockSize) << 3)  // Block_Type 1 = RLE
        frame.append(contentsOf: [UInt8(header & 0xFF), UInt8((header >> 8) & 0xFF), UInt8((header >> 16) & 0xFF), byte])
    }
    return frame
}

@Suite struct ZstdTests {
    @Test func refusesKnownContentSizeAboveMaxSize() throws {
        var compressor = try ZstdCompressor()
        let input = sensorLikeBytes(count: 10_000)
        let frame = try compressor.compress(input)
        let error = #expect(throws: ZstdError.self) { try Zstd.decompress(frame, maxSize: 9_999) }
        #expect(error?.kind == .contentTooLarge)
        #expect(try Zstd.decompress(frame, maxSize: 10_000) == input)
    }

    @Test func refusesHugeDeclaredContentSizeWithoutDecoding() throws {
        // Single-segment frame declaring 2^40 bytes of content (8-byte FCS field), then a tiny raw block.
        var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xE0]
        withUnsafeBytes(of: (UInt64(1) << 40).littleEndian) { frame.append(contentsOf: $0) }
        frame.append(contentsOf: [0x09, 0x00, 0x00, 0x41])  // last raw block of 1 byte
        let error = #expect(throws: ZstdError.self) { try Zstd.decompress(frame, maxSize: 1 << 30) }
        #expect(error?.kind == .contentTooLarge)
    }

    @Test func declaredSizesThatWouldOverflowAreRefused() throws {
        var compressor = try ZstdCompressor()
        var frames = try compressor.compress([1, 2, 3])
        // Second frame declares 2^64 - 3 bytes: the running total must not overflow.
        frames.append(contentsOf: [0x28, 0xB5, 0x2F, 0xFD, 0xE0])
        withUnsafeBytes(of: (UInt64.max - 2).littleEndian) { frames.append(contentsOf: $0) }
        frames.append(contentsOf: [0x09, 0x00, 0x00, 0x41])
        let error = #expect(throws: ZstdError.self) { try Zstd.decompress(frames, maxSize: Int.max) }
        #expect(error?.kind == .contentTooLarge)
    }

    @Test func decodesUnknownSizeFrameWithinLimit() throws {
        let frame = unknownSizeRLEFrame(blocks: 3, blockSize: 1_000)
        #expect(try Zstd.decompress(frame, maxSize: 3_000) == [UInt8](repeating: 0x41, count: 3_000))
    }

    @Test func refusesUnknownSizeBombPastMaxSize() throws {
        // 1 GiB of output from ~32 KiB of input.
        let frame = unknownSizeRLEFrame(blocks: 8_192)
        #expect(frame.count < 40_000)
        let error = #expect(throws: ZstdError.self) { try Zstd.decompress(frame, maxSize: 1 << 20) }
        #expect(error?.kind == .contentTooLarge)
        let exact = unknownSizeRLEFrame(blocks: 8, blockSize: 1 << 17)
        let oneByteShort = #expect(throws: ZstdError.self) { try Zstd.decompress(exact, maxSize: (8 << 17) - 1) }
        #expect(oneByteShort?.kind == .contentTooLarge)
        #expect(try Zstd.decompress(exact, maxSize: 8 << 17).count == 8 << 17)
    }

    @Test func emptyInputIsNotAFrame() {
        let error = #expect(throws: ZstdError.self) { try Zstd.decompress([], maxSize: 100) }
        #expect(error?.kind == .invalidFrame)
    }

    @Test(arguments: [1, 3, 8, 64, 4_096])
    func garbageGivesAnErrorNotACrash(count: Int) {
        var garbage = pseudoRandomBytes(count: count, seed: UInt64(count) &* 31)
        if garbage.count >= 4, garbage[0...3] == [0x28, 0xB5, 0x2F, 0xFD] { garbage[0] = 0 }
        let error = #expect(throws: ZstdError.self) { try Zstd.decompress(garbage, maxSize: 1 << 20) }
        #expect(error?.kind == .invalidFrame)
        #expect(error?.description.hasPrefix("zstd: ") == true)
    }

    @Test func truncatedFrameIsAnError() throws {
        var compressor = try ZstdCompressor()
        let frame = try compressor.compress(pseudoRandomBytes(count: 5_000, seed: 3))
        for cut in [1, 2, 10, frame.count / 2, frame.count - 5] {
            #expect(throws: ZstdError.self) { try Zstd.decompress(Array(frame.dropLast(cut)), maxSize: 1 << 20) }
        }
        let unknown = unknownSizeRLEFrame(blocks: 3, blockSize: 100)
        #expect(throws: ZstdError.self) { try Zstd.decompress(Array(unknown.dropLast(4)), maxSize: 1 << 20) }
    }

    @Test func libraryErrorsCarryZstdErrorName() throws {
        // A valid header whose only block has reserved type 3: zstd reports "Corrupted block detected".
        let frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x20, 0x01, 0x07, 0x00, 0x00, 0x41]
        let error = #expect(throws: ZstdError.self) { try Zstd.decompress(frame, maxSize: 100) }
        #expect(error?.kind == .library)
        #expect(error?.code != 0)
        #expect(error?.message.isEmpty == false)
    }

    @Test func mutatedFramesNeverCrashOrExceedTheLimit() throws {
        var compressor = try ZstdCompressor()
        let input = sensorLikeBytes(count: 20_000)
        let frame = try compressor.compress(input, level: 3)
        var seed: UInt64 = 1
        for round in 0..<2_000 {
            var mutated = frame
            let noise = pseudoRandomBytes(count: 6, seed: seed)
            seed &+= 1
            let position = (Int(noise[0]) << 8 | Int(noise[1])) % mutated.count
            mutated[position] ^= noise[2] | 1
            if round % 3 == 0 { mutated[(position + Int(noise[3])) % mutated.count] = noise[4] }
            if let output = try? Zstd.decompress(mutated, maxSize: 30_000) {
                #expect(output.count <= 30_000)
            }
        }
    }
}
