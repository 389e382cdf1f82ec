// swift-tools-version: 6.1
import PackageDescription

/// Settings every Swift target shares: Swift 6 language mode with the upcoming features the model codebases use.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "CityGate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "citygate", targets: ["citygate"]),
        .library(name: "GatewayCore", targets: ["GatewayCore"]),
        .library(name: "DeviceProfiles", targets: ["DeviceProfiles"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.20.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.25.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // C libraries (Debian -dev packages, found through pkg-config) and their thin Swift wrappers.
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "Mosquitto", dependencies: ["CMosquitto"], swiftSettings: swiftSettings),
        .target(name: "Zstd", dependencies: ["CZstd"], swiftSettings: swiftSettings),
        .target(name: "SQLite", dependencies: ["CSQLite"], swiftSettings: swiftSettings),

        // Shared vocabulary: no dependencies.
        .target(name: "GatewayCore", swiftSettings: swiftSettings),

        // Domain layer.
        .target(
            name: "DeviceProfiles",
            dependencies: ["GatewayCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Catalog",
            dependencies: ["GatewayCore", "SQLite", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "TimeSeriesStore",
            dependencies: [
                "GatewayCore", "Zstd", "SQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Streaming anomaly detectors and the NAB scorer: pure computation, no dependencies.
        .target(name: "Anomaly", swiftSettings: swiftSettings),

        // Alert rules, lifecycle and delivery (MQTT, signed webhooks, live feed).
        .target(
            name: "Alerts",
            dependencies: [
                "GatewayCore", "DeviceProfiles", "Anomaly", "SQLite", "Mosquitto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Rollups, the durable outbox and the upstream sinks (HTTP line protocol, MQTT).
        .target(
            name: "Forwarder",
            dependencies: [
                "GatewayCore", "SQLite", "Mosquitto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Transports.
        .target(
            name: "CoAPIngest",
            dependencies: [
                "GatewayCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PushIngest",
            dependencies: [
                "GatewayCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MQTTIngest",
            dependencies: [
                "GatewayCore", "Mosquitto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Composition root and CLI.
        .target(
            name: "Gateway",
            dependencies: [
                "GatewayCore", "DeviceProfiles", "Catalog", "MQTTIngest", "Mosquitto", "TimeSeriesStore",
                "Anomaly", "Alerts", "Forwarder", "CoAPIngest", "PushIngest", "SQLite",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            // The control-room console (ConsoleRoutes), compiled into the binary: nothing to install beside it.
            resources: [
                .embedInCode("Console/index.html"), .embedInCode("Console/console.js"),
                .embedInCode("Console/console.css"), .embedInCode("Console/favicon.svg"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "citygate",
            dependencies: [
                "Gateway", "GatewayCore", "DeviceProfiles", "Catalog", "TimeSeriesStore", "Anomaly", "Alerts", "Forwarder",
                "CoAPIngest", "PushIngest",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Test support: broker launcher, free ports, fixtures.
        .target(name: "GatewayTesting", dependencies: ["GatewayCore"], swiftSettings: swiftSettings),

        .testTarget(name: "GatewayCoreTests", dependencies: ["GatewayCore"], swiftSettings: swiftSettings),
        .testTarget(name: "DeviceProfilesTests", dependencies: ["DeviceProfiles", "GatewayCore"], swiftSettings: swiftSettings),
        .testTarget(name: "MosquittoTests", dependencies: ["Mosquitto", "GatewayTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "AnomalyTests", dependencies: ["Anomaly"], swiftSettings: swiftSettings),
        .testTarget(
            name: "AlertsTests",
            dependencies: [
                "Alerts", "Anomaly", "DeviceProfiles", "GatewayCore", "GatewayTesting", "Mosquitto", "SQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ForwarderTests",
            dependencies: ["Forwarder", "GatewayCore", "GatewayTesting", "Mosquitto", "SQLite", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CoAPIngestTests",
            dependencies: [
                "CoAPIngest", "GatewayCore", "GatewayTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PushIngestTests",
            dependencies: [
                "PushIngest", "GatewayCore", "GatewayTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ZstdTests", dependencies: ["Zstd"], swiftSettings: swiftSettings),
        .testTarget(name: "SQLiteTests", dependencies: ["SQLite"], swiftSettings: swiftSettings),
        // The child process the WAL crash test SIGKILLs.
        .executableTarget(name: "wal-crash-child", dependencies: ["TimeSeriesStore"], path: "Tests/WALCrashChild", swiftSettings: swiftSettings),
        .testTarget(
            name: "TimeSeriesStoreTests",
            dependencies: ["TimeSeriesStore", "GatewayCore", "GatewayTesting", "wal-crash-child", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CatalogTests",
            dependencies: ["Catalog", "GatewayCore", "SQLite", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MQTTIngestTests",
            dependencies: [
                "MQTTIngest", "GatewayCore", "GatewayTesting", "Mosquitto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "GatewayCore", "DeviceProfiles", "Catalog", "GatewayTesting", "TimeSeriesStore", "SQLite", .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        // The fuzz entry points of Tests/Fuzz (scripts/fuzz.sh builds them with libFuzzer and -D CITYGATE_FUZZ),
        // compiled here without libFuzzer to replay their crashers (Tests/Fuzz/FailCases) and seeds.
        .testTarget(
            name: "FuzzReplayTests",
            dependencies: [
                "Alerts", "CoAPIngest", "DeviceProfiles", "Gateway", "GatewayCore", "PushIngest", "TimeSeriesStore",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Fuzz",
            exclude: ["FailCases"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Gateway", "GatewayCore", "DeviceProfiles", "Catalog", "MQTTIngest", "Mosquitto", "GatewayTesting", "TimeSeriesStore",
                "Alerts", "Forwarder", "CoAPIngest", "PushIngest", "SQLite",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
    ]
)
