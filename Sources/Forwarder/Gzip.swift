import CompressNIO
import NIOCore

/// gzip (RFC 1952) of a request body, through compress-nio (zlib).
enum Gzip {
    /// Compresses `input` at `level` (fastest by default: the receiver is on a LAN or WAN link, the CPU is an edge
    /// box's). Nil if zlib fails.
    static func compress(_ input: [UInt8], level: ZlibConfiguration.CompressionLevel = .fastestCompression) -> [UInt8]? {
        var buffer = ByteBuffer(bytes: input)
        guard let zipped = try? buffer.compress(with: .gzip(configuration: ZlibConfiguration(compressionLevel: level))) else { return nil }
        return Array(zipped.readableBytesView)
    }
}
