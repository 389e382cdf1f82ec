import ArgumentParser
import Foundation
import Gateway
import Logging

/// `citygate bench coap`: NON uplinks/s decoded and stored through the whole gateway, beside a bare NIO UDP socket
/// receiving the same load, and the confirmable round trip to the ACK sent after the WAL commit.
struct BenchCoAPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coap",
        abstract: "CoAP ingest: NON uplinks/s decoded and stored (vs a bare NIO UDP sink), CON round-trip p50/p99.")

    @Option(help: "NON uplinks sent.") var messages = 500_000
    @Option(help: "Target uplinks per second (0: as fast as the generator can send).") var rate = 0
    @Option(help: "Client sockets the uplinks rotate over.") var sockets = 16
    @Option(help: "Distinct devices.") var devices = 10_000
    @Option(help: "Confirmable requests for the round-trip figure.") var confirmables = 5_000
    @Option(help: "Confirmable requests outstanding at once.") var concurrency = 32
    @Flag(inversion: .prefixedNo, help: "NON uplinks carry No-Response (no answer), as NB-IoT devices in power saving send them.")
    var noResponse = true
    @Option(help: "WAL group-commit interval in milliseconds.") var commitInterval: Int64 = 100
    @Option(help: "Device profiles directory.") var profiles = "device-profiles"

    func run() async throws {
        var logger = Logger(label: "citygate.bench.coap")
        logger.logLevel = .error
        let bench = CoAPBenchmark(messages: messages, rate: rate, sockets: sockets, devices: devices, confirmables: confirmables,
                                  confirmableConcurrency: concurrency, noResponse: noResponse, profiles: profiles, commitIntervalMs: commitInterval)
        out("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB; "
            + "\(messages) NON uplinks (dragino-ndds75, 28-byte ASCII-hex frames) from \(bench.sockets) sockets, rate \(rate == 0 ? "unpaced" : "\(rate)/s"), "
            + "No-Response \(noResponse), WAL commit \(commitInterval) ms\n")
        let r = try await bench.run(logger: logger)
        var rows: [[String]] = [["WHAT", "SENT", "RECEIVED", "STORED", "PER SECOND", "SECONDS", "NOTE"]]
        rows.append(["generator", "\(r.sent)", "", "", String(format: "%.0f", Double(r.sent) / max(r.sendSeconds, 1e-9)), String(format: "%.2f", r.sendSeconds), "send() on loopback"])
        rows.append(["bare NIO UDP sink", "\(r.sent)", "\(r.referenceReceived)", "", String(format: "%.0f", r.referenceRate), String(format: "%.2f", r.referenceSeconds),
                     "reference: receive and count only"])
        rows.append(["gateway CoAP NON", "\(r.sent)", "\(r.received)", "\(r.stored)", String(format: "%.0f", r.storedRate), String(format: "%.2f", r.storeSeconds),
                     "decoded, registry, WAL durable; \(r.sent - r.received) lost in the kernel, \(r.overloaded) refused 5.03; \(r.samples) samples, \(r.deadLetters) dead letters"])
        out(ProfileTool.render(rows))
        out(String(format: "gateway / reference: %.2f\n", r.storedRate / max(r.referenceRate, 1e-9)))
        out(String(format: "CON round trip to the ACK (after the WAL commit): %d of %d answered 2.04 in %.1f s, %d outstanding; p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                    r.confirmed, max(1, confirmables / max(1, concurrency)) * concurrency, r.confirmableSeconds, concurrency, r.percentile(0.50), r.percentile(0.99), r.roundTripsMs.last ?? .nan))
    }
}
