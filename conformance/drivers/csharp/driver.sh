#!/usr/bin/env bash
# Launcher for the C# driver: setup | check | build | run (see conformance/README.md).
# It runs the package in its default EventDelivery.MainThread mode (a simulated frame loop drains
# the engines' queues); conformance/drivers/csharp-enginethread runs the same build in EngineThread.
# Driver.cs is compiled with Mono's mcs together with the Unity package's own sources
# (bindings/unity/Runtime/*.cs, outside Unity: no UNITY_* define), and run with mono against the
# cdylib that `cargo build -p roomlink-ffi` builds (found through LD_LIBRARY_PATH, as Unity finds
# a desktop plugin by its file name).
# Toolchain (Debian): mono-mcs (the compiler; pulls in the System/System.Core assemblies it links
# against) and mono-runtime (the VM).
set -euo pipefail
cd "$(dirname "$0")/../../.."

# shellcheck source=../../../scripts/lib/cargo.sh
source scripts/lib/cargo.sh

setup() {
  # shellcheck source=../../../scripts/lib/apt.sh
  source scripts/lib/apt.sh
  apt_install mono-mcs mono-runtime
}

check() {
  local tool
  for tool in mcs mono cargo; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "$tool is not installed (run: bash conformance/drivers/csharp/driver.sh setup)"
      exit 1
    fi
  done
}

# mcs takes a few seconds: it runs only when a source (or the compiler) changed.
build() {
  local target out
  target="$(target_dir)"
  out="$target/csharp-driver"
  mkdir -p "$out"
  cargo build --quiet -p roomlink-ffi
  local sources=()
  mapfile -t sources < <(find bindings/unity/Runtime conformance/drivers/csharp -name '*.cs' \
    | LC_ALL=C sort)
  local stamp
  stamp="$({ mcs --version; sha256sum "${sources[@]}"; } | sha256sum | cut -d' ' -f1)"
  if [ -f "$out/driver.exe" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  echo "== csharp: compiling ${#sources[@]} sources" >&2
  rm -f "$out/stamp"
  # -warnaserror: the package must compile cleanly; System.Core holds the LINQ/collections bits.
  mcs -nologo -warnaserror -debug -target:exe -out:"$out/driver.exe" \
    -r:System.Core.dll "${sources[@]}" >&2
  echo "$stamp" >"$out/stamp"
}

run() {
  local target
  target="$(target_dir)"
  # --debug: line numbers in the stack trace of an exception (written to stderr).
  LD_LIBRARY_PATH="$target/debug${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    exec mono --debug "$target/csharp-driver/driver.exe"
}

case "${1:-}" in
  setup) setup ;;
  check) check ;;
  build) build ;;
  run) run ;;
  *)
    echo "usage: $0 setup|check|build|run" >&2
    exit 2
    ;;
esac
