import CDeflate

/// gzip (RFC 1952) of a request body, through libdeflate: whole-buffer compression, about twice zlib's speed at
/// level 1 on line protocol, with a smaller result (docs/performance.md).
enum Gzip {
    /// Compresses `input` at `level`, 1 (fastest, the default: the CPU is an edge box's, and the receiver may share
    /// it) to 9 (smallest). Nil if the compressor cannot be had.
    static func compress(_ input: [UInt8], level: Int = 1) -> [UInt8]? {
        guard let compressor = libdeflate_alloc_compressor(Int32(min(9, max(1, level)))) else { return nil }
        defer { libdeflate_free_compressor(compressor) }
        let bound = libdeflate_gzip_compress_bound(compressor, input.count)
        let out = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            count = input.withUnsafeBytes { libdeflate_gzip_compress(compressor, $0.baseAddress, $0.count, buffer.baseAddress, bound) }
        }
        // 0 means the output did not fit, which the bound rules out; a gzip stream is never empty.
        return out.isEmpty ? nil : out
    }
}
