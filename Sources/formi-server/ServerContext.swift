// What every call shares: configuration, compiled flows, provider templates, the ledger, the voice,
// metrics, and the registry of calls in progress.

import FormiCore
import Foundation
import Logging

final class ServerContext: Sendable {
    let config: ServerConfig
    let logger: Logger
    let metrics: ServerMetrics
    let ledger: LedgerWriter
    let speech: Speech
    /// Keyword recognition for the flows' speech conditions (nil: none name a phrase, or no model).
    let recognizer: Recognizer?
    let calls: CallRegistry
    let parked = ParkedCalls()
    /// Agents, outlets, flows and provider templates as the next call sees them (the configuration's,
    /// then kept in step with the platform API's store).
    let catalog: Catalog
    /// The platform API (API/): its store, tokens and routes.
    let api: PlatformAPI
    /// Flow name -> compiled flow.
    var flows: [String: CompiledFlow] { catalog.flows }
    /// Provider name -> template JSON (built-ins, the configured ones, the API's vendors); parsed per
    /// call, as a template carries its mapper's scratch state.
    var templates: [String: [UInt8]] { catalog.templates }

    init(config: ServerConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        metrics = ServerMetrics()
        var templates: [String: [UInt8]] = [:]
        for name in BuiltinTemplates.names {
            if let json = BuiltinTemplates.json(named: name) { templates[name] = Array(json.utf8) }
        }
        for (name, path) in config.templates {
            let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
            do throws(TemplateError) {
                _ = try ProviderTemplate(json: bytes)
            } catch {
                throw StartupError("template \(name) (\(path)): \(error.message)")
            }
            templates[name] = bytes
        }
        var flows: [String: CompiledFlow] = [:]
        for (name, source) in config.flows {
            let json: [UInt8]
            if source.hasPrefix("builtin:") {
                guard let text = DemoDefaults.flow(named: String(source.dropFirst(8))) else { throw StartupError("flow \(name): no built-in flow \(source)") }
                json = Array(text.utf8)
            } else {
                json = try Array(Data(contentsOf: URL(fileURLWithPath: source)))
            }
            do throws(FlowError) {
                flows[name] = try CompiledFlow.compile(json: json)
            } catch {
                throw StartupError("flow \(name) (\(source)): \(error.message)")
            }
        }
        catalog = Catalog(.init(agents: Dictionary(config.agents.map { ($0.agentId, $0) }, uniquingKeysWith: { a, _ in a }),
                                outlets: Dictionary(config.outlets.map { ($0.outletId, $0) }, uniquingKeysWith: { a, _ in a }),
                                flows: flows, templates: templates))
        api = try PlatformAPI(config: config, logger: logger)
        ledger = try LedgerWriter(location: config.ledger, dataDir: config.dataDir, metrics: metrics, logger: logger)
        try ledger.provision(config)
        speech = Speech(logger: logger, metrics: metrics)
        recognizer = Recognizer.start(flows: flows, logger: logger)
        calls = CallRegistry(maxCalls: config.limits.maxCalls)
    }

    func agent(_ id: Int) -> ServerConfig.Agent? { catalog.agent(id) }
    func outlet(_ id: Int) -> ServerConfig.Outlet? { catalog.outlet(id) }

    /// Runs one call on `transport`; `feed` delivers what the socket receives (and `.closed` at its end).
    func serveCall(route: CallRoute, transport: CallTransport,
                   feed: @escaping @Sendable (AsyncStream<CallInput>.Continuation) async -> Void) async {
        let (stream, continuation) = AsyncStream.makeStream(of: CallInput.self, bufferingPolicy: .bufferingOldest(config.limits.maxPendingFrames))
        guard let id = calls.reserve(continuation) else {
            metrics.refused(reason: calls.draining ? "draining" : "capacity").increment()
            logger.warning("call refused: \(calls.draining ? "shutting down" : "at capacity")", metadata: ["provider": "\(route.provider)"])
            await transport.close(code: 1013, reason: calls.draining ? "the server is shutting down" : "too many calls; try again later")
            return
        }
        defer { calls.release(id) }
        guard let templateJSON = templates[route.provider], let agentConfig = agent(route.agentId),
              let outletConfig = outlet(route.outletId), agentConfig.agentUrl != nil || flows[agentConfig.flow] != nil else {
            await transport.close(code: 1011, reason: "the call's provider, agent or outlet is not configured")
            return
        }
        let handler: CallHandler
        let context = await ContextRoutes.inputs(for: route, server: self)  // the platform API's pre-interaction context
        do {
            let template = try ProviderTemplate(json: templateJSON)
            let agent: any CallAgent
            if let flow = flows[agentConfig.flow], agentConfig.agentUrl == nil {
                agent = DemoAgent(agent: agentConfig, flow: flow, outletName: outletConfig.name, speech: speech,
                                  logger: logger.with("call", "\(id)"), recognizer: recognizer, grammars: recognizer?.grammars(for: flow) ?? [:],
                                  inputs: context)
            } else {
                // The bridge's messages wake the call at once rather than at its next 20 ms tick.
                agent = AgentBridge(agent: agentConfig, route: route, server: self, logger: logger.with("call", "\(id)"),
                                    wake: { continuation.yield(.tick) })
            }
            handler = try CallHandler(id: id, route: route, template: template, agent: agent, transport: transport, server: self)
        } catch {
            metrics.errors(kind: "agent").increment()
            logger.error("the call could not start: \(error)")
            await transport.close(code: 1011, reason: "the call could not start")
            return
        }
        let active = metrics.activeCalls(provider: route.provider)
        active.increment()
        // The call's clock (pacing, marks kept by time, timeouts, idleness) comes from the registry's
        // one timer (`Ticker`).
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await feed(continuation) }
            await handler.run(stream)
            group.cancelAll()
        }
        continuation.finish()
        active.decrement()
    }
}

struct StartupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Logger {
    func with(_ key: String, _ value: String) -> Logger {
        var copy = self
        copy[metadataKey: key] = "\(value)"
        return copy
    }
}
