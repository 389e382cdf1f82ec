import Catalog
import GatewayCore
import Logging
import TimeSeriesStore

/// `DurableIngest` over the gateway's decoder, pipeline and store: what CoAP CON and carrier push acknowledge on.
///
/// One call decodes its messages into one batch, hands it to the pipeline, then waits for the WAL's next group
/// commit, so concurrent callers share an fsync. Without a store (disabled) the data is as durable as the
/// pipeline makes it, and the call returns once the pipeline has it.
public struct DurableIngestor: DurableIngest {
    let decoder: any MessageDecoder
    let pipeline: Pipeline
    let registry: DeviceRegistry?
    let store: TimeSeriesStore?
    /// The store's index in the pipeline's downstream list.
    let storeStage: Int?
    let logger: Logger

    /// Creates the ingestor; `storeStage` is the store's index among the pipeline's downstream sinks.
    public init(decoder: any MessageDecoder, pipeline: Pipeline, registry: DeviceRegistry? = nil, store: TimeSeriesStore?, storeStage: Int?, logger: Logger) {
        self.decoder = decoder
        self.pipeline = pipeline
        self.registry = registry
        self.store = store
        self.storeStage = storeStage
        self.logger = logger
    }

    /// Decodes, stores and waits for durability; see `DurableIngest`.
    public func ingest(_ messages: [RawMessage]) async -> [IngestOutcome] {
        var batch = SampleBatch(reservingCapacity: messages.count * 4)
        var outcomes: [IngestOutcome] = []
        outcomes.reserveCapacity(messages.count)
        for message in messages {
            if message.payload.isEmpty, let presence = message.attributes["event.online"] {
                outcomes.append(applyPresence(message, online: presence == "1"))
                continue
            }
            let samplesBefore = batch.samples.count
            let lettersBefore = batch.deadLetters.count
            decoder.decode(message, into: &batch)
            if batch.deadLetters.count > lettersBefore, let letter = batch.deadLetters.last {
                outcomes.append(.rejected(letter.reason, letter.error))
            } else {
                outcomes.append(.stored(samples: batch.samples.count - samplesBefore))
            }
        }
        batch.messageCount = messages.count
        let failed = await pipeline.process(batch)
        if let storeStage, failed.contains(storeStage) {
            return outcomes.map { $0.isStoredWithSamples ? .unavailable("the store refused the write") : $0 }
        }
        if let store, !batch.samples.isEmpty {
            do {
                try await store.waitUntilDurable()
            } catch {
                logger.warning("Durable ingest could not confirm the write", metadata: ["error": "\(error)"])
                return outcomes.map { $0.isStoredWithSamples ? .unavailable("the write-ahead log failed: \(error)") : $0 }
            }
        }
        return outcomes
    }
}

extension DurableIngestor {
    /// A platform's online/offline report: applied to the device if the registry knows it under the platform's
    /// device id, the IMEI, or the topic's last part; accepted either way (it is not data, and retrying cannot help).
    func applyPresence(_ message: RawMessage, online: Bool) -> IngestOutcome {
        let candidates = [message.attributes["platform.device_id"], message.attributes["imei"], message.topic.split(separator: "/").last.map(String.init)]
        for case let id? in candidates where registry?.device(id: id) != nil {
            let at = message.attributes["platform.time_ms"].flatMap { Int64($0) } ?? message.receiveTimeMs
            if let change = registry?.reportPresence(device: id, online: online, atMs: at) {
                logger.debug("Device presence from the platform", metadata: ["device.id": "\(id)", "device.state": "\(change.to.rawValue)"])
            }
            return .stored(samples: 0)
        }
        logger.debug("Presence report for a device not in the registry", metadata: ["push.topic": "\(message.topic)"])
        return .stored(samples: 0)
    }

    /// Stores a dead letter the transport produced itself (the pipeline counts it by reason).
    public func deadLetter(_ letter: DeadLetter) async -> Bool {
        pipeline.storeDeadLetters([letter])
    }
}

extension IngestOutcome {
    var isStoredWithSamples: Bool {
        if case .stored(let n) = self { return n > 0 }
        return false
    }
}
