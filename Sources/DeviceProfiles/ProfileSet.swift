import GatewayCore

/// The loaded profiles, indexed for matching: what a transport calls to turn messages into samples.
///
/// Immutable after init, so one instance is shared by every decode task; a reload builds a new set and swaps it.
public struct ProfileSet: Sendable, MessageDecoder {
    /// Profiles by id (the highest version when a directory holds several).
    public let profiles: [String: Profile]
    /// MQTT templates in match order: most specific first, then by profile id.
    let routes: [Route]
    /// CoAP Uri-Path templates, CTWing and OneNET push routes, each in the same order.
    let coapRoutes: [Route]
    let ctwingRoutes: [Route]
    let onenetRoutes: [Route]
    /// Profiles that decode bare UDP datagrams, by id: a UDP listener is bound to one, and its messages carry the
    /// profile id as their topic.
    let udpProfiles: [String: Profile]
    /// Per-message limits.
    public let limits: DecodeLimits
    /// Largest payload any transport may hand in, whatever the profile allows.
    public let maxPayloadBytes: Int

    /// One template of one profile.
    struct Route: Sendable {
        let template: TopicTemplate
        let profile: Profile
    }

    /// Builds a set; duplicate ids keep the higher version, and two profiles claiming the same template of the same
    /// transport are refused.
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
        var table: [Transport: [Route]] = [:]
        var claimed: [Transport: [String: String]] = [:]
        for p in byID.values.sorted(by: { $0.id < $1.id }) {
            for (transport, t) in p.allTemplates {
                if let other = claimed[transport]?[t.description] {
                    let what = transport == .mqtt ? "topic template" : "\(transport.rawValue) template"
                    throw ProfileError(file: p.file, line: p.line, column: 1, message: "\(what) '\(t)' is already claimed by profile '\(other)'")
                }
                claimed[transport, default: [:]][t.description] = p.id
                table[transport, default: []].append(Route(template: t, profile: p))
            }
        }
        func ordered(_ transport: Transport) -> [Route] {
            (table[transport] ?? []).sorted { a, b in
                a.template.specificity != b.template.specificity ? a.template.specificity > b.template.specificity : a.profile.id < b.profile.id
            }
        }
        self.profiles = byID
        self.routes = ordered(.mqtt)
        self.coapRoutes = ordered(.coap)
        self.ctwingRoutes = ordered(.ctwing)
        self.onenetRoutes = ordered(.onenet)
        self.udpProfiles = byID.filter { $0.value.acceptsUDP }
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

    /// The MQTT subscription filters that cover every profile's MQTT templates (deduplicated); other transports'
    /// templates never become subscriptions.
    public var subscriptionFilters: [String] {
        var seen = Set<String>()
        return routes.map(\.template.subscriptionFilter).filter { seen.insert($0).inserted }
    }

    /// The profile and captures for an MQTT topic, if any profile claims it.
    public func route(topic: String) -> (profile: Profile, captures: [String: String])? {
        route(transport: .mqtt, topic: topic)
    }

    /// The profile and captures for a message's transport and topic (a CoAP Uri-Path, a push route, or for UDP
    /// the id of the profile its listener is bound to), if any profile claims it.
    public func route(transport: Transport, topic: String) -> (profile: Profile, captures: [String: String])? {
        guard let (profile, captures) = routeFast(transport: transport, topic: topic) else { return nil }
        return (profile, Dictionary(captures.pairs, uniquingKeysWith: { a, _ in a }))
    }

    /// The ids of the profiles that decode bare UDP datagrams (`match: { udp: true }`).
    public var udpProfileIDs: [String] { udpProfiles.keys.sorted() }

    func routeFast(transport: Transport, topic: String) -> (Profile, TopicCaptures)? {
        let list: [Route]
        switch transport {
        case .mqtt: list = routes
        case .coap: list = coapRoutes
        case .ctwing: list = ctwingRoutes
        case .onenet: list = onenetRoutes
        case .udp: return udpProfiles[topic].map { ($0, TopicCaptures()) }
        case .http: return nil
        }
        for route in list {
            if let captures = route.template.captures(topic) { return (route.profile, captures) }
        }
        return nil
    }

    /// Decodes one message with the profile its transport and topic select.
    public func decode(_ message: RawMessage) -> Result<(Profile, DecodeResult), DecodeFailure> {
        guard message.payload.count <= maxPayloadBytes else {
            return .failure(DecodeFailure(profile: nil, error: DecodeError(.oversize, "payload of \(message.payload.count) bytes exceeds the gateway limit of \(maxPayloadBytes)")))
        }
        guard let (profile, captures) = routeFast(transport: message.transport, topic: message.topic) else {
            return .failure(DecodeFailure(profile: nil, error: DecodeError(.noProfile, ProfileSet.noRouteMessage(message))))
        }
        do {
            let r = try profile.decode(payload: message.payload, topicCaptures: captures, attributes: message.attributes,
                                       receiveTimeMs: message.receiveTimeMs, limits: limits)
            return .success((profile, r))
        } catch {
            return .failure(DecodeFailure(profile: profile, error: error))
        }
    }

    static func noRouteMessage(_ message: RawMessage) -> String {
        switch message.transport {
        case .mqtt: "no profile matches topic '\(message.topic)'"
        case .coap: "no profile matches CoAP path '\(message.topic)'"
        case .udp: "no profile '\(message.topic)' with match.udp for this UDP listener"
        case .ctwing, .onenet: "no profile matches \(message.transport.rawValue) route '\(message.topic)'"
        case .http: "no profile routes plain http messages ('\(message.topic)')"
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
