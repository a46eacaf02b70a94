#!/usr/bin/env bash
# The Unity package's checks: check_native.py (Runtime/Native.cs and Enums.cs against
# bindings/c/roomlink.h), then its own tests (PackageTests.cs) with Mono: compiled together with
# Runtime/*.cs (outside Unity, as the conformance driver is) and run against the cdylib. Needs mcs and mono:
# `bash conformance/drivers/csharp/driver.sh setup` installs them. Last line: `unity: N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/../../.."

# First, needing only python3: the P/Invoke declarations and enums match the header (after
# proving that check catches doctored copies).
if ! command -v python3 >/dev/null 2>&1; then
  # shellcheck source=../../../scripts/lib/apt.sh
  source scripts/lib/apt.sh
  apt_install python3
fi
python3 "bindings/unity/Tests~/check_native.py" --self-test

# As the conformance kit does with a missing driver toolchain: skipped locally, a failure in CI.
for tool in mcs mono; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "unity: skipped ($tool is not installed; run: bash conformance/drivers/csharp/driver.sh setup)"
    [ "${CI:-}" = "true" ] && exit 1
    exit 0
  fi
done

# shellcheck source=../../../scripts/lib/cargo.sh
source scripts/lib/cargo.sh
target="$(target_dir)"
cargo build --quiet -p roomlink-ffi
out="$target/unity-tests"
mkdir -p "$out"
mapfile -t runtime < <(find bindings/unity/Runtime -name '*.cs' | LC_ALL=C sort)

# Inside Unity (UNITY_5_3_OR_NEWER, and UNITY_IOS for the __Internal import) the package compiles
# other code; type-check it, and the README's quick start, against UnityEngine stubs.
awk '/^## Quick start: Unity/ { f = 1 } f && /^```csharp/ { c = 1; next } c && /^```/ { exit } c' \
  README.md >"$out/ReadmeQuickStart.cs"
if [ ! -s "$out/ReadmeQuickStart.cs" ]; then
  echo "unity: README.md has no csharp block under '## Quick start: Unity'" >&2
  exit 1
fi
mcs -nologo -warnaserror -target:library -out:"$out/unity-check.dll" \
  -define:UNITY_5_3_OR_NEWER -define:UNITY_IOS \
  "${runtime[@]}" "bindings/unity/Tests~/UnityStubs.cs" "$out/ReadmeQuickStart.cs"
echo "unity: the Unity-only code and the README's quick start compile against Tests~/UnityStubs.cs"

mcs -nologo -warnaserror -debug -target:exe -out:"$out/tests.exe" -r:System.Core.dll \
  "${runtime[@]}" "bindings/unity/Tests~/PackageTests.cs"
LD_LIBRARY_PATH="$target/debug${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  exec mono --debug "$out/tests.exe" bindings/unity/package.json
