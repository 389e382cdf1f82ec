#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// The state and the dedicated thread behind `WALWriter`: appenders fill a memory buffer, the WAL thread writes and
/// fsyncs it (group commit), committers wait for the bytes they appended to become durable.
///
/// ## Why `@unchecked Sendable` is sound
/// Every stored property falls in exactly one of three groups:
/// 1. **Immutable** (`let`) after `init`: configuration, `logger`, `lock`.
/// 2. **Guarded by `lock`** (the block marked so below): read and written only between `lock.lock()` and
///    `lock.unlock()`, by any thread. This is all state the appenders, committers and the WAL thread share.
/// 3. **Owned by the WAL thread** (the block marked so): touched only by `run()` and the functions it calls, after
///    `init` wrote the initial values and before `pthread_create` started the thread (which orders those writes before
///    the thread's first read). `thread` is written once in `start()` (inside `init`, before the object is shared) and
///    read only by the single closer that wins `closing` under the lock.
/// `init` and `deinit` touch groups 2 and 3 without the lock: no other thread can reach the object then.
/// No I/O runs with `lock` held, so a slow disk never blocks `append`.
/// Continuations are resumed after the lock is released.
final class WALWriterEngine: @unchecked Sendable {
    // MARK: Immutable after init
    let directory: String
    let segmentBytes: Int
    let commitIntervalNs: UInt64
    let flushThresholdBytes: Int
    let maxBufferedBytes: Int
    let logger: Logger
    let lock = WALLock()

    // MARK: Guarded by `lock`
    /// Holds `wal.lock` (flock) until `close()` (or `deinit` if the thread never started).
    private var lockFD: Int32 = -1
    /// Framed records not yet taken by the WAL thread.
    private var pending: [UInt8] = []
    /// When the oldest byte that still awaits a commit was appended (or when the last attempt failed): the group-commit
    /// deadline is this plus the interval.
    private var pendingSinceNs: UInt64?
    /// Logical offsets: bytes ever appended, and the prefix of them known durable.
    private var appendedBytes: UInt64 = 0
    private var durableBytes: UInt64 = 0
    /// Size of the WAL thread's `inflight` buffer (counts toward `maxBufferedBytes`).
    private var inflightCount = 0
    /// A committer wants an attempt now.
    private var forceRequested = false
    /// A pending `rotate()`: bytes appended before this logical offset go to the current file, later ones to the next.
    private var rotatePoint: UInt64?
    private var rotationsRequested: UInt64 = 0
    private var rotationsFinished: UInt64 = 0
    private var rotationResults: [UInt64: Result<Int, WALError>] = [:]
    private var attemptsStarted: UInt64 = 0
    private var attemptsFinished: UInt64 = 0
    /// The error of the latest attempt; nil once an attempt succeeds.
    private var lastAttemptError: WALError?
    /// After a failure, the next attempt not forced by a committer waits until then.
    private var retryAfterNs: UInt64 = 0
    /// The latest error of any kind; never cleared.
    private var lastErrorValue: WALError?
    /// An append was rejected since the last `commit()` call (that commit throws it).
    private var unseenRejection: WALError?
    private var statistics = WALStatistics()
    private var closing = false
    private var exited = false
    private var waiters: [UInt64: Waiter] = [:]
    private var nextWaiterID: UInt64 = 0
    private var faults = WALFaults()

    // MARK: Owned by the WAL thread
    /// Bytes taken from `pending` and not yet durable; kept whole across failed attempts and rewritten from its start.
    private var inflight: [UInt8] = []
    /// The current file (-1 when its creation failed and must be retried).
    private var fd: Int32 = -1
    private var fileNumber = 0
    /// Durable size of the current file: where `inflight` is written.
    private var fileOffset = 0
    private var directoryNeedsSync = false
    private var reportedFailing = false
    /// Written once by `start()`; read by the one closer that joins.
    private var thread = pthread_t()

