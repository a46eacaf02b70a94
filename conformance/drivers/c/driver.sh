#!/usr/bin/env bash
# Launcher for the C driver: setup | check | build | run (see conformance/README.md), and
# path (where the binary is, for conformance/drivers/c-valgrind).
# driver.c is compiled with gcc against bindings/c/roomlink.h and linked to the cdylib that
# `cargo build -p roomlink-ffi` builds (found at run time through the binary's rpath).
set -euo pipefail
cd "$(dirname "$0")/../../.."

# shellcheck source=../../../scripts/lib/cargo.sh
source scripts/lib/cargo.sh

case "${1:-}" in
  setup)
    # shellcheck source=../../../scripts/lib/apt.sh
    source scripts/lib/apt.sh
    apt_install gcc libc6-dev libcjson-dev
    ;;
  check)
    if ! command -v gcc >/dev/null 2>&1; then
      echo "gcc is not installed (run: bash conformance/drivers/c/driver.sh setup)"
      exit 1
    fi
    if [ ! -f /usr/include/cjson/cJSON.h ]; then
      echo "cJSON is not installed (libcjson-dev; run: bash conformance/drivers/c/driver.sh setup)"
      exit 1
    fi
    ;;
  build)
    cargo build --quiet -p roomlink-ffi
    lib="$(target_dir)/debug"
    out="$(target_dir)/c-driver"
    mkdir -p "$out"
    gcc -std=c11 -O1 -g -Wall -Wextra -Werror -pthread \
      -I bindings/c conformance/drivers/c/driver.c \
      -L "$lib" -lroomlink_ffi -lcjson -Wl,-rpath,"$lib" \
      -o "$out/driver"
    ;;
  run) exec "$(target_dir)/c-driver/driver" c ;;
  path) echo "$(target_dir)/c-driver/driver" ;; # for the valgrind launcher
  *)
    echo "usage: $0 setup|check|build|run|path" >&2
    exit 2
    ;;
esac
