import Foundation
import Synchronization

/// A real `mosquitto` broker for tests, on 127.0.0.1 and a free port, with a generated configuration in its own
/// temporary directory.
///
/// `init` returns once the port accepts TCP connections (a client connecting earlier gets "Connection refused").
/// `stop()` kills with SIGKILL (nothing saved); `terminate()` sends SIGTERM, on which mosquitto writes its
/// persistence file before exiting; `restart()` starts it again on the same port with the same directory, so a
/// persisted database is loaded. Releasing the value kills the broker and deletes the directory (persistence
/// database and any stored sessions with it).
///
/// Mark suites that need it `.enabled(if: Broker.executable != nil)`.
public final class Broker: Sendable {
    /// A TLS listener's files (PEM).
    public struct TLSListener: Sendable, Hashable {
        /// CA certificate clients' certificates are checked against (and that signed `certFile`).
        public var caFile: String
        /// Server certificate.
        public var certFile: String
        /// Server private key.
        public var keyFile: String
        /// Require clients to present a certificate signed by `caFile`.
        public var requireClientCertificate: Bool

        /// Creates listener settings.
        public init(caFile: String, certFile: String, keyFile: String, requireClientCertificate: Bool = false) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
            self.requireClientCertificate = requireClientCertificate
        }

        /// Listener settings for a generated fixture.
        public init(_ fixture: TLSFixture) {
            self.init(caFile: fixture.caFile, certFile: fixture.certFile, keyFile: fixture.keyFile)
        }
    }

    /// What to put in the generated mosquitto.conf.
    public struct Options: Sendable, Hashable {
        /// Keep sessions and queued messages in `<directory>/mosquitto.db` (saved on SIGTERM and by autosave).
        public var persistence: Bool
        /// `autosave_interval` in seconds when persistence is on (mosquitto's default is 1800).
        public var autosaveIntervalSeconds: Int?
        /// `max_queued_messages` per client (mosquitto's default is 1000).
        public var maxQueuedMessages: Int?
        /// `allow_anonymous`.
        public var allowAnonymous: Bool
        /// `password_file` (create one with `MosquittoPasswordFile.create`).
        public var passwordFile: String?
        /// Make the listener TLS-only with these files.
        public var tls: TLSListener?
        /// Extra configuration lines, appended verbatim.
        public var extraConfiguration: [String]

        /// Creates options. Defaults: no persistence, anonymous access, plain TCP.
        public init(
            persistence: Bool = false, autosaveIntervalSeconds: Int? = nil, maxQueuedMessages: Int? = nil,
            allowAnonymous: Bool = true, passwordFile: String? = nil, tls: TLSListener? = nil, extraConfiguration: [String] = []
        ) {
            self.persistence = persistence
            self.autosaveIntervalSeconds = autosaveIntervalSeconds
            self.maxQueuedMessages = maxQueuedMessages
            self.allowAnonymous = allowAnonymous
            self.passwordFile = passwordFile
            self.tls = tls
            self.extraConfiguration = extraConfiguration
        }
    }

    /// The mosquitto binary, or nil when it is not installed. `MOSQUITTO` in the environment overrides the search.
    public static let executable: String? = {
        if let path = ProcessInfo.processInfo.environment["MOSQUITTO"], access(path, X_OK) == 0 { return path }
        return ProcessRunner.which("mosquitto")
    }()

    /// Always the loopback address.
    public let host = "127.0.0.1"
    /// The listener's port; the same across restarts.
    public let port: Int
    /// What the configuration was generated from.
    public let options: Options
    /// The broker's directory: configuration, log and persistence database.
    public let directory: TemporaryDirectory

    private let process = Mutex<ChildProcess?>(nil)

    /// Path of the generated configuration.
    public var configurationPath: String { directory.file("mosquitto.conf") }
    /// Path of the broker's log (stdout and stderr).
    public var logPath: String { directory.file("mosquitto.log") }
    /// The broker's log so far.
    public var log: String { FileContents.text(atPath: logPath) }
    /// True while the process runs (it has not been stopped, and has not exited).
    public var isRunning: Bool {
        process.withLock { p in
            // A reaped child is forgotten at once, so its pid is never signalled again.
            if let child = p, child.poll() != nil { p = nil }
            return p != nil
        }
    }

    /// Writes the configuration, starts `mosquitto -c`, and waits until the port accepts connections.
    ///
    /// A port that was free when chosen can be taken by a parallel test before mosquitto binds it (mosquitto then
    /// exits at once): that is retried on a fresh port, up to five times.
    public init(options: Options = Options()) async throws {
        guard let executable = Self.executable else { throw GatewayTestingError.notInstalled("mosquitto") }
        self.options = options
        let directory = try TemporaryDirectory(prefix: "citygate-broker")
        self.directory = directory
        var started: (port: Int, child: ChildProcess)?
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try FreePort.next()
            try Self.configuration(options: options, port: port, directory: directory.path)
                .write(toFile: directory.file("mosquitto.conf"), atomically: true, encoding: .utf8)
            do {
                started = (port, try await Self.start(executable: executable, directory: directory, port: port))
                break
            } catch let error as GatewayTestingError {
                guard case .brokerFailed(let reason, _) = error, reason.hasPrefix("exited before") else { throw error }
                lastError = error
            }
        }
        guard let started else { throw lastError! }
        self.port = started.port
        process.withLock { $0 = started.child }
    }

    deinit {
        stop()
    }

    /// Kills the broker with SIGKILL and reaps it: an abrupt crash, nothing saved. Idempotent.
    public func stop() {
        guard let child = process.withLock({ p in defer { p = nil }; return p }) else { return }
        child.send(SIGKILL)
        child.wait()
    }

    /// Stops the broker with SIGTERM, on which mosquitto saves its persistence database, and waits for it to
    /// exit (SIGKILL after `timeout`).
    public func terminate(timeout: Duration = .seconds(10)) async {
        guard let child = process.withLock({ p in defer { p = nil }; return p }) else { return }
        child.send(SIGTERM)
        if await child.wait(timeout: timeout) == nil {
            child.send(SIGKILL)
            child.wait()
        }
    }

    /// Starts the broker again on the same port with the same directory (kills it first if it runs).
    public func restart() async throws {
        stop()
        try await launch()
    }

    private func launch() async throws {
        guard let executable = Self.executable else { throw GatewayTestingError.notInstalled("mosquitto") }
        let child = try await Self.start(executable: executable, directory: directory, port: port)
        process.withLock { $0 = child }
    }

    /// Spawns mosquitto on the configuration in `directory` and waits until `port` accepts connections.
    private static func start(executable: String, directory: TemporaryDirectory, port: Int) async throws -> ChildProcess {
        let logPath = directory.file("mosquitto.log")
        let log = { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
        let child = try ChildProcess.spawn(executable: executable, arguments: ["-c", directory.file("mosquitto.conf")], stdoutPath: logPath)
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while true {
            if let status = child.poll() {
                throw GatewayTestingError.brokerFailed("exited before accepting connections (\(status))", log: log())
            }
            if FreePort.isAccepting(port: port) { return child }
            if ContinuousClock.now >= deadline {
                child.send(SIGKILL)
                child.wait()
                throw GatewayTestingError.brokerFailed("port \(port) did not accept connections within 10 s", log: log())
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The generated mosquitto.conf.
    static func configuration(options: Options, port: Int, directory: String) -> String {
        var lines = [
            "# Generated by GatewayTesting.Broker",
            "per_listener_settings false",
            "allow_anonymous \(options.allowAnonymous)",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp true",
        ]
        // Run as ourselves: as root, mosquitto would otherwise switch to the `mosquitto` user, which cannot
        // read this directory.
        if let user = getpwuid(geteuid())?.pointee.pw_name {
            lines.append("user \(String(cString: user))")
        }
        if let passwordFile = options.passwordFile {
            lines.append("password_file \(passwordFile)")
        }
        if options.persistence {
            lines.append("persistence true")
            lines.append("persistence_location \(directory)/")
            lines.append("persistence_file mosquitto.db")
            if let interval = options.autosaveIntervalSeconds {
                lines.append("autosave_interval \(interval)")
            }
        } else {
            lines.append("persistence false")
        }
        if let maxQueued = options.maxQueuedMessages {
            lines.append("max_queued_messages \(maxQueued)")
        }
        lines.append("listener \(port) 127.0.0.1")
        if let tls = options.tls {
            lines.append("cafile \(tls.caFile)")
            lines.append("certfile \(tls.certFile)")
            lines.append("keyfile \(tls.keyFile)")
            lines.append("require_certificate \(tls.requireClientCertificate)")
        }
        lines.append(contentsOf: options.extraConfiguration)
        return lines.joined(separator: "\n") + "\n"
    }
}
