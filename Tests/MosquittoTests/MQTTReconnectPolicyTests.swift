import Mosquitto
import Testing

@Suite struct MQTTReconnectPolicyTests {
    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    @Test func withoutJitterDelaysDoubleUpToTheCap() {
        let policy = MQTTReconnectPolicy(initialDelay: .milliseconds(100), maxDelay: .seconds(2), jitterFraction: 0)
        let delays = (0..<8).map { seconds(policy.delay(attempt: $0, unitRandom: 0.7)) }
        let expected = [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]
        for (delay, want) in zip(delays, expected) {
            #expect(abs(delay - want) < 1e-9)
        }
    }

    @Test(arguments: [0.0, 0.25, 0.5, 0.999])
    func jitterShortensByAtMostTheFraction(random: Double) {
        let policy = MQTTReconnectPolicy(initialDelay: .seconds(1), maxDelay: .seconds(30), jitterFraction: 0.2)
        for attempt in 0..<10 {
            let base = min(30, pow2(attempt))
            let delay = seconds(policy.delay(attempt: attempt, unitRandom: random))
            #expect(delay <= base + 1e-9)
            #expect(delay >= base * 0.8 - 1e-9)
            #expect(abs(delay - base * (1 - 0.2 * random)) < 1e-6)
        }
    }

    @Test func hugeAttemptNumbersStayAtTheCap() {
        let policy = MQTTReconnectPolicy(initialDelay: .milliseconds(500), maxDelay: .seconds(30), jitterFraction: 0)
        #expect(policy.delay(attempt: 10_000, unitRandom: 0) == .seconds(30))
        #expect(policy.delay(attempt: Int.max, unitRandom: 0) == .seconds(30))
    }

    @Test func randomJitterSpreadsDelays() {
        let policy = MQTTReconnectPolicy(initialDelay: .seconds(1), maxDelay: .seconds(1), jitterFraction: 0.5)
        var generator = SystemRandomNumberGenerator()
        let delays = Set((0..<50).map { _ in policy.delay(attempt: 3, using: &generator) })
        #expect(delays.count > 1)
        #expect(delays.allSatisfy { $0 >= .milliseconds(500) && $0 <= .seconds(1) })
    }

    private func pow2(_ n: Int) -> Double { (0..<n).reduce(1.0) { acc, _ in acc * 2 } }
}
