#if canImport(Glibc)
import Glibc
#endif

/// Writes a whole file so that readers and a crash see the old or the new content, never a mix, and after a crash
/// the new file exists complete or not at all: write to a temporary file in the same directory, fsync it, rename
/// over the final name, fsync the directory (the rename is durable only then). Used for the store's sealed
/// segments and for versioned profiles and rule files.
public enum DurableFile {
    /// Writes `bytes` to `path` through `temporaryPath` (same directory; removed on failure).
    public static func write(_ bytes: [UInt8], to path: String, temporaryPath tmp: String) throws {
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DurableFileError(path: tmp, operation: "open", code: errno) }
        var ok = true
        var code: Int32 = 0
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    ok = false
                    code = errno
                    return
                }
                offset += n
            }
        }
        if ok, fsync(fd) != 0 {
            ok = false
            code = errno
        }
        close(fd)
        guard ok else {
            unlink(tmp)
            throw DurableFileError(path: tmp, operation: "write", code: code)
        }
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw DurableFileError(path: path, operation: "rename", code: e)
        }
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}

/// A file operation that failed, with errno's text.
public struct DurableFileError: Error, CustomStringConvertible {
    /// The file.
    public var path: String
    /// open, write or rename.
    public var operation: String
    /// errno.
    public var code: Int32
    public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}
