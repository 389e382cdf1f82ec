#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Wall-clock time in Unix milliseconds. One place, so tests and the fault harness can reason about it.
///
/// A system clock before 2000-01-01 is not believed: it was reset (an RTC without battery, a bad NTP step to 1970).
/// While it reads so, `nowMs` continues from the last plausible reading this process saw, advanced by the monotonic
/// clock, so receive times stay near the truth instead of landing in 1970 (where the store's age limit would evict
/// them at once). A process that never saw a plausible time returns the system clock as it is.
public enum WallClock {
    /// 2000-01-01T00:00:00Z: earlier wall-clock readings are taken as a reset clock.
    public static let plausibleFloorMs: Int64 = 946_684_800_000
    private static let lastPlausibleMs = Atomic<Int64>(0)
    private static let lastPlausibleMonotonicNs = Atomic<UInt64>(0)

    /// Now, in Unix milliseconds.
    @inline(__always)
    public static func nowMs() -> Int64 {
        let raw = systemMs()
        let monotonic = MonotonicClock.nowNs()
        if raw >= plausibleFloorMs {
            lastPlausibleMs.store(raw, ordering: .relaxed)
            lastPlausibleMonotonicNs.store(monotonic, ordering: .relaxed)
            return raw
        }
        let good = lastPlausibleMs.load(ordering: .relaxed)
        guard good > 0 else { return raw }
        return good + Int64((monotonic &- lastPlausibleMonotonicNs.load(ordering: .relaxed)) / 1_000_000)
    }

    /// The system's wall clock as it is.
    @inline(__always)
    public static func systemMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// Monotonic time for timers and rates: unaffected by wall-clock jumps.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point.
    @inline(__always)
    public static func nowNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
