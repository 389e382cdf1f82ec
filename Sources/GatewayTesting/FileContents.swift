#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads small files (process output, broker logs) with plain POSIX calls.
public enum FileContents {
    /// The whole file, or nil if it cannot be opened.
    public static func bytes(atPath path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                result.append(contentsOf: chunk[0..<n])
            } else if n == 0 || errno != EINTR {
                break
            }
        }
        return result
    }

    /// The whole file as UTF-8 text (invalid sequences repaired), or "" if it cannot be opened.
    public static func text(atPath path: String) -> String {
        bytes(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}
