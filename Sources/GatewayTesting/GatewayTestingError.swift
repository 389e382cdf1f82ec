#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Failures of the test support itself (not of the code under test).
public enum GatewayTestingError: Error, CustomStringConvertible {
    /// A system call failed.
    case system(String, Int32)
    /// A tool is not installed.
    case notInstalled(String)
    /// The broker exited or never accepted connections; carries its log.
    case brokerFailed(String, log: String)
    /// A helper process failed; carries its command line and output.
    case processFailed(command: String, status: ProcessRunner.Status, output: String)
    /// A helper process ran past its time limit and was killed.
    case timedOut(command: String)

    public var description: String {
        switch self {
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        case .notInstalled(let tool): "\(tool) is not installed"
        case .brokerFailed(let why, let log): "mosquitto: \(why)\n--- broker log ---\n\(log)"
        case .processFailed(let command, let status, let output): "\(command) \(status)\n\(output)"
        case .timedOut(let command): "\(command) timed out"
        }
    }
}
