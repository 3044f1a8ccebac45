// formi-server: the adapter server. /ws-adapter/{provider}/... for every provider's media stream,
// Asterisk AudioSocket over TCP, the demo agent behind both, the usage ledger, /healthz, /readyz,
// /metrics, and a graceful drain on SIGTERM.

import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOPosix
import ServiceLifecycle

@main
struct FormiServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formi-server",
        abstract: "The libformi adapter server: telephony media streams in, a voice agent out.",
        discussion: "With no --config it runs the built-in demo: agent 1 and outlet 1 with credits, the demo flow, a ledger under --data-dir.")

    @Option(help: "A JSON configuration file (see --print-config for every field).") var config: String?
    @Option(help: "Address to listen on.") var host: String?
    @Option(help: "HTTP/WebSocket port (0: any free port).") var port: Int?
    @Option(name: .customLong("tls-certificate"), help: "PEM certificate chain: serve https and wss (with --tls-key).") var tlsCertificate: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key of the certificate.") var tlsKey: String?
    @Option(name: .customLong("audiosocket-port"), help: "AudioSocket TCP port (0: any free port).") var audiosocketPort: Int?
    @Flag(name: .customLong("no-audiosocket"), help: "Do not listen for AudioSocket.") var noAudiosocket = false
    @Option(name: .customLong("data-dir"), help: "Where the ledger is kept.") var dataDir: String?
    @Option(help: "The ledger: a postgresql:// URL shared by every instance, or a SQLite path (default DATA_DIR/usage.db).") var ledger: String?
    @Option(name: .customLong("max-calls"), help: "Concurrent calls.") var maxCalls: Int?
    @Option(name: .customLong("drain-seconds"), help: "On SIGTERM, how long calls may go on.") var drainSeconds: Double?
    @Option(name: .customLong("idle-seconds"), help: "Close a call with nothing received for this long.") var idleSeconds: Double?
    @Option(help: "Event-loop threads for the sockets (default: one per core).") var threads: Int?
    @Option(name: .customLong("output-lead-ms"), help: "Agent audio sent ahead of real time (0: the provider's rule).") var outputLead: Int?
    @Option(name: .customLong("reconnect-grace-seconds"), help: "Hold a dropped call this long for a reconnect (0: never).") var reconnectGrace: Double?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.") var logLevel: String?
    @Option(name: .customLong("log-format"), help: "text or json.") var logFormat: String?
    @Option(name: .customLong("sim-command"), help: "How the banner's call command starts the simulator.") var simCommand = "python -m formi.sim"
    @Option(name: .customLong("sim-args"), help: "Arguments the banner's call command ends with.") var simArgs = "--wav caller.wav --dtmf 1@8 --save heard.wav"
    @Flag(name: .customLong("print-config"), help: "Print the effective configuration and exit.") var printConfig = false
    @Option(name: .customLong("recognize-grammar"), help: "Decode the µ-law 8 kHz FILES against these |-separated phrases, print JSON lines, exit.") var recognizeGrammar: String?
    @Option(name: .customLong("reject-below"), help: "With --recognize-grammar: the score per frame below which a guess is rejected.") var rejectBelow = Recognizer.defaultRejectBelow
    @Argument(help: "With --recognize-grammar: raw µ-law 8 kHz files (or raw 16 kHz PCM16, named *.s16).") var files: [String] = []
    @Option(name: .customLong("text"), help: "Run a text interaction with these messages (repeatable) on --text-agent, print the replies as JSON lines, record it, exit.") var texts: [String] = []
    @Option(name: .customLong("text-agent"), help: "With --text: the agent and outlet, e.g. 1/1.") var textAgent = "1/1"

    func run() async throws {
        if let recognizeGrammar {
            try RecognizeTool.run(grammar: recognizeGrammar, files: files, rejectBelow: rejectBelow)
            return
        }
        var config = try self.config.map { try ServerConfig.load(path: $0) } ?? ServerConfig()
        if let host { config.listen.host = host; config.audiosocket.host = host }
        if let port { config.listen.port = port }
        if let tlsCertificate { config.listen.tlsCertificate = tlsCertificate }
        if let tlsKey { config.listen.tlsKey = tlsKey }
        if let audiosocketPort { config.audiosocket.port = audiosocketPort }
        if noAudiosocket { config.audiosocket.enabled = false }
        if let dataDir { config.dataDir = dataDir }
        if let ledger { config.ledger = ledger }
        if let maxCalls { config.limits.maxCalls = maxCalls }
        if let drainSeconds { config.limits.drainSeconds = drainSeconds }
        if let idleSeconds { config.limits.idleSeconds = idleSeconds }
        if let outputLead { config.limits.outputLeadMs = outputLead }
        if let reconnectGrace { config.limits.reconnectGraceSeconds = reconnectGrace }
        if let logLevel { config.log.level = logLevel }
        if let logFormat { config.log.format = logFormat }
        let problems = config.problems()
        guard problems.isEmpty else { throw ValidationError("the configuration is not valid:\n  " + problems.joined(separator: "\n  ")) }
        if printConfig {
            announce(config.json())
            return
        }

        let level = Logger.Level(rawValue: config.log.level) ?? .info
        let json = config.log.format == "json"
        LoggingSystem.bootstrap { label in
            var handler: LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "formi-server")
        logger.logLevel = level

        let server: ServerContext
        do {
            server = try ServerContext(config: config, logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(2)
        }
        if !texts.isEmpty {
            try await TextInteractions.runTool(server: server, route: textAgent, messages: texts)
            return
        }
        do {
            try await server.api.bootstrap(server: config, catalog: server.catalog)
        } catch {
            logger.critical("cannot start the platform API: \(error)")
            throw ExitCode(2)
        }
        let loops: MultiThreadedEventLoopGroup = threads.map { MultiThreadedEventLoopGroup(numberOfThreads: max(1, $0)) } ?? .singleton
        let router = Routes.router(server)
        let httpServer: HTTPServerBuilder
        do {
            httpServer = try withTLS(gatedServer(router: router, server: server), config.listen)
        } catch {
            logger.critical("cannot start: TLS: \(error)")
            throw ExitCode(2)
        }
        let host = config.listen.host
        let (http, ws) = config.listen.tlsCertificate == nil ? ("http", "ws") : ("https", "wss")
        let simCommand = self.simCommand, simArgs = self.simArgs
        let app = Application(
            router: router,
            server: httpServer,
            configuration: .init(address: .hostname(host, port: config.listen.port), serverName: "formi-server"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                announce("formi-server listening on \(http)://\(host):\(port) (WebSocket \(ws)://\(host):\(port)\(Routes.path))")
                announce("place a call:  \(simCommand) \(ws)://\(host):\(port)/ws-adapter/twilio/inbound/1/1/+15550100 \(simArgs)")
            },
            eventLoopGroupProvider: .shared(loops),
            logger: logger
        )
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: app)]
        if config.audiosocket.enabled {
            let audioHost = config.audiosocket.host
            services.append(.init(service: AudioSocketListener(server: server, group: loops) { port in
                announce("AudioSocket listening on tcp://\(audioHost):\(port)")
            }))
        }
        services.append(.init(service: Ticker(server: server)))
        // Last in the list: the first told to shut down. Calls drain before the listeners close.
        services.append(.init(service: DrainService(server: server)))
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        server.ledger.flush()
        server.speech.shutdown()
        logger.info("stopped")
    }
}

