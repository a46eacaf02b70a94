#!/usr/bin/env bash
# Benchmarks roomlink side by side with Socket.IO 4.8 and raw TCP; prints one table and writes the
# raw results as JSON. See the README's "Benchmarks" section for what each figure means.
#
#   bash scripts/bench.sh [--quick] [--out FILE]
#
# --quick (what CI runs) takes about a minute after the first build and npm install; the full run
# takes half an hour or more (the cluster parts build a 10 000-member room on 4 nodes and hold
# 100 000 sessions). The numbers are never judged: this fails only when something broke.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
out="target/bench/results.json"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --out)
      [ $# -ge 2 ] || { echo "bench.sh: --out needs a file" >&2; exit 2; }
      out="$2"
      shift
      ;;
    -h | --help)
      sed -n '2,10p' "$0"
      exit 0
      ;;
    *)
      echo "bench.sh: unknown argument $1 (use --quick, --out FILE)" >&2
      exit 2
      ;;
  esac
  shift
done

for tool in node npm cargo taskset strip nm size redis-server; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool is required" >&2; exit 1; }
done

# Socket.IO: the versions pinned in package.json, installed next to the scripts (git-ignored).
# No lockfile is written: lockfiles record the registry's address.
sio=bench/socketio
if ! (cd "$sio" && node -e 'require("socket.io"); require("socket.io-client")' 2>/dev/null); then
  echo "== installing Socket.IO into $sio/node_modules"
  (cd "$sio" && npm install --no-package-lock --no-audit --no-fund --loglevel=error)
fi

echo "== building the release bench binaries and the FFI library (profile release-ffi, as it ships)"
cargo build --release --quiet -p roomlink-bench
# As scripts/build-aar.sh builds it: the cdylib crate type alone, or cargo silently skips LTO.
cargo rustc --profile release-ffi --quiet -p roomlink-ffi --lib --crate-type cdylib
target="${CARGO_TARGET_DIR:-target}"
bin_dir="$target/release"
ffi_dir="$target/release-ffi"
ffi=(--cdylib "$ffi_dir/libroomlink_ffi.so")

# The FFI event-rate clients (figure 8). A missing toolchain skips its row, it does not fail.
if command -v gcc >/dev/null 2>&1; then
  mkdir -p "$target/bench-ffi"
  gcc -std=c11 -O2 -Wall -Wextra -Werror -pthread -I bindings/c bench/ffi/c/event_rate.c \
    -L "$ffi_dir" -lroomlink_ffi -Wl,-rpath,"$ffi_dir" -o "$target/bench-ffi/event-rate-c"
  ffi+=(--c-client "$target/bench-ffi/event-rate-c")
else
  ffi+=(--skip-c "gcc is not installed (bash conformance/drivers/c/driver.sh setup)")
fi
if kotlin_missing="$(bash conformance/drivers/kotlin/driver.sh check 2>&1)"; then
  bash bench/ffi/kotlin/build.sh --lib "$ffi_dir/libroomlink_ffi.so"
  export ROOMLINK_FFI_LIB_DIR="$ffi_dir"
  ffi+=(--kotlin-client "$PWD/bench/ffi/kotlin/client.sh")
else
  ffi+=(--skip-kotlin "${kotlin_missing:-the Kotlin toolchain check failed}")
fi

# Every session is a socket: allow as many as the hard limit lets (children inherit it).
ulimit -n "$(ulimit -Hn)"

echo "== running ($([ ${#quick[@]} -gt 0 ] && echo quick || echo full))"
start=$(date +%s)
"$bin_dir/roomlink-bench" run "${quick[@]}" --out "$out" --socketio-dir "$sio" "${ffi[@]}"
echo "bench.sh: finished in $(( $(date +%s) - start )) s"
