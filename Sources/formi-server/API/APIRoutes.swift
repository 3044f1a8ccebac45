// The platform API under /api/v1 (hand-written Hummingbird routes; the contract is the OpenAPI 3.1
// document API/openapi.json, served at /openapi.json and checked against the routes by the tests).

import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore

enum APIRoutes {
    static func add(to router: Router<BasicWebSocketRequestContext>, server: ServerContext) {
        let document = OpenAPIDocument.bytes
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: document)))
        }
        // Before the API's routes: a router's middleware wraps the routes added after it (and unknown paths).
        router.add(middleware: APIErrorMiddleware())
        let api = router.group("/api/v1")
        AuthRoutes.add(to: api, server: server)
        AgentRoutes.add(to: api, server: server)
        FlowRoutes.add(to: api, server: server)
        VendorRoutes.add(to: api, server: server)
        VendorRoutes.addConnection(to: api, server: server)
        InteractionRoutes.add(to: api, server: server)
        UsageRoutes.add(to: api, server: server)
        ToolRoutes.add(to: api, server: server)
        ModelConfigRoutes.add(to: api, server: server)
        WebhookRoutes.add(to: api, server: server)
        ContextRoutes.add(to: api, server: server)
        PostInteractionRoutes.add(to: api, server: server)
        TextRoutes.add(to: api, server: server)
    }
}

enum OpenAPIDocument {
    /// The document shipped beside the binary (SwiftPM resource), or a refusal if it is missing.
    static let bytes: [UInt8] = {
        if let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url) {
            return Array(data)
        }
        return Array(#"{"success": false, "message": "the OpenAPI document was not installed with the server"}"#.utf8)
    }()
}
