import Foundation
import GatewayCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Failures of the store benchmark.
public enum StoreBenchError: Error, CustomStringConvertible {
    /// A tool (curl, victoria-metrics) is missing or misbehaved.
    case tool(String)
    /// The run produced something inconsistent.
    case check(String)

    /// The message.
    public var description: String {
        switch self {
        case .tool(let s): s
        case .check(let s): "store benchmark: \(s)"
        }
    }
}

/// Small OS helpers for the store benchmark: RSS, directory sizes, ports, child processes, statistics.
public enum StoreBenchSupport {
    /// Resident set size of this process (VmRSS in /proc/self/status), bytes; 0 where there is no /proc.
    public static func residentBytes() -> Int { Int(ProcessProbe.current.residentBytes ?? 0) }

    /// Returns freed heap pages to the kernel (glibc `malloc_trim`), so RSS reflects live memory.
    public static func trimHeap() {
        #if canImport(Glibc)
        // malloc.h is not in the Glibc module map; look the symbol up (RTLD_DEFAULT is the null handle).
        typealias Trim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(nil, "malloc_trim") { _ = unsafeBitCast(symbol, to: Trim.self)(0) }
        #endif
    }

    /// Sum of the sizes (st_size, as `du -b`) of every regular file under `path`.
    public static func directoryBytes(_ path: String) -> Int64 {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { return 0 }
        if !isDir.boolValue { return fileBytes(path) }
        var total: Int64 = 0
        guard let walker = fm.enumerator(atPath: path) else { return 0 }
        while let rel = walker.nextObject() as? String { total += fileBytes(path + "/" + rel) }
        return total
    }

    static func fileBytes(_ path: String) -> Int64 {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return 0 }
        return Int64(st.st_size)
    }

    /// A fresh directory under `base` (default: $TMPDIR, else /tmp).
    public static func temporaryDirectory(_ prefix: String, in base: String? = nil) throws -> String {
        let base = base ?? ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StoreBenchError.tool("cannot create a temporary directory under \(base)")
        }
        return String(cString: made)
    }

    /// Absolute path of an executable on PATH (or in /usr/bin, /usr/sbin).
    public static func which(_ tool: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin", "/usr/local/bin"]
        return dirs.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now.
    public static func freeLoopbackPort() throws -> Int { try LocalBroker.freePort() }

    /// A VictoriaMetrics single node on a free loopback port with an empty data directory, healthy.
    public static func startVictoriaMetrics(_ vm: String, curl: String, dataPath: String, logPath: String) async throws -> (process: Process, base: String) {
        let port = try freeLoopbackPort()
        let base = "http://127.0.0.1:\(port)"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: vm)
        server.arguments = ["-storageDataPath", dataPath, "-httpListenAddr", "127.0.0.1:\(port)", "-retentionPeriod", "100y",
                            "-dedup.minScrapeInterval", "1ms", "-search.latencyOffset", "0s"]
        let log = FileHandle(forWritingAtPath: logPath)
        server.standardOutput = log
        server.standardError = log
        server.standardInput = FileHandle.nullDevice
        try server.run()
        let deadline = Date().addingTimeInterval(60)
        while true {
            guard server.isRunning else { throw StoreBenchError.tool("victoria-metrics exited at start (see \(logPath))") }
            if let r = try? run(curl, ["-sf", "--max-time", "2", base + "/health"]), r.status == 0 { break }
            guard Date() < deadline else {
                VictoriaMetricsReference.stop(server)
                throw StoreBenchError.tool("victoria-metrics did not become healthy within 60 s")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return (server, base)
    }

    /// The machine for a benchmark report: cores (model), memory, OS, and whether this is a release build.
    public static func machine() -> String {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }.map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) }
        var build = "release build"
        #if DEBUG
        build = "DEBUG build (figures not representative)"
        #endif
        let gib = Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824
        return "\(ProcessInfo.processInfo.activeProcessorCount) cores" + (model.map { " (\($0))" } ?? "") + String(format: ", %.1f GiB RAM", gib)
            + ", \(ProcessInfo.processInfo.operatingSystemVersionString), \(build)"
    }

    /// Runs a program to completion; returns its exit status and standard output (standard error is kept apart).
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let outPipe = Pipe()
        let errPipe = Pipe()
        p.standardOutput = outPipe
        p.standardError = errPipe
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // Read both to the end before waiting, so a chatty child cannot block on a full pipe.
        let errData = Mutex<Data>(Data())
        let errDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let d = errPipe.fileHandleForReading.readDataToEndOfFile()
            errData.withLock { $0 = d }
            errDone.signal()
        }
        let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
        errDone.wait()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData.withLock { $0 }, as: UTF8.self))
    }

    /// The q-quantile (0…1) of unsorted values, nearest rank.
    public static func quantile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    /// The path of the running executable.
    public static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// `1234567` → `1,234,567`.
    public static func grouped(_ v: Int64) -> String {
        let digits = String(v.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (v < 0 ? "-" : "") + out
    }

    /// `grouped` for Int.
    public static func grouped(_ v: Int) -> String { grouped(Int64(v)) }
}

