import Catalog
import DeviceProfiles
import Foundation
import GatewayCore

/// `citygate deadletter list|replay`: what vendors and operators use to see why payloads failed and to re-run
/// them after a profile fix.
public enum DeadLetterTool {
    /// Lists stored letters, newest first.
    public static func list(store: DeadLetterStore, reason: DeadLetter.Reason?, status: DeadLetterStatus?, profileID: String?, limit: Int,
                            showPayload: Bool) throws -> String {
        let letters = try store.list(reason: reason, profileID: profileID, status: status, limit: limit)
        var rows: [[String]] = [["ID", "RECEIVED", "TRANSPORT", "TOPIC", "PROFILE", "REASON", "STATUS", "BYTES", "ERROR"]]
        for l in letters {
            let m = l.letter.message
            rows.append([
                "\(l.id)", ProfileTool.iso8601(m.receiveTimeMs), m.transport.rawValue, m.topic,
                l.letter.profileID.map { "\($0)@\(l.letter.profileVersion ?? 0)" } ?? "-", l.letter.reason.rawValue, l.status.rawValue,
                "\(m.payload.count)", l.replayError ?? l.letter.error,
            ])
        }
        var text = ProfileTool.render(rows)
        if showPayload {
            for l in letters { text += "\(l.id): \(HexCodec.encode(l.letter.message.payload.prefix(256)))\(l.letter.message.payload.count > 256 ? "…" : "")\n" }
        }
        let counts = try store.countsByReason()
        text += "total \(try store.count()) (" + counts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ") + ")\n"
        return text
    }

    /// The outcome of a replay.
    public struct ReplayReport: Sendable {
        /// Letters that now decode.
        public var replayed: Int
        /// Letters that still fail (kept, with the new error).
        public var failed: Int
        /// Samples the replayed letters produced.
        public var samples: [Sample]
        /// Statuses they produced.
        public var statuses: [DeviceStatus]
    }

    /// Re-decodes letters with `profiles`. Successes are marked replayed and their samples handed to `sink`;
    /// failures stay, with the new error. With no ids, every letter not yet replayed is tried (up to `limit`).
    public static func replay(store: DeadLetterStore, profiles: ProfileSet, ids: [Int64], limit: Int, sink: (any SampleSink)?) async throws -> ReplayReport {
        var candidates: [StoredDeadLetter]
        if ids.isEmpty {
            candidates = try store.list(status: .new, limit: limit) + store.list(status: .failed, limit: limit)
            candidates = Array(candidates.sorted { $0.id < $1.id }.prefix(limit))
        } else {
            candidates = try store.letters(ids: ids)
        }
        var report = ReplayReport(replayed: 0, failed: 0, samples: [], statuses: [])
        var batch = SampleBatch()
        for c in candidates {
            switch profiles.decode(c.letter.message) {
            case .success(let (_, result)):
                try store.markReplayed(id: c.id, atMs: WallClock.nowMs())
                report.replayed += 1
                report.samples += result.samples
                report.statuses += result.statuses
                batch.samples += result.samples
                batch.statuses += result.statuses
                batch.messageCount += 1
            case .failure(let failure):
                try store.markReplayFailed(id: c.id, error: failure.error.description)
                report.failed += 1
            }
        }
        if let sink, !batch.isEmpty { try await sink.accept(batch) }
        return report
    }
}
