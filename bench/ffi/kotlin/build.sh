#!/usr/bin/env bash
# Compiles the Kotlin/JNA event-rate client (EventRate.kt beside this file, with the binding's
# sources and the UniFFI Kotlin generated from LIB) into $(target_dir)/kotlin-bench/event-rate.jar.
# kotlinc runs only when a source changed (toolchain.sh's compile_jar).
#
#   bash bench/ffi/kotlin/build.sh --lib PATH/libroomlink_ffi.so
#
# LIB must be unstripped (UniFFI reads the interface from its symbols). Toolchain: the Kotlin
# conformance driver's (bash conformance/drivers/kotlin/driver.sh setup).
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck source=../../../scripts/lib/apt.sh
source scripts/lib/apt.sh
# shellcheck source=../../../conformance/drivers/kotlin/toolchain.sh
source conformance/drivers/kotlin/toolchain.sh

lib=""
while [ $# -gt 0 ]; do
  case "$1" in
    --lib) lib="${2:?--lib needs a path}"; shift 2 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ ! -f "$lib" ]; then
  echo "build.sh: no library at '$lib' (use --lib PATH)" >&2
  exit 2
fi
check >&2

out="$(target_dir)/kotlin-bench"
mkdir -p "$out"
generate_bindings "$lib" "$out/generated"
compile_jar "$out/event-rate.jar" "$out/generated" bindings/kotlin/src/main/kotlin bench/ffi/kotlin
