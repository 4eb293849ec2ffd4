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
        // liburing, found through pkg-config (Debian: liburing-dev).
        .systemLibrary(
            name: "CLiburing", path: "CShims/CLiburing", pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]),
        // SQLite's amalgamation, built with the project's own options (CShims/CSQLite/README.md).
        .target(name: "CSQLite", path: "CShims/CSQLite", exclude: ["README.md", "VERSION"], cSettings: sqliteSettings),
        // What Swift cannot import directly: liburing macros, socket helpers.
        .target(name: "CShims", dependencies: ["CLiburing", "CSQLite"], path: "CShims/CShims"),
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

/// SQLite's compile-time options (CShims/CSQLite/README.md says why each is there).
var sqliteSettings: [CSetting] { [
    // What RESPLite uses: FTS5 (FT.SEARCH), the pre-update hook (pops that read and delete in
    // one statement), DELETE/UPDATE ... LIMIT, math functions.
    .define("SQLITE_ENABLE_FTS5"),
    .define("SQLITE_ENABLE_PREUPDATE_HOOK"),
    .define("SQLITE_ENABLE_UPDATE_DELETE_LIMIT"),
    .define("SQLITE_ENABLE_MATH_FUNCTIONS"),
    // As Debian's build (the library RESPLite used before): limits and defaults.
    .define("SQLITE_MAX_VARIABLE_NUMBER", to: "250000"),
    .define("SQLITE_TEMP_STORE", to: "1"),
    .define("SQLITE_LIKE_DOESNT_MATCH_BLOBS"),
    .define("SQLITE_USE_URI"),
    .define("SQLITE_THREADSAFE", to: "1"),
    // Plans never depend on bound values. Without it, SQLite 3.54 reads a bound LIMIT (and
    // LIKE patterns) at prepare time and re-prepares the statement whenever a new value is
    // bound: LRANGE's and LREM's cached statements were parsed and planned again on almost
    // every call (callgrind: 41K -> 61K instructions per LPUSH+LRANGE pair over four lists).
    .define("SQLITE_ENABLE_QPSG"),
    // What autoconf finds on Linux: fdatasync, posix_fallocate, nanosleep and friends.
    .define("HAVE_FDATASYNC", to: "1"),
    .define("HAVE_POSIX_FALLOCATE", to: "1"),
    .define("HAVE_NANOSLEEP", to: "1"),
    .define("HAVE_USLEEP", to: "1"),
    .define("HAVE_LOCALTIME_R", to: "1"),
    .define("HAVE_GMTIME_R", to: "1"),
    .define("HAVE_STRCHRNUL", to: "1"),
    .define("HAVE_ISNAN", to: "1"),
    // Speed: no memory statistics, no code for what RESPLite never calls (the OMIT options
    // are among those sqlite.org recommends, which work with the amalgamation).
    .define("SQLITE_DEFAULT_MEMSTATUS", to: "0"),
    .define("SQLITE_OMIT_DEPRECATED"),
    .define("SQLITE_OMIT_SHARED_CACHE"),
    .define("SQLITE_OMIT_PROGRESS_CALLBACK"),
    .define("SQLITE_OMIT_DECLTYPE"),
    .define("SQLITE_OMIT_LOAD_EXTENSION"),
    .define("SQLITE_USE_ALLOCA"),
    .define("SQLITE_DISABLE_PAGECACHE_OVERFLOW_STATS"),
    // Optimized in debug builds too: the tests run thousands of statements. The amalgamation's
    // own warnings are SQLite's to fix, not ours.
    .unsafeFlags(["-O2", "-w"]),
] }
