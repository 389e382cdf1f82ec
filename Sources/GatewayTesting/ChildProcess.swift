#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn`, with a clean signal state and only stdio inherited.
///
/// A test thread may have SIGTERM (and others) blocked; a child inherits the mask, so it would ignore a graceful
/// stop and `waitpid` would hang. `POSIX_SPAWN_SETSIGMASK` clears the mask and `POSIX_SPAWN_SETSIGDEF` resets the
/// usual signals to their default actions. Descriptors above 2 are closed in the child
/// (`posix_spawn_file_actions_addclosefrom_np`, glibc 2.34+), so a broker started by one test does not hold the
/// write end of another test's pipe or a client socket.
public struct ChildProcess: Sendable {
    /// Process id.
    public let pid: pid_t

    /// Spawns `executable` (a path, or a name looked up in PATH) with stdin from `stdinPath` (or /dev/null) and
    /// stdout/stderr appended to the given files (stderr to stdout's file when nil).
    public static func spawn(
        executable: String, arguments: [String], stdinPath: String? = nil, stdoutPath: String, stderrPath: String? = nil
    ) throws -> ChildProcess {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let stderrPath {
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        if let closeFrom = Self.addCloseFrom {
            _ = closeFrom(&actions, 3)
        }

        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = (argv + [nil]).withUnsafeBufferPointer { argvBuffer in
            if executable.contains("/") {
                posix_spawn(&pid, executable, &actions, &attributes, argvBuffer.baseAddress!, environ)
            } else {
                posix_spawnp(&pid, executable, &actions, &attributes, argvBuffer.baseAddress!, environ)
            }
        }
        guard rc == 0 else { throw GatewayTestingError.system("posix_spawn \(executable)", rc) }
        return ChildProcess(pid: pid)
    }

    /// Sends `signal`. Harmless if the process has already been reaped.
    public func send(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Reaps the process if it has exited; nil while it runs.
    func poll() -> ProcessRunner.Status? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { return ProcessRunner.Status(waitStatus: status) }
        if r < 0 && errno == ECHILD { return .exited(-1) }
        return nil
    }

    /// Blocks until the process exits (use after SIGKILL, which cannot be ignored).
    @discardableResult
    public func wait() -> ProcessRunner.Status {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, 0)
            if r == pid { return ProcessRunner.Status(waitStatus: status) }
            if r < 0 && errno != EINTR { return .exited(-1) }
        }
    }

    /// Waits for exit without blocking a thread, up to `timeout`; nil if still running.
    public func wait(timeout: Duration) async -> ProcessRunner.Status? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if let status = poll() { return status }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// `posix_spawn_file_actions_addclosefrom_np` is a GNU extension the Glibc module does not import.
    private static let addCloseFrom: AddCloseFrom? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
        #else
        return nil
        #endif
    }()
}
