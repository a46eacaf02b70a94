#!/usr/bin/env bash
# Launcher for the C driver under valgrind (memcheck): setup | check | build | run.
# The same binary as conformance/drivers/c; the run fails (exit status 99, which fails the
# scenario) on any memory error and on any definitely, indirectly or possibly lost block at exit.
# Still-reachable blocks are allowed: process-lifetime globals (here 488 bytes in 2 blocks per run:
# the engine registry's map node and the log bridge's logger).
# rust-std.supp suppresses two known false reports (see there): Rust std's handle of the host's main
# thread, and ring's AES-GCM assembly (wss:// scenarios).
# Durations run 8× slower for this driver (the `time-scale` file next to this one).
set -euo pipefail
cd "$(dirname "$0")/../../.."

case "${1:-}" in
  setup)
    bash conformance/drivers/c/driver.sh setup
    # shellcheck source=../../../scripts/lib/apt.sh
    source scripts/lib/apt.sh
    apt_install valgrind
    ;;
  check)
    bash conformance/drivers/c/driver.sh check
    if ! command -v valgrind >/dev/null 2>&1; then
      echo "valgrind is not installed (run: bash conformance/drivers/c-valgrind/driver.sh setup)"
      exit 1
    fi
    ;;
  build) bash conformance/drivers/c/driver.sh build ;;
  run)
    driver="$(bash conformance/drivers/c/driver.sh path)"
    exec valgrind --error-exitcode=99 --exit-on-first-error=no \
      --leak-check=full --show-leak-kinds=definite,indirect,possible \
      --errors-for-leak-kinds=definite,indirect,possible \
      --suppressions=conformance/drivers/c-valgrind/rust-std.supp \
      --num-callers=40 --fair-sched=yes "$driver" c-valgrind
    ;;
  *)
    echo "usage: $0 setup|check|build|run" >&2
    exit 2
    ;;
esac
