#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Faults a test can inject into the WAL thread's system calls (`WALWriter.injectFaults`), to exercise the failure
/// paths that a full or failing disk takes. Production code never sets them.
struct WALFaults: Sendable, Hashable {
    /// Creating the next file fails with this errno.
    var createErrno: Int32?
    /// Writing fails with this errno, after `writeBytesBeforeError` bytes of the call went to the file (a torn write).
    var writeErrno: Int32?
    /// How much of a failing write reaches the file first.
    var writeBytesBeforeError = 0
    /// fsync of a WAL file fails with this errno (the data was handed to the kernel but is not known to be durable).
    var fsyncErrno: Int32?

    init(createErrno: Int32? = nil, writeErrno: Int32? = nil, writeBytesBeforeError: Int = 0, fsyncErrno: Int32? = nil) {
        self.createErrno = createErrno
        self.writeErrno = writeErrno
        self.writeBytesBeforeError = writeBytesBeforeError
        self.fsyncErrno = fsyncErrno
    }
}

/// The system calls the WAL makes, each mapped to `WALError` in one place.
enum WALFileIO {
    /// `mkdir -p`.
    static func makeDirectory(_ path: String) throws(WALError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 {
                let code = errno
                guard code == EEXIST else { throw WALError.io(operation: "mkdir", path: prefix, errno: code) }
            }
        }
    }

    /// Creates a new, empty file (never opens an existing one).
    static func createFile(_ path: String, faults: WALFaults) throws(WALError) -> Int32 {
        if let code = faults.createErrno { throw WALError.io(operation: "open", path: path, errno: code) }
        while true {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 { return fd }
            let code = errno
            if code != EINTR { throw WALError.io(operation: "open", path: path, errno: code) }
        }
    }

    /// Writes all of `bytes` at `offset` (pwrite, so a retry after a failure overwrites the same range).
    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String, faults: WALFaults) throws(WALError) {
        guard let base = bytes.baseAddress else { return }
        var limit = bytes.count
        if faults.writeErrno != nil { limit = min(limit, max(0, faults.writeBytesBeforeError)) }
        var done = 0
        while done < limit {
            let n = pwrite(fd, base + done, limit - done, off_t(offset + done))
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw WALError.io(operation: "write", path: path, errno: code)
            }
            done += n
        }
        if let code = faults.writeErrno { throw WALError.io(operation: "write", path: path, errno: code) }
    }

    /// fsync of a file descriptor.
    static func sync(_ fd: Int32, path: String, faults: WALFaults) throws(WALError) {
        if let code = faults.fsyncErrno { throw WALError.io(operation: "fsync", path: path, errno: code) }
        while fsync(fd) != 0 {
            let code = errno
            if code != EINTR { throw WALError.io(operation: "fsync", path: path, errno: code) }
        }
    }

    /// fsync of a directory, which makes the creation, rename or removal of its entries durable.
    static func syncDirectory(_ path: String) throws(WALError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw WALError.io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        while fsync(fd) != 0 {
            let code = errno
            if code != EINTR { throw WALError.io(operation: "fsync", path: path, errno: code) }
        }
    }

    /// close(2), ignoring the result (after fsync there is nothing left to report); no-op for -1.
    static func closeFile(_ fd: Int32) {
        guard fd >= 0 else { return }
        _ = close(fd)
    }

    /// Cuts the file at `path` to `length` bytes and makes that durable.
    static func truncate(_ path: String, to length: Int) throws(WALError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw WALError.io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(length)) == 0 else { throw WALError.io(operation: "ftruncate", path: path, errno: errno) }
        try sync(fd, path: path, faults: WALFaults())
    }

    /// How long `lockDirectory` keeps trying while the lock is held.
    static let lockWaitNs: UInt64 = 1_000_000_000

    /// Takes the directory's `wal.lock` (flock, exclusive); returns its descriptor, which holds the lock until closed.
    /// The kernel releases it when the process dies, so a crash never leaves a stale lock.
    ///
    /// A held lock is retried for up to a second before `.locked` is thrown: a flock belongs to the open file
    /// description, and a child that another thread is spawning shares it between fork and exec (O_CLOEXEC closes it
    /// only at exec), so a lock just released by `close()` can look held for a few milliseconds.
    static func lockDirectory(_ directory: String) throws(WALError) -> Int32 {
        let path = directory + "/" + WALFileName.lockFile
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WALError.io(operation: "open", path: path, errno: errno) }
        let deadline = WALClock.nowNs() + lockWaitNs
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK && WALClock.nowNs() < deadline {
                usleep(5_000)
                continue
            }
            close(fd)
            if code == EWOULDBLOCK { throw WALError.locked(path: path) }
            throw WALError.io(operation: "flock", path: path, errno: code)
        }
        return fd
    }
}
