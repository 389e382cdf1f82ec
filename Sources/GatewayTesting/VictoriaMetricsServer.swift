import Foundation
import Synchronization

/// A real VictoriaMetrics single-node server for tests (Debian `victoria-metrics`), on 127.0.0.1 and a port
/// chosen up front, so a test can point a gateway at it while it is still down and start it later (`start()`),
/// kill it (`stop()`, SIGKILL) and start it again on the same port and data directory.
///
/// It runs with `-dedup.minScrapeInterval=1ms`: samples with the same series and timestamp are merged, which is
/// how VictoriaMetrics gives the overwrite-on-replay semantics the uplink relies on. Mark suites that need it
/// `.enabled(if: VictoriaMetricsServer.executable != nil)`.
public final class VictoriaMetricsServer: Sendable {
    /// The binary, or nil when it is not installed. `VICTORIA_METRICS` in the environment overrides the search.
    public static let executable: String? = {
        if let path = ProcessInfo.processInfo.environment["VICTORIA_METRICS"], access(path, X_OK) == 0 { return path }
        return ProcessRunner.which("victoria-metrics")
    }()

    /// Always the loopback address.
    public let host = "127.0.0.1"
    /// The HTTP port, fixed for the server's life.
    public let port: Int
    /// Data directory and log.
    public let directory: TemporaryDirectory
    private let process = Mutex<ChildProcess?>(nil)

    /// Base URL, e.g. `http://127.0.0.1:8428`.
    public var url: String { "http://\(host):\(port)" }
    /// The server's log so far.
    public var log: String { FileContents.text(atPath: directory.file("victoria-metrics.log")) }

    /// Reserves a port and a directory; the server is not started.
    public init() throws {
        guard Self.executable != nil else { throw GatewayTestingError.notInstalled("victoria-metrics") }
        port = try FreePort.next()
        directory = try TemporaryDirectory(prefix: "citygate-vm")
    }

    deinit { stop() }

    /// Starts the server and waits until its port accepts connections.
    public func start() async throws {
        stop()
        let child = try ChildProcess.spawn(
            executable: Self.executable!,
            arguments: ["-storageDataPath", directory.file("data"), "-httpListenAddr", "\(host):\(port)", "-retentionPeriod", "100y",
                        "-dedup.minScrapeInterval", "1ms", "-search.latencyOffset", "0s", "-loggerLevel", "WARN"],
            stdoutPath: directory.file("victoria-metrics.log"))
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while !FreePort.isAccepting(port: port) {
            if let status = child.poll() {
                throw GatewayTestingError.processFailed(command: "victoria-metrics", status: status, output: log)
            }
            guard ContinuousClock.now < deadline else {
                child.send(SIGKILL)
                child.wait()
                throw GatewayTestingError.timedOut(command: "victoria-metrics start")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.withLock { $0 = child }
    }

    /// Kills the server (SIGKILL) and reaps it. Idempotent.
    public func stop() {
        guard let child = process.withLock({ p in defer { p = nil }; return p }) else { return }
        child.send(SIGKILL)
        child.wait()
    }

    /// True while it runs.
    public var isRunning: Bool {
        process.withLock { p in
            if let child = p, child.poll() != nil { p = nil }
            return p != nil
        }
    }
}
