/// Polls `condition` every few milliseconds until it holds or `timeout` passes; returns its last value.
///
/// For tests that wait on another thread's progress. The timeout is a failure bound, not a timing assertion:
/// pick it generously, then `#expect` the returned value.
public func waitUntil(timeout: Duration = .seconds(10), pollEvery interval: Duration = .milliseconds(5), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return condition()
}
