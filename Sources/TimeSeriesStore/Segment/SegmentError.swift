/// A segment file that cannot be trusted, or a segment that could not be built.
///
/// Every reader failure says what was found and where, so an operator reading the quarantine log can tell a
/// truncated copy from a flipped bit from a file of some other kind.
public enum SegmentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file is shorter than its header says (or than any segment can be): an interrupted copy or write.
    case truncated(String)
    /// The CRC32C stored in the trailer does not match the bytes: the file was damaged after it was written.
    case checksum(String)
    /// The file is not a segment, or its structure is inconsistent although its checksum matches.
    case corrupt(String)
    /// The file is a segment of a version this build cannot read.
    case unsupportedVersion(UInt8)
    /// Writing: zstd failed (it only does when it cannot allocate).
    case compression(String)

    /// `segment truncated: file has 812 bytes, header declares 2048`.
    public var description: String {
        switch self {
        case .truncated(let message): "segment truncated: \(message)"
        case .checksum(let message): "segment checksum mismatch: \(message)"
        case .corrupt(let message): "segment corrupt: \(message)"
        case .unsupportedVersion(let version): "segment version \(version) is not supported (this build reads \(SegmentFormat.readableVersions.lowerBound) to \(SegmentFormat.readableVersions.upperBound))"
        case .compression(let message): "segment compression failed: \(message)"
        }
    }
}
