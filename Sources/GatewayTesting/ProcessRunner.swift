import Foundation

/// Runs a command-line tool to completion and captures its output: `mosquitto_pub`, `python3 -c …`, `openssl`.
public enum ProcessRunner {
    /// How a process ended.
    public enum Status: Sendable, Hashable, CustomStringConvertible {
        /// Exited with this code.
        case exited(Int32)
        /// Killed by this signal.
        case signaled(Int32)

        init(waitStatus status: Int32) {
            // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
            let signal = status & 0x7f
            self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
        }

        public var description: String {
            switch self {
            case .exited(let code): "exited with status \(code)"
            case .signaled(let signal): "killed by signal \(signal)"
            }
        }
    }

    /// What a finished process left behind.
    public struct Output: Sendable {
        /// How it ended.
        public var status: Status
        /// Everything it wrote to stdout.
        public var stdout: [UInt8]
        /// Everything it wrote to stderr.
        public var stderr: [UInt8]

        /// stdout as UTF-8 text.
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        /// stderr as UTF-8 text.
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
        /// True when it exited with status 0.
        public var succeeded: Bool { status == .exited(0) }
    }

    /// Runs `executable` (path or PATH name) with `arguments`, feeding `stdin`, and waits for it without blocking
    /// a thread. The process is killed (SIGKILL) if it runs past `timeout`.
    public static func run(
        _ executable: String, _ arguments: [String], stdin: [UInt8]? = nil, timeout: Duration = .seconds(30)
    ) async throws -> Output {
        let directory = try TemporaryDirectory(prefix: "citygate-run")
        let stdinPath: String?
        if let stdin {
            stdinPath = directory.file("stdin")
            try Data(stdin).write(to: URL(fileURLWithPath: stdinPath!))
        } else {
            stdinPath = nil
        }
        let child = try ChildProcess.spawn(
            executable: executable, arguments: arguments, stdinPath: stdinPath, stdoutPath: directory.file("stdout"),
            stderrPath: directory.file("stderr")
        )
        guard let status = await child.wait(timeout: timeout) else {
            child.send(SIGKILL)
            child.wait()
            throw GatewayTestingError.timedOut(command: ([executable] + arguments).joined(separator: " "))
        }
        let stdout = FileContents.bytes(atPath: directory.file("stdout")) ?? []
        let stderr = FileContents.bytes(atPath: directory.file("stderr")) ?? []
        return Output(status: status, stdout: stdout, stderr: stderr)
    }

    /// Like `run`, but throws `GatewayTestingError.processFailed` (with the output) unless the exit status is 0.
    @discardableResult
    public static func check(
        _ executable: String, _ arguments: [String], stdin: [UInt8]? = nil, timeout: Duration = .seconds(30)
    ) async throws -> Output {
        let output = try await run(executable, arguments, stdin: stdin, timeout: timeout)
        guard output.succeeded else {
            throw GatewayTestingError.processFailed(
                command: ([executable] + arguments).joined(separator: " "), status: output.status,
                output: output.stdoutText + output.stderrText
            )
        }
        return output
    }

    /// The absolute path of `name` in PATH (plus the sbin directories), or nil.
    public static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin", "/sbin"]
        for directory in directories where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
