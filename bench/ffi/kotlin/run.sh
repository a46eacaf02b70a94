#!/usr/bin/env bash
# Events per second through the Kotlin/JNA listener on its own (scripts/bench.sh runs the same
# client next to the C and Rust ones): builds the library (release-ffi profile, as it ships) and
# the client (build.sh), starts a release `roomlink serve` on loopback, mints the tokens and runs
# client.sh. Prints EventRate's JSON line.
#
#   bash bench/ffi/kotlin/run.sh [--engines N] [--streams K] [--keep-attached]
#
# Defaults: 10 engines, 10000 streams. --keep-attached: the listeners keep their native thread
# attached to the JVM (JNA's Native.detach(false)) instead of JNA's attach/detach per callback.
#
# Toolchain: the Kotlin conformance driver's (bash conformance/drivers/kotlin/driver.sh setup).
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck source=../../../scripts/lib/apt.sh
source scripts/lib/apt.sh
# shellcheck source=../../../conformance/drivers/kotlin/toolchain.sh
source conformance/drivers/kotlin/toolchain.sh

engines=10
streams=10000
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --engines) engines="${2:?--engines needs N}"; shift 2 ;;
    --streams) streams="${2:?--streams needs K}"; shift 2 ;;
    --keep-attached) extra+=(--keep-attached); shift ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
check >&2

target="$(target_dir)"
out="$target/kotlin-bench"
mkdir -p "$out"
# As scripts/build-aar.sh builds it: the cdylib crate type alone, or cargo silently skips LTO.
cargo rustc --quiet --profile release-ffi -p roomlink-ffi --lib --crate-type cdylib
cargo build --quiet --release -p roomlink-cli
export ROOMLINK_FFI_LIB_DIR="$target/release-ffi"
bash bench/ffi/kotlin/build.sh --lib "$ROOMLINK_FFI_LIB_DIR/libroomlink_ffi.so"

# A server on a free loopback port; its first stdout line names its WebSocket URL. Stopped on exit.
fifo="$out/serve.fifo"
rm -f "$fifo"
mkfifo "$fifo"
# The rate limits are lifted as in bench/src/server.rs: the event-rate run is a publish flood.
"$target/release/roomlink" serve --bind 127.0.0.1:0 --frames-per-sec 1000000 --frame-burst 4294967295 \
  --member-events-per-sec 1000000 --member-event-burst 4294967295 --max-rooms-per-conn 1000000 >"$fifo" 2>"$out/serve.err" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
exec {serve_fd}<"$fifo"
line=""
read -t 20 -r line <&"$serve_fd" || true
url="$(sed -n 's/^roomlink server: websocket \(ws:[^ ]*\).*/\1/p' <<<"$line")"
if [ -z "$url" ]; then
  echo "run.sh: the server did not start: $line $(cat "$out/serve.err")" >&2
  exit 1
fi

room=bench
for i in $(seq 0 $((engines - 1))); do
  echo "u$i $("$target/release/roomlink" token --user "u$i" --room "$room")"
done | bash bench/ffi/kotlin/client.sh --server "$url" --room "$room" --streams "$streams" \
  "${extra[@]}"