    private struct Waiter {
        var target: UInt64
        var needed: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    /// What one commit attempt did.
    private struct Outcome {
        var error: WALError?
        /// Creating the next file failed after the data was durable.
        var fileError: WALError?
        var rotation: Result<Int, WALError>?
        var bytesWritten = 0
        var fsyncs = 0
        var wroteData = false
        var rotations = 0
    }

    init(
        directory: String, segmentBytes: Int, commitInterval: Duration, flushThresholdBytes: Int, maxBufferedBytes: Int,
        logger: Logger
    ) throws(WALError) {
        self.directory = directory
        self.segmentBytes = max(1, segmentBytes)
        let (seconds, attoseconds) = commitInterval.components
        self.commitIntervalNs = seconds < 0 ? 0 : UInt64(seconds) &* 1_000_000_000 &+ UInt64(max(0, attoseconds) / 1_000_000_000)
        self.flushThresholdBytes = max(1, flushThresholdBytes)
        self.maxBufferedBytes = max(1, maxBufferedBytes)
        self.logger = logger
        try WALFileIO.makeDirectory(directory)
        lockFD = try WALFileIO.lockDirectory(directory)
        do {
            fileNumber = (try WALFileName.list(directory).last ?? 0) + 1
            try ensureFile(faults: WALFaults())
        } catch {
            // `deinit` runs for this fully initialised object and releases the lock.
            WALFileIO.closeFile(fd)
            fd = -1
            throw error
        }
        statistics.currentFileNumber = fileNumber
    }

    deinit {
        // `run()` holds a reference until it exits, so this runs after the thread is gone and the file is closed.
        if lockFD >= 0 { WALFileIO.closeFile(lockFD) }
    }

    /// Starts the WAL thread (once, from `WALWriter.init`).
    func start() throws(WALError) {
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let engine = Unmanaged<WALWriterEngine>.fromOpaque(raw!).takeRetainedValue()
            engine.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<WALWriterEngine>.fromOpaque(context).release()
            WALFileIO.closeFile(fd)
            fd = -1
            throw WALError.io(operation: "pthread_create", path: directory, errno: rc)
        }
        logger.info("WAL opened", metadata: ["wal.directory": "\(directory)", "wal.file": "\(WALFileName.name(fileNumber))"])
    }

    // MARK: Appending and committing (any thread)

    /// Adds framed records to the buffer; false if they were refused (closed, or the buffer is full).
    func append(_ encoded: [UInt8]) -> Bool {
        guard !encoded.isEmpty else { return true }
        lock.lock()
        defer { lock.unlock() }
        if closing {
            reject(.closed)
            return false
        }
        guard pending.count + inflightCount + encoded.count <= maxBufferedBytes else {
            reject(.bufferFull(limitBytes: maxBufferedBytes))
            return false
        }
        let before = pending.count
        pending.append(contentsOf: encoded)
        appendedBytes += UInt64(encoded.count)
        statistics.bytesAppended += UInt64(encoded.count)
        if before == 0 {
            if pendingSinceNs == nil { pendingSinceNs = WALClock.nowNs() }
            lock.signalWork()
        } else if before < flushThresholdBytes && pending.count >= flushThresholdBytes {
            lock.signalWork()
        }
        return true
    }

    /// Records a refused append (lock held).
    func reject(_ error: WALError) {
        statistics.rejectedAppends += 1
        unseenRejection = error
        if error != .closed { lastErrorValue = error }
    }

    /// Blocks until everything appended before the call is durable; throws if an attempt covering it fails.
    func commit() throws(WALError) {
        lock.lock()
        defer { lock.unlock() }
        let rejection = unseenRejection
        unseenRejection = nil
        let target = appendedBytes
        if durableBytes < target {
            if exited { throw lastErrorValue ?? .closed }
            let needed = attemptsStarted + 1
            forceRequested = true
            lock.signalWork()
            while durableBytes < target {
                if attemptsFinished >= needed, let error = lastAttemptError { throw error }
                if exited { throw lastErrorValue ?? .closed }
                lock.waitForFinished()
            }
        }
        if let rejection { throw rejection }
    }

