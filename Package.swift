// swift-tools-version:6.2
import PackageDescription

// libformi.so: the Swift runtime linked in statically, an SONAME, and only `formi_*` exported
// (see Sources/formi/exports.map). These flags only touch the link of the dynamic library.
let libraryLinkFlags: [String] = [
    "-static-stdlib",
    "-Xlinker", "-soname=libformi.so.0",
    "-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/formi/exports.map",
    "-Xlinker", "-z", "-Xlinker", "now",
    "-Xlinker", "-z", "-Xlinker", "relro",
]

let package = Package(
    name: "libformi",
    products: [
        .library(name: "formi", type: .dynamic, targets: ["formi"]),
        .executable(name: "formi-server", targets: ["formi-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swift-extras/swift-extras-base64", from: "1.2.0"),
        // The server (formi-server) only; libformi.so depends on none of these.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // The platform API (Sources/formi-server/API): signed tokens, hashed outlet secrets, HMAC.
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "4.0.0"..<"6.0.0"),
    ],
    targets: [
        // The core: pure Swift, sans-I/O, no Foundation.
        .target(
            name: "FormiCore",
            dependencies: ["CFormiKernels", "CSpeexDSP", "CSQLite", "CPostgres", .product(name: "ExtrasBase64", package: "swift-extras-base64")],
            // The core's objects are used from one thread at a time by contract; the runtime's dynamic
            // exclusivity checks on their properties cost 2% of mapping a message and, if they ever fired,
            // would trap the host. Debug builds (the tests) keep them.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))],
            // The built-in provider templates (providers/*.json), embedded at build time.
            plugins: ["EmbedProviders"]
        ),
        // Build-time only: turns providers/*.json into Swift string literals for FormiCore.
        .plugin(name: "EmbedProviders", capability: .buildTool()),
        // The SIMD kernels Swift cannot express: the JSON string scan, base64 decoding, the resampler's FIR.
        // DWARF 4: valgrind 3.19 (Debian 12, `make test-c`) gives up on clang's default DWARF 5 for them.
        .target(name: "CFormiKernels", cSettings: [.unsafeFlags(["-gdwarf-4"])]),
        // libspeexdsp from the system (apt-get install libspeexdsp-dev); used by the resampler.
        .systemLibrary(name: "CSpeexDSP", pkgConfig: "speexdsp", providers: [.apt(["libspeexdsp-dev"])]),
        // libsqlite3 from the system (apt-get install libsqlite3-dev); the usage ledger's store.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // libpq from the system (apt-get install libpq-dev); the usage ledger on PostgreSQL.
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // include/formi.h as a Swift module, so the ABI's structs are defined once, in the C header.
        .systemLibrary(name: "CFormi", path: "Sources/CFormi"),
        // The C ABI: thin exported wrappers over FormiCore, nothing else.
        .target(
            name: "formi",
            dependencies: ["FormiCore", "CFormi"],
            exclude: ["exports.map"],
            // As for FormiCore: a handle is used from one thread at a time by contract (see formi.h).
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))],
            linkerSettings: [.unsafeFlags(libraryLinkFlags)]
        ),
        // libFuzzer harnesses (`make fuzz`). Built normally, each replays files given on the command line.
        .executableTarget(name: "formi-fuzz", dependencies: ["FormiCore"]),
        // espeak-ng from the system (libespeak-ng-dev, espeak-ng-data): the demo agent's voice.
        .systemLibrary(name: "CEspeakNG", pkgConfig: "espeak-ng", providers: [.apt(["libespeak-ng-dev"])]),
        // WebRTC's C VAD from libwebrtc_audio_processing (libwebrtc-audio-processing-dev), prototypes in shim.h.
        .systemLibrary(name: "CWebRTCVAD", path: "Sources/CWebRTCVAD"),
        // pocketsphinx from the system (libpocketsphinx-dev, pocketsphinx-en-us): the demo agent's keyword recognition.
        .systemLibrary(name: "CPocketSphinx", pkgConfig: "pocketsphinx", providers: [.apt(["libpocketsphinx-dev"])]),
        // The adapter server: /ws-adapter for every provider, AudioSocket over TCP, the demo agent.
        .executableTarget(
            name: "formi-server",
            dependencies: [
                "FormiCore", "CEspeakNG", "CWebRTCVAD", "CSQLite", "CPocketSphinx",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("API/openapi.json"), .copy("API/models.json")]
        ),
        .testTarget(name: "FormiCoreTests", dependencies: ["FormiCore", "CFormiKernels"]),
    ],
    swiftLanguageModes: [.v6]
)
