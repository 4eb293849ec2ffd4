// swift-tools-version:6.0
// libFuzzer harness for the RESP request parser (docs/reliability.md). A separate package so
// the main build never links libFuzzer; build it from this directory with
//   swift build -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
import PackageDescription

let package = Package(
    name: "RESPLiteFuzz",
    dependencies: [.package(name: "RESPLite", path: "../..")],
    targets: [
        .executableTarget(
            name: "resplite-parser-fuzzer",
            dependencies: [.product(name: "RESPLite", package: "RESPLite")]),
    ]
)
