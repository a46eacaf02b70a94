#!/usr/bin/env bash
# Builds bindings/swift/RoomlinkFFI.xcframework (the static library for iOS, the iOS simulator and
# macOS, with the C header and module map UniFFI generates) and the Swift sources of the Roomlink
# package, generated from that very build. macOS with Xcode only.
#   bash scripts/build-xcframework.sh [--dry-run]
# --dry-run prints every command instead of running it (and only reports missing tools).
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=false
case "${1:-}" in
  "") ;;
  --dry-run) dry_run=true ;;
  *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac

ios=aarch64-apple-ios
ios_sim=(aarch64-apple-ios-sim x86_64-apple-ios)
macos=(aarch64-apple-darwin x86_64-apple-darwin)
# Names fixed by ffi/uniffi.toml and proto/uniffi.toml (Swift module and its C module) and by bindings/swift/Package.swift.
swift_module=Roomlink
ffi_module=RoomlinkFFI
# Core's model types, a UniFFI component of their own (proto/uniffi.toml): their Swift file is
# compiled into module Roomlink too, their header belongs to the C module RoomlinkFFI.
proto_swift=RoomlinkProto
proto_header=RoomlinkProtoFFI.h
package=bindings/swift
lib=libroomlink_ffi.a
target_dir="${CARGO_TARGET_DIR:-target}"
stage="$target_dir/xcframework"

# shellcheck source=lib/plan.sh
source "$(dirname "$0")/lib/plan.sh"

missing=()
if [ "$(uname -s)" != Darwin ]; then
  missing+=("macOS: lipo and xcodebuild exist only there")
fi
if ! xcodebuild -version >/dev/null 2>&1; then
  missing+=("Xcode 15+ (xcodebuild): install it, then xcode-select -s /Applications/Xcode.app")
fi
installed_targets="$(rustup target list --installed 2>/dev/null || true)"
for triple in "$ios" "${ios_sim[@]}" "${macos[@]}"; do
  if ! grep -qx "$triple" <<<"$installed_targets"; then
    missing+=("Rust target $triple: rustup target add $triple")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-xcframework: missing (this machine cannot build the XCFramework):" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  if ! $dry_run; then
    exit 1
  fi
  echo "build-xcframework: --dry-run, printing the plan anyway" >&2
fi

# Only the staticlib: an app links it into its own binary (no dylib to embed and sign). The
# deployment targets match Package.swift's platforms, so the linker does not warn about objects
# built for a newer OS. The release-ffi profile: size-optimized, fat LTO (root Cargo.toml).
for triple in "$ios" "${ios_sim[@]}" "${macos[@]}"; do
  run env IPHONEOS_DEPLOYMENT_TARGET=13.0 MACOSX_DEPLOYMENT_TARGET=11.0 \
    cargo rustc --profile release-ffi -p roomlink-ffi --lib --crate-type staticlib --target "$triple"
done

# UniFFI reads the interface from the library's metadata symbols: generate from an unstripped build.
run rm -rf "$stage"
run bash scripts/uniffi-generate.sh --lang swift --out "$stage/generated" \
  --lib "$target_dir/$ios/release-ffi/$lib"

# One slice per platform; a slice holds every architecture of its platform (lipo). Copies are
# stripped of debug information only: global symbols stay, the app's linker needs them.
run mkdir -p "$stage/ios" "$stage/ios-simulator" "$stage/macos"
run cp "$target_dir/$ios/release-ffi/$lib" "$stage/ios/$lib"
run lipo -create "$target_dir/${ios_sim[0]}/release-ffi/$lib" "$target_dir/${ios_sim[1]}/release-ffi/$lib" \
  -output "$stage/ios-simulator/$lib"
run lipo -create "$target_dir/${macos[0]}/release-ffi/$lib" "$target_dir/${macos[1]}/release-ffi/$lib" \
  -output "$stage/macos/$lib"
for slice in ios ios-simulator macos; do
  run strip -S "$stage/$slice/$lib"
done

# The headers and their module map go in a folder named after the module: Xcode merges the headers of
# every static-library XCFramework into one include folder, where two top-level module.modulemap
# files would collide; clang finds <include>/RoomlinkFFI/module.modulemap by the module's name.
headers="$stage/headers"
run mkdir -p "$headers/$ffi_module"
run cp "$stage/generated/$ffi_module.h" "$headers/$ffi_module/$ffi_module.h"
run cp "$stage/generated/$proto_header" "$headers/$ffi_module/$proto_header"
run cp "$stage/generated/$ffi_module.modulemap" "$headers/$ffi_module/module.modulemap"

run rm -rf "$package/$ffi_module.xcframework"
run xcodebuild -create-xcframework \
  -library "$stage/ios/$lib" -headers "$headers" \
  -library "$stage/ios-simulator/$lib" -headers "$headers" \
  -library "$stage/macos/$lib" -headers "$headers" \
  -output "$package/$ffi_module.xcframework"

# The Swift half of the package; RoomlinkLogging.swift beside it is checked in.
run rm -rf "$package/Sources/$swift_module/Generated"
run mkdir -p "$package/Sources/$swift_module/Generated"
run cp "$stage/generated/$swift_module.swift" "$package/Sources/$swift_module/Generated/$swift_module.swift"
run cp "$stage/generated/$proto_swift.swift" "$package/Sources/$swift_module/Generated/$proto_swift.swift"
if $dry_run; then
  echo "build-xcframework: --dry-run, nothing was built"
else
  echo "build-xcframework: $package/$ffi_module.xcframework and $package/Sources/$swift_module/Generated"
fi