/// HTTP/1.1 with the WebSocket upgrade, behind the UpgradeGate (refusals with a status and a reason).
func gatedServer(router: Router<BasicWebSocketRequestContext>, server: ServerContext) -> HTTPServerBuilder {
    let responder = router.buildResponder()
    let configuration = HTTP1WebSocketUpgradeChannel.Configuration(ws: .init(maxFrameSize: server.config.limits.maxMessageBytes))
    return HTTPServerBuilder { httpResponder in
        GatedUpgradeChannel(
            inner: HTTP1WebSocketUpgradeChannel(responder: httpResponder, webSocketResponder: responder, configuration: configuration),
            check: { uri, headers in Routes.refusal(uri: uri, headers: headers, server: server) })
    }
}

/// A line on stdout, written at once (the Makefile and the tests wait for these).
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Every call's 20 ms clock, from one timer.
struct Ticker: Service {
    let server: ServerContext

    func run() async throws {
        // Before the drain in the service list, so told to stop after it: draining calls still tick.
        try? await cancelWhenGracefulShutdown {
            let clock = ContinuousClock()
            var next = clock.now
            while !Task.isCancelled {
                next += .milliseconds(20)
                try? await Task.sleep(until: next, clock: clock)
                if clock.now - next > .milliseconds(200) { next = clock.now }  // far behind: skip, do not rush
                server.calls.tickAll(drops: server.metrics.drops)
            }
        }
    }
}

/// On SIGTERM (or SIGINT): stop taking calls, let those in progress finish up to the drain time, end the
/// rest with a reason; every call is written to the ledger before the listeners go.
struct DrainService: Service {
    let server: ServerContext

    func run() async throws {
        try? await gracefulShutdown()
        let seconds = server.config.limits.drainSeconds
        server.logger.notice("shutting down: draining \(server.calls.count) call(s) for up to \(seconds) s")
        let (finished, ended) = await server.calls.drain(seconds: seconds)
        server.ledger.flush()
        server.logger.notice("drained: \(finished) call(s) finished, \(ended) ended by the shutdown")
    }
}
