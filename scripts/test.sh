#!/usr/bin/env bash
# Runs every test. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs the drivers' toolchains (mono, kotlinc, the Swift chroot, ...) when missing. A failure
# here is not fatal by itself: the drivers it concerns are then skipped, which CI counts as failures.
echo "== setup (scripts/setup.sh)"
bash scripts/setup.sh || echo "setup: incomplete, see above"

echo "== format"
cargo fmt --all --check

# Every script, including the packaging scripts that cannot run here (Android NDK, Xcode).
echo "== shell scripts (shellcheck)"
if command -v shellcheck >/dev/null 2>&1; then
  # -x follows `source`; a `# shellcheck source=` path is relative to the script's own folder.
  shellcheck -x -P SCRIPTDIR scripts/*.sh scripts/lib/*.sh conformance/drivers/*/driver.sh
elif [ "${CI:-}" = "true" ]; then
  echo "shellcheck is not installed (scripts/setup.sh installs it)" >&2
  exit 1
else
  echo "shellcheck is not installed: skipped (scripts/setup.sh installs it)"
fi

echo "== doctests (the README's Rust example is one)"
cargo test --workspace --doc --quiet

# The conformance kit runs before the unit and end-to-end tests so that their summary stays the
# last line; a conformance failure still lets them run and fails the script at the end.
echo "== conformance (conformance/README.md)"
conformance=0
bash scripts/conformance.sh || conformance=$?

echo "== tests"
tests=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast || tests=$?
else
  cargo test --workspace --no-fail-fast || tests=$?
fi
if [ "$conformance" -ne 0 ]; then
  exit "$conformance"
fi
exit "$tests"
