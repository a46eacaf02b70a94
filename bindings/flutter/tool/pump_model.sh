#!/usr/bin/env bash
# Runs the Flutter plugin's event and log flow, modelled in C (pump_model.c: an isolate's event
# loop, NativeCallable.listener as a post to it), against the real library: the C ABI behaviour
# the Dart code relies on, tested where no Dart VM runs. The logout-on-Logined case needs a
# server: `roomlink serve` on a free loopback port, started here and stopped by its PID.
# For scripts/test.sh: bash bindings/flutter/tool/pump_model.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
if ! command -v gcc >/dev/null 2>&1; then
  # shellcheck source=../../../scripts/lib/apt.sh
  source scripts/lib/apt.sh
  apt_install gcc libc6-dev
fi
# shellcheck source=../../../scripts/lib/cargo.sh
source scripts/lib/cargo.sh
dir="$(target_dir)"
cargo build --quiet -p roomlink-ffi -p roomlink-cli
mkdir -p "$dir/flutter-tool"
gcc -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -Wall -Wextra -Werror -pthread \
  -I bindings/c bindings/flutter/tool/pump_model.c \
  -L "$dir/debug" -lroomlink_ffi -Wl,-rpath,"$dir/debug" \
  -o "$dir/flutter-tool/pump_model"

# Port 0: the kernel picks a free port; the server's first line names it.
coproc SERVER { exec "$dir/debug/roomlink" serve --bind 127.0.0.1:0; }
# shellcheck disable=SC2153 # SERVER_PID is set by coproc
server_pid="$SERVER_PID"
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT
line=""
if ! read -r -t 30 line <&"${SERVER[0]}"; then
  echo "pump_model: roomlink serve printed no address" >&2
  exit 1
fi
# "roomlink server: websocket ws://127.0.0.1:PORT/v1/ws  admin http://..."
url="$(sed -n 's/^roomlink server: websocket \([^ ]*\) .*/\1/p' <<<"$line")"
if [ -z "$url" ]; then
  echo "pump_model: unexpected server line: $line" >&2
  exit 1
fi
token="$("$dir/debug/roomlink" token --user alice)"
ROOMLINK_PUMP_SERVER_URL="$url" ROOMLINK_PUMP_TOKEN="$token" "$dir/flutter-tool/pump_model"
