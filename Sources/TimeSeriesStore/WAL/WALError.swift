#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a WAL operation failed.
public enum WALError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A system call failed: `operation` on `path` with `errno` (ENOSPC for a full disk, EIO, EPERM, …).
    case io(operation: String, path: String, errno: Int32)
    /// The writer is closed; nothing more is accepted or made durable.
    case closed
    /// Appends were rejected because un-committed bytes would pass `maxBufferedBytes` (the disk keeps failing or stalls).
    case bufferFull(limitBytes: Int)
    /// One series definition does not fit in a record (`WALFormat.maxPayloadBytes`).
    case recordTooLarge(bytes: Int)
    /// Another writer (or a repairing replay) holds the directory's `wal.lock`.
    case locked(path: String)

    /// The errno of an I/O failure, nil for other cases.
    public var errno: Int32? {
        if case .io(_, _, let code) = self { return code }
        return nil
    }

    /// The error with errno text, for logs.
    public var description: String {
        switch self {
        case .io(let operation, let path, let code): "\(operation) \(path): \(String(cString: strerror(code))) (errno \(code))"
        case .closed: "WAL writer is closed"
        case .bufferFull(let limit): "WAL buffer full (\(limit) bytes not yet durable)"
        case .recordTooLarge(let bytes): "WAL record of \(bytes) bytes exceeds the \(WALFormat.maxPayloadBytes)-byte limit"
        case .locked(let path): "WAL directory is locked by another writer: \(path)"
        }
    }
}
