import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A mosquitto broker started by the gateway itself on 127.0.0.1, for the demo and the benchmarks (tests use
/// GatewayTesting's `Broker`). It writes its config into a temporary directory and is killed on `stop()`.
public final class LocalBroker: @unchecked Sendable {
    /// The port it listens on.
    public let port: Int
    private let process: Process
    private let directory: URL

    /// Finds mosquitto (PATH, /usr/sbin), or nil.
    public static var executable: String? {
        let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/mosquitto" } + ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts a broker; `extraConfig` lines are appended to the generated mosquitto.conf.
    public init(extraConfig: [String] = []) throws {
        guard let exe = LocalBroker.executable else { throw GatewayError.tool("mosquitto is not installed (apt-get install mosquitto)") }
        port = try LocalBroker.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("citygate-broker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let conf = directory.appendingPathComponent("mosquitto.conf")
        let lines = ["listener \(port) 127.0.0.1", "allow_anonymous true", "persistence false", "max_queued_messages 0", "log_dest none"] + extraConfig
        try (lines.joined(separator: "\n") + "\n").write(to: conf, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["-c", conf.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while !LocalBroker.accepts(port: port) {
            guard process.isRunning, Date() < deadline else {
                stop()
                throw GatewayError.tool("mosquitto did not start on 127.0.0.1:\(port)")
            }
            usleep(20_000)
        }
    }

    deinit { stop() }

    /// Kills the broker and removes its directory.
    /// The broker's process id.
    public var pid: Int32 { process.processIdentifier }

    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// A port the kernel just handed out on 127.0.0.1.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw GatewayError.tool("socket() failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else { throw GatewayError.tool("cannot bind a loopback port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// True when something accepts TCP connections on 127.0.0.1:port.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
