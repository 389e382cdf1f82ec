/// Writes a mosquitto `password_file` with `mosquitto_passwd -b` (hashed entries, as the broker expects).
public enum MosquittoPasswordFile {
    /// Creates (or overwrites) `path` with one entry per user. Throws `GatewayTestingError.notInstalled` without
    /// `mosquitto_passwd`.
    public static func create(at path: String, users: [(user: String, password: String)]) async throws {
        guard let tool = ProcessRunner.which("mosquitto_passwd") else { throw GatewayTestingError.notInstalled("mosquitto_passwd") }
        for (index, entry) in users.enumerated() {
            // -c creates a new file (first entry only); -b takes the password from the command line.
            let create = index == 0 ? ["-c"] : []
            try await ProcessRunner.check(tool, create + ["-b", path, entry.user, entry.password])
        }
    }
}
