#!/usr/bin/env bash
# The Flutter plugin's CI check (no Dart SDK runs here): its dart:ffi declarations must match
# bindings/c/roomlink.h. Runs the checker's self-test (doctored copies must fail), then the check.
# For scripts/test.sh: bash bindings/flutter/tool/check_bindings.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
if ! command -v python3 >/dev/null 2>&1; then
  # shellcheck source=../../../scripts/lib/apt.sh
  source scripts/lib/apt.sh
  apt_install python3
fi
exec python3 bindings/flutter/tool/check_bindings.py --self-test
