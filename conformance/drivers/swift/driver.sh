#!/usr/bin/env bash
# Launcher for the Swift driver: setup | check | build | run (see conformance/README.md).
#
# Swift runs in a Debian trixie chroot (chroot.sh). `build` compiles there, against the UniFFI
# bindings generated on this machine, with copies of its inputs under the chroot's
# /opt/roomlink/<key>/ (no bind mounts); `run` execs the compiled driver in the chroot, which
# needs no mount at all. <key> names the cargo target directory, so checkouts sharing a chroot
# (ROOMLINK_TOOLS) do not overwrite each other's driver.
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck source=chroot.sh
source conformance/drivers/swift/chroot.sh

# shellcheck source=../../../scripts/lib/cargo.sh
source scripts/lib/cargo.sh

# The driver's directory inside the chroot (a path as the chroot sees it).
work_dir() { echo "/opt/roomlink/$(target_dir | sha256sum | cut -c1-12)"; }

# Compiles the binding's Swift (generated code + bindings/swift) as module Roomlink, then the
# driver against it. Runs inside the chroot; $1 = the work directory. Builds into build.new and
# swaps it in whole, so a failed build never leaves a half-built driver to run.
# shellcheck disable=SC2016 # expanded by the chroot's shell
compile_script='
set -e
cd "$1"
rm -rf build.new && mkdir build.new
swiftc -parse-as-library -emit-library -static -emit-module -module-name Roomlink \
  -Xcc -fmodule-map-file=src/gen/RoomlinkFFI.modulemap -I src/gen \
  -emit-module-path build.new/Roomlink.swiftmodule -o build.new/libRoomlink.a src/binding/*.swift
swiftc -module-name RoomlinkDriver -I build.new -Xcc -fmodule-map-file=src/gen/RoomlinkFFI.modulemap \
  -L build.new -lRoomlink -L lib -lroomlink_ffi -Xlinker -rpath -Xlinker "$1/lib" \
  -o build.new/roomlink-driver-swift src/driver/*.swift
rm -rf build && mv build.new build
'

build() {
  local target lib gen work root stage inputs
  clean_stale_mounts
  target="$(target_dir)"
  cargo build --quiet -p roomlink-ffi
  lib="$target/debug/libroomlink_ffi.so"
  gen="$target/swift-driver/gen"
  bash scripts/uniffi-generate.sh --lang swift --out "$gen" --lib "$lib" >/dev/null

  root="$(swift_root)"
  work="$(work_dir)"
  stage="$root$work"
  mkdir -p "$stage/lib"
  # The library changes more often than its API: a new copy needs no recompile (the generated
  # Swift checks the API's checksums when it loads).
  # Copied next to it and renamed: a driver still running keeps its mapping of the old file.
  if ! cmp -s "$lib" "$stage/lib/libroomlink_ffi.so"; then
    cp "$lib" "$stage/lib/libroomlink_ffi.so.new"
    mv "$stage/lib/libroomlink_ffi.so.new" "$stage/lib/libroomlink_ffi.so"
  fi

  inputs="$( (cat "$gen"/* bindings/swift/Sources/Roomlink/*.swift conformance/drivers/swift/Sources/*.swift
    echo "$compile_script") | sha256sum | cut -d' ' -f1)"
  if [ -x "$stage/build/roomlink-driver-swift" ] && [ "$(cat "$stage/inputs.sha256" 2>/dev/null)" = "$inputs" ]; then
    return 0
  fi
  rm -rf "$stage/src" "$stage/inputs.sha256"
  mkdir -p "$stage/src/gen" "$stage/src/binding" "$stage/src/driver"
  cp "$gen"/* "$stage/src/gen/"
  cp "$gen"/*.swift bindings/swift/Sources/Roomlink/*.swift "$stage/src/binding/"
  cp conformance/drivers/swift/Sources/*.swift "$stage/src/driver/"
  (in_chroot /bin/sh -c "$compile_script" sh "$work")
  echo "$inputs" >"$stage/inputs.sha256"
}

case "${1:-}" in
  setup) swift_setup ;;
  check)
    swift_needs_root || exit 1
    if ! swift_chroot_ready; then
      echo "the Swift chroot $(swift_root) is not set up (run: bash conformance/drivers/swift/driver.sh setup)"
      exit 1
    fi
    ;;
  build) build ;;
  run) exec chroot "$(swift_root)" "$(work_dir)/build/roomlink-driver-swift" ;;
  *)
    echo "usage: $0 setup|check|build|run" >&2
    exit 2
    ;;
esac
