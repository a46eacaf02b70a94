#!/usr/bin/env bash
# Launcher for the Rust reference driver: setup | check | build | run (see conformance/README.md).
set -euo pipefail
cd "$(dirname "$0")/../../.."

# shellcheck source=../../../scripts/lib/cargo.sh
source scripts/lib/cargo.sh
binary() { echo "$(target_dir)/debug/roomlink-driver-rust"; }

case "${1:-}" in
  setup) ;; # cargo is the project's own toolchain
  check)
    if ! command -v cargo >/dev/null 2>&1; then
      echo "cargo is not installed"
      exit 1
    fi
    ;;
  build) cargo build --quiet -p roomlink-conformance-driver ;;
  run) exec "$(binary)" ;;
  *)
    echo "usage: $0 setup|check|build|run" >&2
    exit 2
    ;;
esac
