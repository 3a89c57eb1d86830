// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "pgsweep",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pgsweep", targets: ["PGSweepCLI"]),
        .executable(name: "pgsweep-bench", targets: ["PGSweepBench"]),
        .library(name: "PGSweep", targets: ["PGSweep"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]
        ),
        .target(
            name: "LibPQ",
            dependencies: ["CLibPQ", .product(name: "Logging", package: "swift-log")]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]
        ),
        .target(name: "Zstd", dependencies: ["CZstd"]),
        .target(name: "ObjectStore", dependencies: ["CCurl", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Cron"),
        .target(
            name: "ArchiveFormat",
            dependencies: ["Zstd", "ObjectStore", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "PGSweep",
            dependencies: [
                "LibPQ", "Zstd", "Cron", "ArchiveFormat", "ObjectStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "PGSweepCLI",
            dependencies: [
                "PGSweep", "LibPQ", "ArchiveFormat", "Zstd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "PGSweepBench",
            dependencies: ["ArchiveFormat", "LibPQ", "Zstd", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "TestSupport",
            dependencies: ["LibPQ", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "ZstdTests", dependencies: ["Zstd", "TestSupport"]),
        .testTarget(name: "CronTests", dependencies: ["Cron"]),
        .testTarget(name: "ObjectStoreTests", dependencies: ["ObjectStore", "TestSupport"]),
        .testTarget(
            name: "ArchiveFormatTests", dependencies: ["ArchiveFormat", "Zstd", "TestSupport"],
            exclude: ["Golden"]  // archive files the tests read from the repository, not code
        ),
        .testTarget(name: "LibPQTests", dependencies: ["LibPQ", "TestSupport"]),
        .testTarget(name: "PGSweepTests", dependencies: ["PGSweep", "TestSupport"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["PGSweep", "LibPQ", "TestSupport", "PGSweepCLI", "PGSweepBench", "ObjectStore"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
