// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "RESPLite",
    products: [
        .library(name: "RESPLite", targets: ["RESPLite"]),
        .executable(name: "resplite", targets: ["resplite"]),
        .executable(name: "resplite-bench", targets: ["resplite-bench"]),
        .executable(name: "resplite-import", targets: ["resplite-import"]),
        .executable(name: "resplite-dirty-tracker", targets: ["resplite-dirty-tracker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // System libraries, found through pkg-config (Debian: liburing-dev, libsqlite3-dev).
        .systemLibrary(
            name: "CLiburing", path: "CShims/CLiburing", pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]),
        .systemLibrary(
            name: "CSQLite", path: "CShims/CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        // What Swift cannot import directly: liburing macros, socket helpers.
        .target(name: "CShims", dependencies: ["CLiburing"], path: "CShims/CShims"),
        .target(
            name: "RESPLite",
            dependencies: [
                "CShims", "CLiburing", "CSQLite",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        .executableTarget(
            name: "resplite",
            dependencies: [
                "RESPLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "resplite-bench",
            dependencies: [
                "RESPLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/RESPLiteBench"),
        .executableTarget(
            name: "resplite-import",
            dependencies: [
                "RESPLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "resplite-dirty-tracker",
            dependencies: [
                "RESPLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "RESPLiteTests", dependencies: ["RESPLite", "CSQLite"]),
    ],
    swiftLanguageModes: [.v5]
)
