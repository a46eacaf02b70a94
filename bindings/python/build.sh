#!/usr/bin/env bash
# Stages the `roomlink` Python package: this directory's roomlink/ (checked in), the UniFFI
# modules generated from the library (roomlink/roomlink.py and roomlink/roomlink_proto.py, the
# model types' component) and the library itself, side by side.
#
#   bash bindings/python/build.sh [--release] [--out DIR]
#
# The package lands in DIR/roomlink (default: bindings/python/roomlink itself, whose generated
# files are git-ignored). --release builds the optimised library; default is the debug build.
set -euo pipefail
cd "$(dirname "$0")/../.."

release=false
out=bindings/python
while [ $# -gt 0 ]; do
  case "$1" in
    --release) release=true; shift ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# shellcheck source=../../scripts/lib/cargo.sh
source scripts/lib/cargo.sh
target="$(target_dir)"
ext=so
[ "$(uname -s)" = Darwin ] && ext=dylib
if $release; then
  cargo build --quiet --release -p roomlink-ffi
  lib="$target/release/libroomlink_ffi.$ext"
else
  cargo build --quiet -p roomlink-ffi
  lib="$target/debug/libroomlink_ffi.$ext"
fi

package="$out/roomlink"
mkdir -p "$package"
if [ "$(cd "$package" && pwd)" != "$(cd bindings/python/roomlink && pwd)" ]; then
  cp bindings/python/roomlink/__init__.py bindings/python/roomlink/log.py "$package/"
fi
bash scripts/uniffi-generate.sh --lang python --out "$package" --lib "$lib" >/dev/null
# Copy, not link: the generated module must travel with the very library it was generated from.
cp "$lib" "$package/"
echo "roomlink Python package staged in $package"
