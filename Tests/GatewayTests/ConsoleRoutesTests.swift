import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The console's static routes without sockets (`app.test(.router)`): what is embedded is what is in
/// Sources/Gateway/Console, with the right types, caching and security headers.
@Suite struct ConsoleRoutesTests {
    static let consoleDirectory: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/Sources/Gateway/Console"
    }()

    func file(_ name: String) throws -> String {
        try String(contentsOfFile: Self.consoleDirectory + "/" + name, encoding: .utf8)
    }

    func app() -> some ApplicationProtocol {
        let router = Router()
        ConsoleRoutes.register(on: router)
        return Application(router: router)
    }

    struct Reply: Equatable {
        var status: Int
        var headers: HTTPFields
        var body: String
        func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }
    }

    func get(_ client: some TestClientProtocol, _ uri: String, headers: HTTPFields = [:]) async throws -> Reply {
        try await client.execute(uri: uri, method: .get, headers: headers) { r in
            Reply(status: Int(r.status.code), headers: r.headers, body: String(buffer: r.body))
        }
    }

    @Test func theRootAndTheBareConsolePathRedirectToTheConsole() async throws {
        try await app().test(.router) { (client) async throws in
            for uri in ["/", "/console"] {
                let reply = try await get(client, uri)
                #expect(reply.status == 302, "\(uri)")
                #expect(reply.header("Location") == "console/", "\(uri)")
            }
        }
    }

    @Test(arguments: [
        ("/console/", "index.html", "text/html; charset=utf-8"),
        ("/console/index.html", "index.html", "text/html; charset=utf-8"),
        ("/console/console.js", "console.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "console.css", "text/css; charset=utf-8"),
        ("/console/favicon.svg", "favicon.svg", "image/svg+xml"),
    ])
    func everyFileIsServedAsEmbeddedWithItsTypeAndHeaders(uri: String, name: String, type: String) async throws {
        let expected = try file(name)
        try await app().test(.router) { (client) async throws in
            let reply = try await get(client, uri)
            #expect(reply.status == 200)
            #expect(reply.body == expected, "the binary embeds an outdated \(name)")
            #expect(reply.header("Content-Type") == type)
            #expect(reply.header("Cache-Control") == "no-cache")
            #expect(reply.header("ETag")?.hasPrefix("\"") == true)
            #expect(reply.header("X-Content-Type-Options") == "nosniff")
            #expect(reply.header("Referrer-Policy") == "no-referrer")
            let csp = try #require(reply.header("Content-Security-Policy"))
            #expect(csp.hasPrefix("default-src 'self';"))
            #expect(csp.contains("script-src 'self';") && csp.contains("style-src 'self';") && csp.contains("connect-src 'self';"))
            #expect(!csp.contains("unsafe"))
        }
    }

    @Test func aRevalidationWithTheSameETagIsAnswered304() async throws {
        try await app().test(.router) { (client) async throws in
            let first = try await get(client, "/console/console.js")
            let etag = try #require(first.header("ETag"))
            for conditional in [etag, "W/\(etag)", "\"other\", \(etag)", "*"] {
                let again = try await get(client, "/console/console.js", headers: [.ifNoneMatch: conditional])
                #expect(again.status == 304, "If-None-Match: \(conditional)")
                #expect(again.body.isEmpty)
                #expect(again.header("ETag") == etag)
            }
            let changed = try await get(client, "/console/console.js", headers: [.ifNoneMatch: "\"not-it\""])
            #expect(changed.status == 200 && !changed.body.isEmpty)
            let css = try await get(client, "/console/console.css")
            #expect(css.header("ETag") != etag, "different files, different tags")
        }
    }

    @Test(arguments: ["/console/nope.js", "/console/..%2FPackage.swift", "/console/Console.swift", "/console/a/b"])
    func anythingElseIsNotFound(uri: String) async throws {
        try await app().test(.router) { (client) async throws in
            let reply = try await get(client, uri)
            #expect(reply.status == 404)
            #expect(!reply.body.contains("import"))
        }
    }

    /// The lead's API runs on its own request context: the console mounts on any.
    struct OtherContext: RequestContext {
        var coreContext: CoreRequestContextStorage
        init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
    }

    @Test func itMountsOnAnotherRequestContext() async throws {
        let router = Router(context: OtherContext.self)
        ConsoleRoutes.register(on: router)
        try await Application(router: router).test(.router) { (client) async throws in
            #expect(try await get(client, "/console/").status == 200)
            #expect(try await get(client, "/").status == 302)
        }
    }

    /// No CDN, no framework, nothing the CSP would block: every script, style and link is a local file.
    @Test func thePagesLoadNothingFromElsewhereAndNothingInline() throws {
        let html = try file("index.html")
        for name in ["index.html", "console.js", "console.css"] {
            let text = try file(name).replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "")  // a namespace name
            #expect(!text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"), "\(name) refers to another host")
        }
        #expect(!html.contains("style=") && !html.contains("<style"), "inline style is blocked by the CSP")
        #expect(html.components(separatedBy: "<script").count - 1 == 1 && html.contains("<script src=\"console.js\""))
        #expect(html.range(of: #"\son[a-z]+="#, options: .regularExpression) == nil, "inline handlers are blocked by the CSP")
        let js = try file("console.js")
        #expect(!js.contains("innerHTML") && !js.contains("eval("), "the console builds its DOM from text nodes")
    }
}
