#!/usr/bin/env bash
# Launcher for the Python driver: setup | check | build | run (see conformance/README.md).
# Needs Python 3.11+ (standard library only); `build` stages the roomlink package (generated
# UniFFI module + the library it was generated from) in the target dir, git-ignored.
set -euo pipefail
cd "$(dirname "$0")/../../.."

# shellcheck source=../../../scripts/lib/cargo.sh
source scripts/lib/cargo.sh
staged() { echo "$(target_dir)/conformance-python"; }

python_ok() {
  command -v python3 >/dev/null 2>&1 \
    && python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null
}

case "${1:-}" in
  setup)
    python_ok && exit 0
    source scripts/lib/apt.sh
    apt_install python3
    ;;
  check)
    if ! python_ok; then
      echo "python3 (3.11 or newer) is not installed"
      exit 1
    fi
    ;;
  build) bash bindings/python/build.sh --out "$(staged)" >/dev/null ;;
  run)
    PYTHONPATH="$(staged)${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONPATH
    exec python3 -u conformance/drivers/python/driver.py
    ;;
  *)
    echo "usage: $0 setup|check|build|run" >&2
    exit 2
    ;;
esac
