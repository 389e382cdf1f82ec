import CMosquitto

/// Process-wide libmosquitto state.
///
/// `mosquitto_lib_init` must run once before any other call and is not thread-safe itself (mosquitto.h: "This
/// function is *not* thread safe"). A `static let` initialiser runs exactly once, guarded by the runtime's
/// once-token, so every entry point that creates a handle goes through `ensureInitialized()`.
/// `mosquitto_lib_cleanup` is never called: the library stays initialised until the process exits.
public enum MosquittoLibrary {
    private static let initResult: Int32 = mosquitto_lib_init()

    /// Initialises libmosquitto if nobody has yet. Cheap after the first call.
    static func ensureInitialized() throws(MosquittoError) {
        try MosquittoError.check(initResult)
    }

    /// The linked libmosquitto version, e.g. `"2.0.11"`.
    public static var version: String {
        var major: Int32 = 0
        var minor: Int32 = 0
        var revision: Int32 = 0
        _ = mosquitto_lib_version(&major, &minor, &revision)
        return "\(major).\(minor).\(revision)"
    }
}
