import CompressNIO
import NIOCore

/// gzip (RFC 1952) of a request body, through compress-nio (zlib).
enum Gzip {
    /// Compresses `input` at `level`, 1 (fastest, the default: the CPU is an edge box's, and the receiver may share
    /// it) to 9 (smallest). Nil if zlib fails.
    static func compress(_ input: [UInt8], level: Int = 1) -> [UInt8]? {
        let zlibLevel = ZlibConfiguration.CompressionLevel(rawValue: Int32(min(9, max(1, level)))) ?? .fastestCompression
        var buffer = ByteBuffer(bytes: input)
        guard let zipped = try? buffer.compress(with: .gzip(configuration: ZlibConfiguration(compressionLevel: zlibLevel))) else { return nil }
        return Array(zipped.readableBytesView)
    }
}
