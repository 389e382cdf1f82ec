import CZstd

/// A zstd compressor that owns one compression context (`ZSTD_CCtx`) and reuses it for every call, which saves the
/// context's allocation (hundreds of KiB at higher levels) per block.
///
/// Frames are single-pass, so their header always records the content size (zstd.h, note 3 of
/// `ZSTD_getFrameContentSize`), which `Zstd.decompress(_:maxSize:)` uses to refuse oversize frames before decoding.
///
/// ## Sendable
/// `@unchecked Sendable` is sound because the context is reachable only through this value: the type is
/// `~Copyable`, so there is exactly one owner, and every method that touches the context is `mutating`, so the
/// compiler's exclusivity rule guarantees no two threads use it at once. zstd contexts carry no thread affinity
/// (zstd.h: "use one different context per thread for parallel execution"), so moving the owner to another thread
/// (e.g. a thread-pool worker sealing a segment) is fine.
public struct ZstdCompressor: ~Copyable, @unchecked Sendable {
    /// The `ZSTD_CCtx *`, freed in `deinit`.
    private let context: OpaquePointer

    /// zstd's default level (3).
    public static var defaultLevel: Int { Int(ZSTD_defaultCLevel()) }
    /// Levels zstd accepts: negative "fast" levels up to `ZSTD_maxCLevel()` (22). Others are clamped by zstd.
    public static var levels: ClosedRange<Int> { Int(ZSTD_minCLevel())...Int(ZSTD_maxCLevel()) }

    /// Allocates a compression context.
    public init() throws(ZstdError) {
        guard let context = ZSTD_createCCtx() else {
            throw ZstdError(kind: .outOfMemory, message: "ZSTD_createCCtx returned NULL")
        }
        self.context = context
    }

    deinit {
        ZSTD_freeCCtx(context)
    }

    /// Compresses `bytes` into one zstd frame.
    ///
    /// - Parameter level: 1 (fast) to 19 (slow, small); the segment writer uses low levels (see docs/formats).
    public mutating func compress(_ bytes: [UInt8], level: Int = ZstdCompressor.defaultLevel) throws(ZstdError) -> [UInt8] {
        var frame: [UInt8] = []
        try compress(bytes, level: level, appendingTo: &frame)
        return frame
    }

    /// Compresses `bytes` into one zstd frame appended to `dst`, so callers can build a file image in one buffer.
    /// On error `dst` is left as it was.
    public mutating func compress(_ bytes: [UInt8], level: Int = ZstdCompressor.defaultLevel, appendingTo dst: inout [UInt8]) throws(ZstdError) {
        // ZSTD_compressBound fails (returns an error code) when the input is larger than ZSTD_MAX_INPUT_SIZE.
        let bound = try ZstdError.check(ZSTD_compressBound(bytes.count))
        let start = dst.count
        dst.append(contentsOf: repeatElement(0, count: bound))
        let context = self.context
        let result = dst.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { src in
                ZSTD_compressCCtx(context, out.baseAddress! + start, bound, src.baseAddress, src.count, Int32(clamping: level))
            }
        }
        do {
            let written = try ZstdError.check(result)
            dst.removeLast(bound - written)
        } catch {
            dst.removeLast(bound)
            throw error
        }
    }
}
