#!/usr/bin/env bash
# Installs what the tests need on a fresh machine: shellcheck, tinyproxy, redis-server, nightly + cargo-fuzz, and
# every conformance driver's toolchain (each launcher's `setup`, idempotent and quick when everything
# is present). Called by scripts/test.sh.
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
# The Redis server the cluster tests start on a free loopback port (server/tests/cluster*.rs); the
# system service is never used.
if ! apt_install redis-server; then
  echo "setup: redis-server could not be installed (the cluster tests will fail in CI)" >&2
  status=1
fi
# The fuzz step (scripts/fuzz.sh) needs the nightly toolchain and cargo-fuzz.
if ! rustup run nightly rustc --version >/dev/null 2>&1 &&
  ! rustup toolchain install nightly --profile minimal; then
  echo "setup: the nightly toolchain could not be installed (the fuzz step will fail in CI)" >&2
  status=1
fi
if ! cargo fuzz --version >/dev/null 2>&1 && ! cargo install --locked cargo-fuzz; then
  echo "setup: cargo-fuzz could not be installed (the fuzz step will fail in CI)" >&2
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
