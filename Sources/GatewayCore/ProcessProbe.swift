import Foundation

/// Readings of one process from Linux's /proc: resident memory, threads, open descriptors, CPU time. Every reading
/// is nil where /proc is missing or the process is gone. Used by the benchmarks (soak, uplink) and the fault tests.
public struct ProcessProbe: Sendable {
    /// The process read.
    public let pid: Int32

    /// A probe of `pid`.
    public init(pid: Int32) { self.pid = pid }

    /// This process.
    public static var current: ProcessProbe { ProcessProbe(pid: getpid()) }

    /// Resident set size (VmRSS), bytes.
    public var residentBytes: Int64? { statusKB("VmRSS:").map { $0 * 1024 } }

    /// Peak resident set size (VmHWM), bytes.
    public var peakResidentBytes: Int64? { statusKB("VmHWM:").map { $0 * 1024 } }

    /// Threads.
    public var threads: Int? { statusValue("Threads:").flatMap { Int($0) } }

    /// Open file descriptors.
    public var descriptors: Int? { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count }

    /// The one-letter state ("R", "S", "Z", …).
    public var state: String? { statFields?.first }

    /// User + system CPU time in clock ticks (utime + stime).
    public var cpuTicks: Int? {
        // After the command's ")": state is index 0, utime index 11 and stime index 12 (fields 14 and 15 of the line).
        guard let f = statFields, f.count > 12, let user = Int(f[11]), let system = Int(f[12]) else { return nil }
        return user + system
    }

    /// User + system CPU time, seconds.
    public var cpuSeconds: Double? { cpuTicks.map { Double($0) / Self.ticksPerSecond } }

    /// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
    public static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    private var statFields: [String]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ").map(String.init)
    }

    private func statusValue(_ key: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return nil }
        return line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init)
    }

    private func statusKB(_ key: String) -> Int64? { statusValue(key).flatMap { Int64($0) } }
}
