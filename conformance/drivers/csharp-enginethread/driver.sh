#!/usr/bin/env bash
# Launcher for the C# driver in engine-thread mode: setup | check | build | run (see
# conformance/README.md). The same driver.exe as conformance/drivers/csharp, run with
# ROOMLINK_CSHARP_DELIVERY=engine_thread: the package's EventDelivery.EngineThread, whose C#
# events are raised by the C callbacks on roomlink's event thread (hooks run inside them).
set -euo pipefail
cd "$(dirname "$0")/../../.."

case "${1:-}" in
  setup) bash conformance/drivers/csharp/driver.sh setup ;;
  check) bash conformance/drivers/csharp/driver.sh check ;;
  build) bash conformance/drivers/csharp/driver.sh build ;;
  run) ROOMLINK_CSHARP_DELIVERY=engine_thread exec bash conformance/drivers/csharp/driver.sh run ;;
  *)
    echo "usage: $0 setup|check|build|run" >&2
    exit 2
    ;;
esac
