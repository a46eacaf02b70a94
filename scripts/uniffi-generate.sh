#!/usr/bin/env bash
# Generates the UniFFI bindings (Kotlin, Swift or Python) from the roomlink library.
#
#   bash scripts/uniffi-generate.sh --lang kotlin|swift|python --out DIR [--lib PATH]
#
# Without --lib it builds the unstripped debug library first and reads
# $CARGO_TARGET_DIR/debug/libroomlink_ffi.so (or .dylib on macOS). The generated sources carry
# checksums of that exact build's interface and refuse to load against another, so they are
# generated next to each build and never checked in (bindings/README.md). Settings: ffi/uniffi.toml and
# proto/uniffi.toml (the library holds two UniFFI components, see below).
set -euo pipefail
cd "$(dirname "$0")/.."

lang=""
out=""
lib=""
while [ $# -gt 0 ]; do
  case "$1" in
    --lang) lang="${2:?--lang needs kotlin|swift|python}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --lib) lib="${2:?--lib needs a path}"; shift 2 ;;
    *) echo "uniffi-generate.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$lang" in
  kotlin | swift | python) ;;
  *) echo "usage: $0 --lang kotlin|swift|python --out DIR [--lib PATH]" >&2; exit 2 ;;
esac
if [ -z "$out" ]; then
  echo "uniffi-generate.sh: --out DIR is required" >&2
  exit 2
fi

# shellcheck source=../scripts/lib/cargo.sh
source scripts/lib/cargo.sh

if [ -z "$lib" ]; then
  cargo build --quiet -p roomlink-ffi
  ext=so
  [ "$(uname -s)" = Darwin ] && ext=dylib
  lib="$(target_dir)/debug/libroomlink_ffi.$ext"
fi
if [ ! -f "$lib" ]; then
  echo "uniffi-generate.sh: no library at $lib" >&2
  exit 1
fi

# The generator is its own crate, so library builds never compile it.
cargo build --quiet -p roomlink-uniffi-bindgen
bindgen="$(target_dir)/debug/uniffi-bindgen"

mkdir -p "$out"
args=(generate --library "$lib" --language "$lang" --out-dir "$out")
# ktlint and swift-format are not part of any toolchain here; the generated code compiles as it
# is. (Python is written as it is either way.)
case "$lang" in kotlin | swift) args+=(--no-format) ;; esac
"$bindgen" "${args[@]}"

# The library holds two UniFFI components: roomlink (ffi/uniffi.toml) and core's model types,
# roomlink-proto (proto/uniffi.toml), each generated into a file of its own (Kotlin: package
# org.roomlink.proto; Swift: RoomlinkProto.swift, compiled into module Roomlink; Python:
# roomlink_proto.py, re-exported by the package). Swift: both headers belong to the one C module
# RoomlinkFFI, whose module map UniFFI writes for roomlink's header only (proto's component
# generates none): list proto's header in it too. awk, not sed -i (BSD sed on macOS differs).
if [ "$lang" = swift ]; then
  map="$out/RoomlinkFFI.modulemap"
  awk '{ print } /^ *header "RoomlinkFFI.h"$/ { print "    header \"RoomlinkProtoFFI.h\"" }' \
    "$map" >"$map.new"
  mv "$map.new" "$map"
  if [ ! -f "$out/RoomlinkProtoFFI.h" ] || ! grep -q '"RoomlinkProtoFFI.h"' "$map"; then
    echo "uniffi-generate.sh: expected RoomlinkProtoFFI.h in $out and in $map" >&2
    exit 1
  fi
fi
