// Webhooks (seed 000, "Webhooks"): an outlet's URL and metadata, and the events sent to it — an
// interaction ended, credits running low or out — as JSON POSTs signed with HMAC-SHA-256 and retried
// with back-off. Delivery runs in tasks of its own, never on an event loop or in a call's way, with a
// cap on deliveries in flight (beyond it events are dropped and counted). The reservation-ingestion
// metadata of the seed has no meaning here and is not provided.

import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import HummingbirdWebSocket
import Synchronization

struct WebhookSettings: Codable, Sendable {
    var url: String?
    var secret: String?
    var metadata: [String: ConfigJSON] = [:]
}

enum WebhookRoutes {
    static func add(to api: RouterGroup<BasicWebSocketRequestContext>, server: ServerContext) {
        let platform = server.api
        let limit = platform.config.maxBodyBytes

        api.get("webhook") { request, _ in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let settings = try await load(platform, outlet)
            return API.ok(["url": settings.url ?? NSNull(), "events": WebhookSender.events, "signature": "Formi-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256 of \"<t>.<body>\">"])
        }

        // Sets the URL; the signing secret is made on the first set and shown in this answer only.
        api.put("webhook") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(try await API.body(request, limit: limit))
            let url = fields.string("url", required: true, max: 2048)
            let rotate = fields.bool("rotate_secret") ?? false
            try fields.finish()
            guard let url, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
                  let host = parsed.host, !host.isEmpty, parsed.user == nil else {
                throw APIError.badRequest("url must be an http or https URL with a host and no credentials")
            }
            var settings = try await load(platform, outlet)
            settings.url = url
            var shown: Any = NSNull()
            if settings.secret == nil || rotate {
                let secret = "whsec_" + Secrets.randomKey()
                settings.secret = secret
                shown = secret
            }
            try await save(platform, outlet, settings)
            return API.ok(["url": url, "secret": shown])
        }

        api.get("webhook/metadata") { request, _ in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let settings = try await load(platform, outlet)
            return API.ok(["metadata": settings.metadata.mapValues(\.foundation)])
        }

        api.put("webhook/metadata") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(try await API.body(request, limit: 16 * 1024))
            let metadata = fields.object("metadata", required: true)
            try fields.finish()
            let decoded: [String: ConfigJSON]
            do {
                decoded = try JSONDecoder().decode([String: ConfigJSON].self, from: Data(JSONSerialization.text(metadata ?? [:]).utf8))
            } catch {
                throw APIError.badRequest("metadata must be a JSON object")
            }
            var settings = try await load(platform, outlet)
            settings.metadata = decoded
            try await save(platform, outlet, settings)
            return API.ok(["metadata": decoded.mapValues(\.foundation)])
        }
    }

    static func load(_ platform: PlatformAPI, _ outlet: Int) async throws -> WebhookSettings {
        guard let text = try await platform.store.outletSetting(outlet: outlet, key: "webhook") else { return WebhookSettings() }
        return (try? JSONDecoder().decode(WebhookSettings.self, from: Data(text.utf8))) ?? WebhookSettings()
    }

    private static func save(_ platform: PlatformAPI, _ outlet: Int, _ settings: WebhookSettings) async throws {
        let data = try JSONEncoder().encode(settings)
        try await stored { try await platform.store.setOutletSetting(outlet: outlet, key: "webhook", json: String(decoding: data, as: UTF8.self)) }
    }
}

final class WebhookSender: Sendable {
    static let events = ["interaction.ended", "credits.low_balance", "credits.insufficient"]
    /// Seconds before each retry.
    static let backoff: [Double] = [0.5, 1, 2, 4]
    static let maxInFlight = 256

    private let inFlight = Mutex(0)

    /// Runs `work` in a task of its own unless `maxInFlight` deliveries are under way (then it is dropped,
    /// counted and logged).
    func launch(_ what: String, server: ServerContext, _ work: @escaping @Sendable () async -> Void) {
        let admitted = inFlight.withLock { count -> Bool in
            guard count < Self.maxInFlight else { return false }
            count += 1
            return true
        }
        guard admitted else {
            server.metrics.errors(kind: "webhook").increment()
            server.logger.warning("\(what) dropped: \(Self.maxInFlight) deliveries in flight")
            return
        }
        Task.detached { [self] in
            defer { inFlight.withLock { $0 -= 1 } }
            await work()
        }
    }

    /// Sends `data` as `event` to the outlet's webhook, if it has one; returns at once.
    func send(_ event: String, outlet: Int, data: [String: Any], server: ServerContext) {
        let payload = JSONSerialization.text(data)
        launch("webhook event \(event)", server: server) {
            guard let settings = try? await WebhookRoutes.load(server.api, outlet), let url = settings.url.flatMap(URL.init(string:)),
                  let secret = settings.secret else { return }
            let metadata = JSONSerialization.text(settings.metadata.mapValues(\.foundation))
            let body = #"{"event":"# + JSONSerialization.text(event) + #","outlet_id":\#(outlet),"occurred_at":"# +
                JSONSerialization.text(iso(Date().timeIntervalSince1970)) + #","data":\#(payload),"metadata":\#(metadata)}"#
            if !(await Self.post(url: url, secret: secret, event: event, body: body)) {
                server.metrics.errors(kind: "webhook").increment()
                server.logger.warning("webhook \(event) to outlet \(outlet)'s URL was not delivered")
            }
        }
    }

    /// POSTs `body`, signed with `secret`, retrying with back-off; whether it was taken (2xx).
    static func post(url: URL, secret: String, event: String, body: String) async -> Bool {
        for attempt in 0...backoff.count {
            let timestamp = String(Int(Date().timeIntervalSince1970))
            let mac = HMAC<SHA256>.authenticationCode(for: Data((timestamp + "." + body).utf8), using: SymmetricKey(data: Array(secret.utf8)))
            var request = URLRequest(url: url, timeoutInterval: 5)
            request.httpMethod = "POST"
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined(), forHTTPHeaderField: "Formi-Signature")
            request.setValue(event, forHTTPHeaderField: "Formi-Event")
            request.setValue(String(attempt + 1), forHTTPHeaderField: "Formi-Attempt")
            var status = 0
            do {
                let (_, response) = try await URLSession.shared.data(for: request)
                status = (response as? HTTPURLResponse)?.statusCode ?? 0
            } catch {
                status = 0
            }
            if (200..<300).contains(status) { return true }
            // A refusal that a retry cannot change: stop (408 and 429 are worth retrying).
            if (400..<500).contains(status), status != 408, status != 429 { return false }
            guard attempt < backoff.count else { break }
            try? await Task.sleep(for: .milliseconds(Int(backoff[attempt] * 1000)))
        }
        return false
    }
}
