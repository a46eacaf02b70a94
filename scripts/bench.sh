#!/usr/bin/env bash
# Benchmarks roomlink side by side with Socket.IO 4.8 and raw TCP; prints one table and writes the
# raw results as JSON. See the README's "Benchmarks" section for what each figure means.
#
#   bash scripts/bench.sh [--quick] [--out FILE]
#
# --quick (what CI runs) takes under a minute after the first build and npm install; the full run
# takes under ten. The numbers are never judged: this fails only when something broke.
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
      sed -n '2,9p' "$0"
      exit 0
      ;;
    *)
      echo "bench.sh: unknown argument $1 (use --quick, --out FILE)" >&2
      exit 2
      ;;
  esac
  shift
done

for tool in node npm cargo taskset strip; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool is required" >&2; exit 1; }
done

# Socket.IO: the versions pinned in package.json, installed next to the scripts (git-ignored).
# No lockfile is written: lockfiles record the registry's address.
sio=bench/socketio
if ! (cd "$sio" && node -e 'require("socket.io"); require("socket.io-client")' 2>/dev/null); then
  echo "== installing Socket.IO into $sio/node_modules"
  (cd "$sio" && npm install --no-package-lock --no-audit --no-fund --loglevel=error)
fi

echo "== building the release bench binaries"
cargo build --release --quiet -p roomlink-bench
bin_dir="${CARGO_TARGET_DIR:-target}/release"

# Every session is a socket: allow as many as the hard limit lets (children inherit it).
ulimit -n "$(ulimit -Hn)"

echo "== running ($([ ${#quick[@]} -gt 0 ] && echo quick || echo full))"
start=$(date +%s)
"$bin_dir/roomlink-bench" run "${quick[@]}" --out "$out" --socketio-dir "$sio"
echo "bench.sh: finished in $(( $(date +%s) - start )) s"
