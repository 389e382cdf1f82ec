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

        // Transports.
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
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "citygate",
            dependencies: [
                "Gateway", "GatewayCore", "DeviceProfiles", "Catalog", "TimeSeriesStore",
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
            dependencies: ["Gateway", "GatewayCore", "DeviceProfiles", "Catalog", "GatewayTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Gateway", "GatewayCore", "DeviceProfiles", "Catalog", "MQTTIngest", "Mosquitto", "GatewayTesting", "TimeSeriesStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
