#!/usr/bin/env bash
# Runs the Flutter plugin's event and log flow, modelled in C (pump_model.c: an isolate's event
# loop, NativeCallable.listener as a post to it), against the real library: the C ABI behaviour
# the Dart code relies on, tested where no Dart VM runs.
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
cargo build --quiet -p roomlink-ffi
mkdir -p "$dir/flutter-tool"
gcc -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -Wall -Wextra -Werror -pthread \
  -I bindings/c bindings/flutter/tool/pump_model.c \
  -L "$dir/debug" -lroomlink_ffi -Wl,-rpath,"$dir/debug" \
  -o "$dir/flutter-tool/pump_model"
exec "$dir/flutter-tool/pump_model"
