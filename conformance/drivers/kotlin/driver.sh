#!/usr/bin/env bash
# Launcher for the Kotlin driver: setup | check | build | run (see conformance/README.md).
# The driver runs on the JVM over the UniFFI-generated Kotlin bindings (JNA), like an Android app.
# Toolchain: toolchain.sh beside this file.
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck source=../../../scripts/lib/apt.sh
source scripts/lib/apt.sh
# shellcheck source=toolchain.sh
source conformance/drivers/kotlin/toolchain.sh

# Builds the library, generates the Kotlin bindings from it and compiles them with the driver
# and RoomlinkLogging into one jar (kotlinc only when a source changed).
build() {
  local out
  out="$(target_dir)/kotlin-driver"
  mkdir -p "$out"
  cargo build --quiet -p roomlink-ffi
  generate_bindings "$(target_dir)/debug/libroomlink_ffi.so" "$out/generated"
  compile_jar "$out/driver.jar" "$out/generated" bindings/kotlin/src/main/kotlin \
    conformance/drivers/kotlin/src
}

run() {
  local target
  target="$(target_dir)"
  # roomlink's log records reach stderr through RoomlinkLogging and java.util.logging's console
  # handler, one line each (the format is java.util.Formatter's, not the shell's).
  # shellcheck disable=SC2016
  exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djna.library.path="$target/debug" \
    -Djava.util.logging.SimpleFormatter.format='%1$tT.%1$tL %4$s %2$s: %5$s%6$s%n' \
    -cp "$(run_classpath "$target/kotlin-driver/driver.jar")" \
    org.roomlink.conformance.DriverKt
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