    /// Suspends until everything appended before the call is durable (the next group commit, or at once with `force`).
    func waitUntilDurable(force: Bool) async throws {
        let id = lock.withLock {
            nextWaiterID += 1
            return nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let immediate: Result<Void, any Error>? = lock.withLock {
                    let target = appendedBytes
                    if durableBytes >= target { return .success(()) }
                    if exited { return .failure(lastErrorValue ?? WALError.closed) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    waiters[id] = Waiter(target: target, needed: attemptsStarted + 1, continuation: continuation)
                    if force {
                        forceRequested = true
                        lock.signalWork()
                    }
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = lock.withLock { waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Writes and fsyncs what was appended before the call, starts the next file and returns its number.
    func rotate() throws(WALError) -> Int {
        lock.lock()
        defer { lock.unlock() }
        while rotatePoint != nil && !exited { lock.waitForFinished() }
        if closing || exited { throw WALError.closed }
        rotationsRequested += 1
        let ticket = rotationsRequested
        rotatePoint = appendedBytes
        lock.signalWork()
        while rotationResults[ticket] == nil {
            if exited { throw lastErrorValue ?? .closed }
            lock.waitForFinished()
        }
        return try rotationResults.removeValue(forKey: ticket)!.get()
    }

    /// Deletes files numbered ≤ `number`, never the current one.
    func removeFiles(through number: Int) throws(WALError) {
        // Files below the current number are closed for good (the number only grows).
        let current = lock.withLock { statistics.currentFileNumber }
        var removed = 0
        for n in try WALFileName.list(directory) where n <= number && n < current {
            let path = WALFileName.path(directory, n)
            if unlink(path) != 0 {
                let code = errno
                if code != ENOENT { throw WALError.io(operation: "unlink", path: path, errno: code) }
            }
            removed += 1
        }
        // Durable removal: a resurrected file would replay data already sealed into segments.
        if removed > 0 { try WALFileIO.syncDirectory(directory) }
    }

    /// Commits what is buffered, stops the thread and releases the directory lock. Idempotent.
    func close() {
        lock.lock()
        if closing {
            while !exited { lock.waitForFinished() }
            lock.unlock()
            return
        }
        closing = true
        lock.signalWork()
        lock.unlock()
        pthread_join(thread, nil)
        // Everything is written and the thread is gone: another writer (or a repairing replay) may have the directory.
        let held = lock.withLock {
            let fd = lockFD
            lockFD = -1
            return fd
        }
        WALFileIO.closeFile(held)
    }

    var snapshot: WALStatistics {
        lock.withLock {
            var s = statistics
            s.bufferedBytes = pending.count + inflightCount
            return s
        }
    }

    var lastError: WALError? { lock.withLock { lastErrorValue } }
    var isFailing: Bool { lock.withLock { lastAttemptError != nil } }

    /// Test hook: faults for the following attempts.
    func injectFaults(_ newFaults: WALFaults) {
        lock.withLock { faults = newFaults }
    }

    // MARK: The WAL thread

    private func run() {
        Self.nameThread("citygate-wal")
        lock.lock()
        while true {
            waitForReason()

            // Take the bytes of this attempt: all of `pending`, or only those before a rotation point.
            let rotation = rotatePoint
            let rotationTicket = rotationsRequested
            let pendingStart = appendedBytes - UInt64(pending.count)
            var take = pending.count
            if let point = rotation { take = Int(min(UInt64(pending.count), point > pendingStart ? point - pendingStart : 0)) }
            if take == pending.count {
                if inflight.isEmpty { swap(&inflight, &pending) } else { inflight.append(contentsOf: pending) }
                pending.removeAll(keepingCapacity: true)
                pendingSinceNs = nil
                forceRequested = false
            } else {
                inflight.append(contentsOf: pending[0..<take])
                pending.removeFirst(take)
                // The rest follows right after (in the next file); a forced commit stays requested for it.
            }
            let target = pendingStart + UInt64(take)
            inflightCount = inflight.count
            let closingNow = closing
            let faultsNow = faults
            attemptsStarted += 1
            lock.unlock()

            let started = WALClock.nowNs()
            let outcome = attempt(rotate: rotation != nil, faults: faultsNow)
            let elapsed = Duration.nanoseconds(Int64(WALClock.nowNs() - started))
            logTransition(outcome)

            lock.lock()
            attemptsFinished += 1
            statistics.bytesWritten += UInt64(outcome.bytesWritten)
            statistics.fsyncs += UInt64(outcome.fsyncs)
            statistics.rotations += UInt64(outcome.rotations)
            statistics.currentFileNumber = fileNumber
            if let error = outcome.error {
                lastAttemptError = error
                lastErrorValue = error
                statistics.failedCommits += 1
                // Retry after an interval (or at once on commit()); never spin on a failing disk.
                let now = WALClock.nowNs()
                if pendingSinceNs == nil { pendingSinceNs = now }
                retryAfterNs = now &+ max(commitIntervalNs, 10_000_000)
            } else {
                durableBytes = target
                inflightCount = 0
                lastAttemptError = nil
                if outcome.wroteData {
                    statistics.commits += 1
                    statistics.lastCommitDuration = elapsed
                    statistics.maxCommitDuration = max(statistics.maxCommitDuration, elapsed)
                }
            }
            if case .failure(let error)? = outcome.rotation { lastErrorValue = error }
            if let error = outcome.fileError { lastErrorValue = error }
            if rotation != nil {
                rotatePoint = nil
                rotationResults[rotationTicket] = outcome.rotation ?? .failure(outcome.error ?? .closed)
                rotationsFinished += 1
            }
            let ready = takeReadyWaiters()
            lock.broadcastFinished()
            let done = closingNow && pending.isEmpty && rotatePoint == nil
            if done { break }
            lock.unlock()
            for (waiter, result) in ready { waiter.continuation.resume(with: result) }
            lock.lock()
        }

        // Exit (lock held).
        let undurable = !inflight.isEmpty
        lock.unlock()
        if fd >= 0 {
            // Cut a partial record a failed write may have left, so the file ends on a record boundary.
            if undurable { _ = ftruncate(fd, off_t(fileOffset)) }
            WALFileIO.closeFile(fd)
            fd = -1
        }
        if undurable {
            logger.info("WAL closed with data not durable", metadata: ["wal.directory": "\(directory)", "wal.bytes": "\(inflight.count)"])
        }
        lock.lock()
        exited = true
        let remaining = waiters.values.map { waiter -> (Waiter, Result<Void, any Error>) in
            durableBytes >= waiter.target ? (waiter, .success(())) : (waiter, .failure(lastErrorValue ?? WALError.closed))
        }
        waiters.removeAll()
        lock.broadcastFinished()
        lock.unlock()
        for (waiter, result) in remaining { waiter.continuation.resume(with: result) }
    }

    /// Waits (lock held) until an attempt is due: closing, a forced commit or rotation, the buffer passing the
    /// threshold, or the group-commit deadline of buffered bytes. While failing, only committers, rotation and close
    /// start attempts before the retry time.
    private func waitForReason() {
        while true {
            if closing || forceRequested || rotatePoint != nil { return }
            guard !pending.isEmpty || inflightCount > 0 else {
                lock.waitForWork()
                continue
            }
            let now = WALClock.nowNs()
            var deadline = (pendingSinceNs ?? now) &+ commitIntervalNs
            if lastAttemptError != nil {
                deadline = max(deadline, retryAfterNs)
            } else if pending.count >= flushThresholdBytes {
                return
            }
            if now >= deadline { return }
            lock.waitForWork(untilNs: deadline)
        }
    }

    /// Waiters whose bytes are durable, or whose covering attempt failed (lock held); removed from `waiters`.
    private func takeReadyWaiters() -> [(Waiter, Result<Void, any Error>)] {
        guard !waiters.isEmpty else { return [] }
        var ready: [(Waiter, Result<Void, any Error>)] = []
        for (id, waiter) in waiters {
            if durableBytes >= waiter.target {
                ready.append((waiter, .success(())))
            } else if attemptsFinished >= waiter.needed, let error = lastAttemptError {
                ready.append((waiter, .failure(error)))
            } else {
                continue
            }
            waiters.removeValue(forKey: id)
        }
        return ready
    }

    /// One attempt, without the lock: make sure a file is open, write `inflight` at the durable end and fsync, then
    /// rotate if asked or the file is full.
    private func attempt(rotate: Bool, faults: WALFaults) -> Outcome {
        var outcome = Outcome()
        do throws(WALError) {
            try ensureFile(faults: faults)
            if !inflight.isEmpty {
                let offset = fileOffset
                let path = WALFileName.path(directory, fileNumber)
                let fd = self.fd
                outcome.bytesWritten += inflight.count
                let writeError: WALError? = inflight.withUnsafeBytes { raw in
                    do throws(WALError) {
                        try WALFileIO.write(fd, raw, at: offset, path: path, faults: faults)
                        return nil
                    } catch {
                        return error
                    }
                }
                if let writeError { throw writeError }
                try WALFileIO.sync(fd, path: path, faults: faults)
                outcome.fsyncs += 1
                fileOffset += inflight.count
                inflight.removeAll(keepingCapacity: inflight.capacity <= 4 * flushThresholdBytes)
                outcome.wroteData = true
            }
        } catch {
            outcome.error = error
            if rotate { outcome.rotation = .failure(error) }
            return outcome
        }
        if rotate || fileOffset >= segmentBytes {
            do throws(WALError) {
                if try startNextFile(faults: faults) { outcome.rotations += 1 }
                if rotate { outcome.rotation = .success(fileNumber) }
            } catch {
                // The data is durable; only the new file is missing. The next attempt creates it.
                if rotate { outcome.rotation = .failure(error) }
                outcome.fileError = error
                logger.info("WAL file creation failed", metadata: ["wal.directory": "\(directory)", "error": "\(error)"])
            }
        }
        return outcome
    }

    /// Opens the current file if it is not open (creating it) and makes its directory entry durable.
    private func ensureFile(faults: WALFaults) throws(WALError) {
        if fd < 0 {
            var tries = 0
            while true {
                do {
                    fd = try WALFileIO.createFile(WALFileName.path(directory, fileNumber), faults: faults)
                    break
                } catch {
                    // A file with this number already exists (not ours): leave it alone and take the next number.
                    guard error.errno == EEXIST, tries < 1000 else { throw error }
                    tries += 1
                    fileNumber += 1
                }
            }
            fileOffset = 0
            directoryNeedsSync = true
        }
        if directoryNeedsSync {
            try WALFileIO.syncDirectory(directory)
            directoryNeedsSync = false
        }
    }

    /// Closes the current file and creates the next; false when the current file is still empty (it already is a
    /// fresh file: nothing appended before the call is in it).
    private func startNextFile(faults: WALFaults) throws(WALError) -> Bool {
        if fd >= 0 {
            if fileOffset == 0 { return false }
            WALFileIO.closeFile(fd)
            fd = -1
            fileNumber += 1
        }
        try ensureFile(faults: faults)
        logger.debug("WAL file started", metadata: ["wal.file": "\(WALFileName.name(fileNumber))"])
        return true
    }

    private typealias SetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32

    /// Names the WAL thread for `top -H` and crash reports (`pthread_setname_np` is a GNU extension Glibc does not
    /// import; looked up once).
    private static let setName: SetName? = {
        #if os(Linux)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pthread_setname_np") else { return nil }
        return unsafeBitCast(symbol, to: SetName.self)
        #else
        return nil
        #endif
    }()

    private static func nameThread(_ name: String) {
        _ = setName?(pthread_self(), name)
    }

    /// Logs the change between failing and healthy once, not per attempt.
    private func logTransition(_ outcome: Outcome) {
        if let error = outcome.error {
            if !reportedFailing {
                reportedFailing = true
                logger.info("WAL commit failed", metadata: ["wal.directory": "\(directory)", "error": "\(error)"])
            }
        } else if reportedFailing {
            reportedFailing = false
            logger.info("WAL commit recovered", metadata: ["wal.directory": "\(directory)"])
        }
    }
}
