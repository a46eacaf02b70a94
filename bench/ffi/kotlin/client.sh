#!/usr/bin/env bash
# Runs the Kotlin/JNA event-rate client (built by build.sh) against a server someone else started
# (scripts/bench.sh's, or run.sh's): the protocol of every event-rate client (bench/src/event_rate.rs).
#
#   ROOMLINK_FFI_LIB_DIR=DIR bash bench/ffi/kotlin/client.sh --server URL --room ROOM --streams K [--keep-attached]
#
# with one "USER_ID TOKEN" line per engine on stdin; prints one JSON line. DIR holds the
# libroomlink_ffi.so that build.sh generated the bindings from.
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck source=../../../scripts/lib/apt.sh
source scripts/lib/apt.sh
# shellcheck source=../../../conformance/drivers/kotlin/toolchain.sh
source conformance/drivers/kotlin/toolchain.sh

lib_dir="${ROOMLINK_FFI_LIB_DIR:?set ROOMLINK_FFI_LIB_DIR to the directory of libroomlink_ffi.so}"
jar="$(target_dir)/kotlin-bench/event-rate.jar"
if [ ! -f "$jar" ]; then
  echo "client.sh: $jar is missing (run bench/ffi/kotlin/build.sh)" >&2
  exit 1
fi
exec java -XX:+UseSerialGC -Djna.library.path="$lib_dir" -cp "$(run_classpath "$jar")" \
  org.roomlink.bench.EventRateKt "$@"
