/// Constants of the segment file format, in one place. The format is drawn in docs/formats/segment.md; change both
/// together, and bump `version` for any change a reader of the old version could misread.
public enum SegmentFormat {
    /// "CGSG", at the start and at the very end of the file.
    public static let magic: [UInt8] = [0x43, 0x47, 0x53, 0x47]
    /// The version this build writes. Version 2 added the timestamp encoding byte (zero runs), decimal exponents up
    /// to 15 and a slimmer index entry (no block number or offset, `tMin` relative to the previous entry's).
    public static let version: UInt8 = 2
    /// The versions this build reads; any other is refused as `SegmentError.unsupportedVersion`.
    public static let readableVersions: ClosedRange<UInt8> = 1...2
    /// magic (4) │ version (1) │ reserved (3) │ file length (8).
    public static let headerSize = 16
    /// index offset (8) │ index length (4) │ index body length (4) │ crc32c (4) │ magic (4).
    public static let trailerSize = 24
    /// Header plus trailer: no segment is shorter (an empty one adds a 3-byte index section).
    public static let minimumSize = headerSize + trailerSize
    /// Blocks (and the index body) smaller than this are stored raw: "there is no sense in compressing smaller
    /// blocks" (VictoriaMetrics `minCompressibleBlockSize`).
    public static let minCompressibleSize = 128
    /// A block is largest when one series' chunk alone exceeds the block size; the writer refuses chunks above this
    /// and the reader refuses blocks above it (by default), so a forged length cannot make either allocate more.
    /// 256 MiB holds more than 13 million points even at the worst case of 19 bytes per point.
    public static let maxBlockBytes = 256 << 20
    /// The largest index body the reader accepts (several million series).
    public static let maxIndexBytes = 256 << 20

    /// How a block or the index section is stored: the byte in front of its payload.
    enum Kind: UInt8 {
        /// The payload is the bytes themselves.
        case raw = 0
        /// The payload is one zstd frame that records its content size.
        case zstd = 1
    }
}
