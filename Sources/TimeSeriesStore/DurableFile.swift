#if canImport(Glibc)
import Glibc
#endif

/// Writes a whole file so that, after a crash, it either exists complete or not at all: write to a temporary
/// name, fsync it, rename over the final name, fsync the directory (the rename is durable only then).
enum DurableFile {
    static func write(_ bytes: [UInt8], to path: String, temporarySuffix: String) throws {
        let tmp = path + temporarySuffix
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
struct DurableFileError: Error, CustomStringConvertible {
    var path: String
    var operation: String
    var code: Int32
    var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}
