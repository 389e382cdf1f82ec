import CZstd

/// zstd operations that need no long-lived state.
public enum Zstd {
    /// Decompresses one or more concatenated zstd frames, refusing output larger than `maxSize` bytes.
    ///
    /// Safe for untrusted input:
    /// - When every frame header records its content size, the total is checked against `maxSize` before any
    ///   output is allocated, and exactly that much is allocated. zstd verifies the recorded size while decoding.
    /// - When a frame's content size is unknown (streaming producers), the frame is decoded in steps into a buffer
    ///   that grows only up to `maxSize`; decoding stops with `.contentTooLarge` as soon as it would pass the limit.
    ///   zstd's own default still bounds the window such a frame may request (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`,
    ///   128 MiB).
    /// - Input that is not a zstd frame, is truncated or is corrupt throws; it never traps.
    ///
    /// - Throws: `ZstdError` with `.invalidFrame`, `.contentTooLarge`, `.library` or `.outOfMemory`.
    public static func decompress(_ frame: [UInt8], maxSize: Int) throws(ZstdError) -> [UInt8] {
        precondition(maxSize >= 0, "maxSize must not be negative")
        let size = try contentSize(frame, maxSize: maxSize)
        if let size {
            return try decompressKnown(frame, size: size)
        }
        return try decompressStreaming(frame, maxSize: maxSize)
    }

    // zstd.h: `#define ZSTD_CONTENTSIZE_UNKNOWN (0ULL - 1)` and `ZSTD_CONTENTSIZE_ERROR (0ULL - 2)`; Swift does not
    // import these expression macros.
    private static let contentSizeUnknown = UInt64.max
    private static let contentSizeError = UInt64.max - 1

    /// Walks the frames: the total content size when every frame records one, nil when any does not.
    /// Throws as soon as a recorded size makes the total pass `maxSize`.
    private static func contentSize(_ frame: [UInt8], maxSize: Int) throws(ZstdError) -> Int? {
        var offset = 0
        var total: UInt64 = 0
        var unknown = false
        let limit = UInt64(maxSize)
        while offset < frame.count || offset == 0 {
            let frameSize = frame.withUnsafeBytes { bytes in
                ZSTD_getFrameContentSize(bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
            }
            switch frameSize {
            case contentSizeError:
                throw ZstdError(kind: .invalidFrame, message: "no zstd frame at offset \(offset) of \(frame.count) bytes")
            case contentSizeUnknown:
                unknown = true
            default:
                // Compare before adding: an untrusted header can declare up to 2^64 - 3 bytes, which would overflow.
                guard frameSize <= limit - total else {
                    throw ZstdError(
                        kind: .contentTooLarge,
                        message: "frame at offset \(offset) declares \(frameSize) bytes, \(total) before it; maxSize is \(maxSize)"
                    )
                }
                total += frameSize
            }
            // Fails when the frame is truncated or its block headers are malformed.
            let compressedSize = frame.withUnsafeBytes { bytes in
                ZSTD_findFrameCompressedSize(bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
            }
            offset += try ZstdError.check(compressedSize)
        }
        return unknown ? nil : Int(total)
    }

    private static func decompressKnown(_ frame: [UInt8], size: Int) throws(ZstdError) -> [UInt8] {
        var result = 0
        let output = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            result = frame.withUnsafeBytes { src in
                ZSTD_decompress(buffer.baseAddress, size, src.baseAddress, src.count)
            }
            // Only a successful, full-size result counts as initialized.
            initialized = (ZSTD_isError(result) == 0 && result == size) ? size : 0
        }
        let written = try ZstdError.check(result)
        guard written == size else {
            throw ZstdError(kind: .invalidFrame, message: "decoded \(written) bytes, header said \(size)")
        }
        return output
    }

    private static func decompressStreaming(_ frame: [UInt8], maxSize: Int) throws(ZstdError) -> [UInt8] {
        guard let stream = ZSTD_createDStream() else {
            throw ZstdError(kind: .outOfMemory, message: "ZSTD_createDStream returned NULL")
        }
        defer { ZSTD_freeDStream(stream) }
        var output: [UInt8] = []
        var produced = 0
        var consumed = 0
        // Start with a modest guess and double; never hold more than maxSize + 1 bytes (the extra byte is how an
        // oversize frame is detected without decoding any further).
        var capacity = min(max(frame.count * 4, Int(ZSTD_DStreamOutSize())), maxSize + 1)
        while true {
            if produced == output.count {
                guard output.count <= maxSize else {
                    throw ZstdError(kind: .contentTooLarge, message: "content exceeds maxSize \(maxSize)")
                }
                if output.count == capacity { capacity = min(capacity * 2, maxSize + 1) }
                output.append(contentsOf: repeatElement(0, count: capacity - output.count))
            }
            let (result, inputPosition, outputPosition) = output.withUnsafeMutableBytes { out in
                frame.withUnsafeBytes { src in
                    var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: consumed)
                    var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: produced)
                    let result = ZSTD_decompressStream(stream, &outBuffer, &input)
                    return (result, input.pos, outBuffer.pos)
                }
            }
            let remainingHint = try ZstdError.check(result)
            consumed = inputPosition
            produced = outputPosition
            if produced > maxSize {
                throw ZstdError(kind: .contentTooLarge, message: "content exceeds maxSize \(maxSize)")
            }
            guard consumed == frame.count else { continue }
            // zstd.h: 0 means the frame is completely decoded and fully flushed.
            if remainingHint == 0 { break }
            // zstd.h: with output space left, the decoder has flushed all it can, so it is waiting for input
            // that will never come.
            if produced < output.count {
                throw ZstdError(kind: .invalidFrame, message: "truncated zstd frame")
            }
        }
        output.removeLast(output.count - produced)
        return output
    }
}
