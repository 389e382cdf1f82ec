import GatewayCore

/// The loaded profiles, indexed for matching: what a transport calls to turn messages into samples.
///
/// Immutable after init, so one instance is shared by every decode task; a reload builds a new set and swaps it.
public struct ProfileSet: Sendable, MessageDecoder {
    /// Profiles by id (the highest version when a directory holds several).
    public let profiles: [String: Profile]
    /// Templates in match order: most specific first, then by profile id.
    let routes: [(template: TopicTemplate, profile: Profile)]
    /// Per-message limits.
    public let limits: DecodeLimits
    /// Largest payload any transport may hand in, whatever the profile allows.
    public let maxPayloadBytes: Int

    /// Builds a set; duplicate ids keep the higher version, and two profiles claiming the same template are refused.
    public init(_ list: [Profile], limits: DecodeLimits = DecodeLimits(), maxPayloadBytes: Int = 65_536) throws(ProfileError) {
        var byID: [String: Profile] = [:]
        for p in list {
            if let existing = byID[p.id] {
                if existing.version == p.version {
                    throw ProfileError(file: p.file, line: p.line, column: 1, message: "profile '\(p.id)' version \(p.version) is also defined in \(existing.file)")
                }
                if existing.version > p.version { continue }
            }
            byID[p.id] = p
        }
        var routes: [(TopicTemplate, Profile)] = []
        var claimed: [String: String] = [:]
        for p in byID.values.sorted(by: { $0.id < $1.id }) {
            for t in p.mqttTopics {
                if let other = claimed[t.description] {
                    throw ProfileError(file: p.file, line: p.line, column: 1, message: "topic template '\(t)' is already claimed by profile '\(other)'")
                }
                claimed[t.description] = p.id
                routes.append((t, p))
            }
        }
        routes.sort { a, b in
            a.0.specificity != b.0.specificity ? a.0.specificity > b.0.specificity : a.1.id < b.1.id
        }
        self.profiles = byID
        self.routes = routes
        self.limits = limits
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Loads every profile file below a directory. All errors are collected, so a vendor sees them all at once.
    public static func load(directory: String, limits: DecodeLimits = DecodeLimits(), maxPayloadBytes: Int = 65_536) throws(ProfileSetError) -> ProfileSet {
        var profiles: [Profile] = []
        var errors: [ProfileError] = []
        for file in ProfileLoader.profileFiles(in: directory) {
            do {
                profiles += try ProfileLoader.load(file: file)
            } catch {
                errors.append(error)
            }
        }
        if !errors.isEmpty { throw ProfileSetError(errors: errors) }
        do {
            return try ProfileSet(profiles, limits: limits, maxPayloadBytes: maxPayloadBytes)
        } catch {
            throw ProfileSetError(errors: [error])
        }
    }

    /// The MQTT subscription filters that cover every profile's templates (deduplicated).
    public var subscriptionFilters: [String] {
        var seen = Set<String>()
        return routes.map(\.template.subscriptionFilter).filter { seen.insert($0).inserted }
    }

    /// The profile and captures for a topic, if any profile claims it.
    public func route(topic: String) -> (profile: Profile, captures: [String: String])? {
        guard let (profile, captures) = routeFast(topic: topic) else { return nil }
        return (profile, Dictionary(captures.pairs, uniquingKeysWith: { a, _ in a }))
    }

    func routeFast(topic: String) -> (Profile, TopicCaptures)? {
        for route in routes {
            if let captures = route.template.captures(topic) { return (route.profile, captures) }
        }
        return nil
    }

    /// Decodes one message with the profile its topic selects.
    public func decode(_ message: RawMessage) -> Result<(Profile, DecodeResult), DecodeFailure> {
        guard message.payload.count <= maxPayloadBytes else {
            return .failure(DecodeFailure(profile: nil, error: DecodeError(.oversize, "payload of \(message.payload.count) bytes exceeds the gateway limit of \(maxPayloadBytes)")))
        }
        guard let (profile, captures) = routeFast(topic: message.topic) else {
            return .failure(DecodeFailure(profile: nil, error: DecodeError(.noProfile, "no profile matches topic '\(message.topic)'")))
        }
        do {
            let r = try profile.decode(payload: message.payload, topicCaptures: captures, attributes: message.attributes,
                                       receiveTimeMs: message.receiveTimeMs, limits: limits)
            return .success((profile, r))
        } catch {
            return .failure(DecodeFailure(profile: profile, error: error))
        }
    }

    /// `MessageDecoder`: appends samples and statuses, or a dead letter.
    public func decode(_ message: RawMessage, into batch: inout SampleBatch) {
        batch.messageCount += 1
        switch decode(message) {
        case .success(let (_, result)):
            batch.samples.append(contentsOf: result.samples)
            batch.statuses.append(contentsOf: result.statuses)
        case .failure(let failure):
            batch.deadLetters.append(failure.deadLetter(for: message))
        }
    }
}

/// A message that did not decode, and the profile that was tried.
public struct DecodeFailure: Error, Sendable {
    /// The profile the topic selected, if any.
    public var profile: Profile?
    /// Why it failed.
    public var error: DecodeError

    /// The dead letter that keeps the message for replay.
    public func deadLetter(for message: RawMessage) -> DeadLetter {
        DeadLetter(message: message, reason: error.kind.deadLetterReason, error: error.message, profileID: profile?.id,
                   profileVersion: profile?.version)
    }
}

/// Several profile errors at once.
public struct ProfileSetError: Error, Sendable, CustomStringConvertible {
    /// Every error found.
    public var errors: [ProfileError]
    /// Creates the error.
    public init(errors: [ProfileError]) { self.errors = errors }
    /// One per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

extension DecodeError.Kind {
    /// The dead-letter reason for this kind of failure.
    public var deadLetterReason: DeadLetter.Reason {
        switch self {
        case .malformed: .malformed
        case .integrity: .integrity
        case .decode: .decode
        case .unknownDevice: .unknownDevice
        case .oversize: .oversize
        case .noProfile: .noProfile
        }
    }
}
