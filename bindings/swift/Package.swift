// swift-tools-version:5.9
// The Swift binding of roomlink. RoomlinkFFI.xcframework (the static library, its C header and
// module map) and Sources/Roomlink/Generated (UniFFI's Swift) are built together by
// scripts/build-xcframework.sh from one Rust build; neither is checked in.
import PackageDescription

let package = Package(
    name: "Roomlink",
    platforms: [.iOS(.v13), .macOS(.v11)],
    products: [
        .library(name: "Roomlink", targets: ["Roomlink"]),
    ],
    targets: [
        .binaryTarget(name: "RoomlinkFFI", path: "RoomlinkFFI.xcframework"),
        // Sources/Roomlink: Generated/Roomlink.swift, Generated/RoomlinkProto.swift (core's model
        // types, a UniFFI component of their own compiled into this module) and the checked-in files.
        .target(name: "Roomlink", dependencies: ["RoomlinkFFI"]),
    ]
)
