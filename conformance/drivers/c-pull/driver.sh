#!/usr/bin/env bash
# Launcher for the C driver in pull mode: setup | check | build | run (see conformance/README.md).
# The same binary as conformance/drivers/c, run with `pull`: engines without a handler, events
# taken with roomlink_poll_event by a pump thread per client, woken by the event-ready callback;
# hooks run while the pump handles the polled event; logs through the log queue.
set -euo pipefail
cd "$(dirname "$0")/../../.."

case "${1:-}" in
  setup) bash conformance/drivers/c/driver.sh setup ;;
  check) bash conformance/drivers/c/driver.sh check ;;
  build) bash conformance/drivers/c/driver.sh build ;;
  run) exec "$(bash conformance/drivers/c/driver.sh path)" c-pull pull ;;
  *)
    echo "usage: $0 setup|check|build|run" >&2
    exit 2
    ;;
esac
