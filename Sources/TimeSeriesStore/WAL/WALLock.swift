#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex with two condition variables on the monotonic clock, for the WAL writer's hand-offs between
/// appending threads, committers and the WAL thread.
///
/// `Synchronization.Mutex` has no condition variable, and `NSCondition.wait(until:)` waits on the wall clock (a clock
/// step backwards would stall group commit); here timed waits use `CLOCK_MONOTONIC`.
///
/// `@unchecked Sendable`: the pthread objects live at stable heap addresses allocated in `init` and freed in `deinit`,
/// and pthread mutexes and condition variables are made to be used from any thread.
final class WALLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Signalled when there is work for the WAL thread.
    private let work: UnsafeMutablePointer<pthread_cond_t>
    /// Broadcast when a commit attempt finishes (or the WAL thread exits).
    private let finished: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if os(Linux)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        work = .allocate(capacity: 1)
        pthread_cond_init(work, &attributes)
        finished = .allocate(capacity: 1)
        pthread_cond_init(finished, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(work)
        pthread_cond_destroy(finished)
        pthread_mutex_destroy(mutex)
        work.deallocate()
        finished.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Runs `body` with the mutex held. `body` must not block on I/O.
    @inline(__always)
    func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Wakes the WAL thread (call with the mutex held).
    func signalWork() { pthread_cond_signal(work) }

    /// Waits for `signalWork` (mutex held; spurious wake-ups possible).
    func waitForWork() { pthread_cond_wait(work, mutex) }

    /// Waits for `signalWork` or until `deadlineNs` on the monotonic clock.
    func waitForWork(untilNs deadlineNs: UInt64) {
        #if os(Linux)
        var deadline = timespec(tv_sec: Int(deadlineNs / 1_000_000_000), tv_nsec: Int(deadlineNs % 1_000_000_000))
        pthread_cond_timedwait(work, mutex, &deadline)
        #else
        let now = WALClock.nowNs()
        let wait = deadlineNs > now ? deadlineNs - now : 0
        var relative = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
        pthread_cond_timedwait_relative_np(work, mutex, &relative)
        #endif
    }

    /// Wakes everyone waiting for a commit attempt to finish (mutex held).
    func broadcastFinished() { pthread_cond_broadcast(finished) }

    /// Waits for `broadcastFinished` (mutex held; spurious wake-ups possible).
    func waitForFinished() { pthread_cond_wait(finished, mutex) }
}

/// The monotonic clock the WAL times commits with (never affected by wall-clock steps).
enum WALClock {
    static func nowNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
