import HTTPTypes
import Hummingbird
import NIOCore

/// The HTTP routes of the carrier push receivers, for any Hummingbird router:
///
/// - `POST {group}/ctwing`: CTWing subscription push (when `configuration.ctwing.enabled`).
/// - `GET {group}/onenet`: OneNET URL verification (`?msg=&nonce=&signature=`).
/// - `POST {group}/onenet`: OneNET data push.
///
/// The gateway mounts them under `/push`. Bodies over `maxBodyBytes` are answered 413 (from `Content-Length`
/// before reading, or while reading a chunked body). Every answer is `text/plain`; see `PushReceiver` for the
/// codes and when each is sent.
public struct PushController<Context: RequestContext>: Sendable {
    /// The receiver the routes call.
    public let receiver: PushReceiver

    /// Creates the controller.
    public init(receiver: PushReceiver) {
        self.receiver = receiver
    }

    /// Adds the enabled routes to `group` (for example `router.group("push")`).
    public func addRoutes(to group: RouterGroup<Context>) {
        let configuration = receiver.configuration
        if configuration.ctwing.enabled {
            group.post("ctwing") { request, _ in try await self.ctwing(request) }
        }
        if configuration.onenet.enabled {
            group.get("onenet") { request, _ in self.onenetVerification(request) }
            group.post("onenet") { request, _ in try await self.onenet(request) }
        }
    }

    /// `POST ctwing`.
    func ctwing(_ request: Request) async throws -> Response {
        guard let body = try await collect(request, .ctwing) else { return Self.response(receiver.bodyTooLarge(.ctwing)) }
        let token = request.uri.queryParameters["token"].map(String.init) ?? request.headers[Self.tokenHeader]
        return Self.response(await receiver.receiveCTWing(body: body, token: token))
    }

    /// `GET onenet`: the URL verification.
    func onenetVerification(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        return Self.response(receiver.verifyOneNETURL(msg: query["msg"].map(String.init), nonce: query["nonce"].map(String.init),
                                                      signature: query["signature"].map(String.init)))
    }

    /// `POST onenet`.
    func onenet(_ request: Request) async throws -> Response {
        guard let body = try await collect(request, .onenet) else { return Self.response(receiver.bodyTooLarge(.onenet)) }
        return Self.response(await receiver.receiveOneNET(body: body))
    }

    /// The body as bytes, or nil when it is over the limit.
    private func collect(_ request: Request, _ platform: PushPlatform) async throws -> [UInt8]? {
        let limit = receiver.configuration.maxBodyBytes
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit { return nil }
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            return nil
        }
    }

    /// The optional CTWing token header (our own; CTWing defines none).
    static var tokenHeader: HTTPField.Name { HTTPField.Name("X-CityGate-Token")! }

    static func response(_ reply: PushReply) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: HTTPResponse.Status(code: reply.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: reply.body)))
    }
}
