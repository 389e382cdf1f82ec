import Hummingbird
import NIOCore

/// The control-room console (docs/console.md): static HTML, CSS and JavaScript compiled into the binary
/// (`Sources/Gateway/Console/`, SwiftPM `.embedInCode`), so an edge box needs no web root and no internet.
///
/// Routes: `GET /` redirects to `console/`; `GET /console` redirects to `console/` (so the page's relative asset
/// and API links resolve); `GET /console/` and `/console/index.html` serve the page; `/console/<file>` the assets.
/// The pages need no token: everything they show comes from the `/v1` API, which does. Every answer carries an
/// ETag (a conditional `If-None-Match` gets 304), `Cache-Control: no-cache` (browsers revalidate, so an upgraded
/// gateway's console is picked up at the next load), and security headers: a Content-Security-Policy allowing
/// only this origin (no inline scripts or styles, no other hosts), `X-Content-Type-Options: nosniff`,
/// `Referrer-Policy: no-referrer`.
public enum ConsoleRoutes {
    /// One embedded file.
    struct Asset: Sendable {
        let body: ByteBuffer
        let contentType: String
        let etag: String

        init(_ bytes: [UInt8], contentType: String) {
            body = ByteBuffer(bytes: bytes)
            self.contentType = contentType
            etag = "\"" + String(ConsoleRoutes.fnv1a(bytes), radix: 16) + "\""
        }
    }

    /// The files under `/console/`, by name.
    static let assets: [String: Asset] = [
        "index.html": Asset(PackageResources.index_html, contentType: "text/html; charset=utf-8"),
        "console.js": Asset(PackageResources.console_js, contentType: "text/javascript; charset=utf-8"),
        "console.css": Asset(PackageResources.console_css, contentType: "text/css; charset=utf-8"),
        "favicon.svg": Asset(PackageResources.favicon_svg, contentType: "image/svg+xml"),
    ]

    /// Only this origin: scripts, styles, images, fetch() and framing. No inline script or style is allowed.
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"

    /// Mounts the console on `router`, whatever request context the gateway's API uses.
    public static func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/") { _, _ in redirect(to: "console/") }
        router.get("console") { request, _ -> Response in
            // `/console` and `/console/` reach the same route; only the latter may serve the page, or the page's
            // relative links (console.css, ../v1/) would resolve one level too high.
            request.uri.path.hasSuffix("/") ? serve("index.html", request) : redirect(to: "console/")
        }
        router.get("console/:file") { request, context -> Response in
            serve(context.parameters.get("file") ?? "", request)
        }
    }

    static func serve(_ name: String, _ request: Request) -> Response {
        guard let asset = assets[name] else {
            return Response(status: .notFound, headers: securityHeaders(contentType: "text/plain; charset=utf-8"),
                            body: ResponseBody(byteBuffer: ByteBuffer(string: "no such console file\n")))
        }
        var headers = securityHeaders(contentType: asset.contentType)
        headers[.eTag] = asset.etag
        headers[.cacheControl] = "no-cache"
        if let conditional = request.headers[.ifNoneMatch], matches(conditional, asset.etag) {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: asset.body))
    }

    static func redirect(to location: String) -> Response {
        var headers = securityHeaders(contentType: "text/plain; charset=utf-8")
        headers[.location] = location
        headers[.cacheControl] = "no-cache"
        return Response(status: .found, headers: headers)
    }

    static func securityHeaders(contentType: String) -> HTTPFields {
        [
            .contentType: contentType,
            .init("Content-Security-Policy")!: contentSecurityPolicy,
            .init("X-Content-Type-Options")!: "nosniff",
            .init("Referrer-Policy")!: "no-referrer",
        ]
    }

    /// Whether an `If-None-Match` value (`*`, or a comma-separated list of tags, possibly weak) names `etag`.
    static func matches(_ ifNoneMatch: String, _ etag: String) -> Bool {
        ifNoneMatch.split(separator: ",").contains { candidate in
            var tag = candidate.trimmingPrefixAndSuffixSpaces()
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
            return tag == etag
        }
    }

    /// 64-bit FNV-1a: a content hash for the ETags (not for security).
    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }
}

extension Substring {
    fileprivate func trimmingPrefixAndSuffixSpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
