#!/usr/bin/env bash
# Installs what the tests need on a fresh machine: shellcheck, tinyproxy, and every conformance driver's
# toolchain (each launcher's `setup`, idempotent and quick when everything is present). Called by
# scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
# shellcheck source=lib/apt.sh
source scripts/lib/apt.sh
if ! apt_install shellcheck; then
  echo "setup: shellcheck could not be installed (the shell script check will fail in CI)" >&2
  status=1
fi
# The real HTTP proxy the proxy tests tunnel through (e2e/tests/proxy.rs).
if ! apt_install tinyproxy; then
  echo "setup: tinyproxy could not be installed (the proxy tests will fail in CI)" >&2
  status=1
fi
for launcher in conformance/drivers/*/driver.sh; do
  name="$(basename "$(dirname "$launcher")")"
  if ! bash "$launcher" setup; then
    echo "setup: the $name driver's toolchain could not be installed (its scenarios will be skipped)" >&2
    status=1
  fi
done
exit "$status"
