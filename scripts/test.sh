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

echo "== doctests (the README's Rust example is one)"
cargo test --workspace --doc --quiet

# The conformance kit runs before the unit and end-to-end tests so that their summary stays the
# last line; a conformance failure still lets them run and fails the script at the end.
echo "== conformance (conformance/README.md)"
conformance=0
bash scripts/conformance.sh || conformance=$?

echo "== unity package tests (bindings/unity/Tests~)"
unity=0
bash "bindings/unity/Tests~/run.sh" || unity=$?

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
if [ "$unity" -ne 0 ]; then
  exit "$unity"
fi
exit "$tests"
