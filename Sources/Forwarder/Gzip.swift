import CNIOExtrasZlib

/// gzip (RFC 1952) of a request body, with the zlib that swift-nio-extras bundles for HTTP compression (it comes
/// with async-http-client, so no system library is needed).
enum Gzip {
    /// Compresses `input` at `level` (1 fastest … 9 smallest). Nil if zlib fails.
    static func compress(_ input: [UInt8], level: Int32 = 1) -> [UInt8]? {
        var stream = cnioextras_z_stream()
        // windowBits 15 + 16 asks deflateInit2 for a gzip header and trailer instead of zlib's.
        guard CNIOExtrasZlib_deflateInit2(&stream, level, CNIOEXTRAS_Z_DEFLATED, 15 + 16, 8, CNIOEXTRAS_Z_DEFAULT_STRATEGY) == CNIOEXTRAS_Z_OK else {
            return nil
        }
        defer { cnioextras_z_deflateEnd(&stream) }
        let bound = Int(cnioextras_z_deflateBound(&stream, UInt(input.count))) + 32
        var output = [UInt8](repeating: 0, count: bound)
        var rc: Int32 = 0
        var produced = 0
        input.withUnsafeBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                rc = cnioextras_z_deflate(&stream, CNIOEXTRAS_Z_FINISH)
                produced = outBuf.count - Int(stream.avail_out)
            }
        }
        guard rc == CNIOEXTRAS_Z_STREAM_END else { return nil }
        output.removeLast(output.count - produced)
        return output
    }
}
