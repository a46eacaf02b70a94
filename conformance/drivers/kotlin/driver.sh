#!/usr/bin/env bash
# Launcher for the Kotlin driver: setup | check | build | run (see conformance/README.md).
# The driver runs on the JVM over the UniFFI-generated Kotlin bindings (JNA), like an Android app.
# Toolchain: kotlinc (npm package kotlin-compiler, under $(tools_dir)), JNA and Gson (Debian), a
# Java runtime (Debian's default JDK on the machine; installed if missing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
source scripts/lib/apt.sh

KOTLIN_VERSION=2.4.20
JNA_JAR=/usr/share/java/jna.jar
GSON_JAR=/usr/share/java/gson.jar

kotlin_home() { echo "$(tools_dir)/kotlin-compiler-$KOTLIN_VERSION"; }

target_dir() {
  local dir
  dir="$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
  echo "${dir:-${CARGO_TARGET_DIR:-target}}"
}

setup() {
  local pkgs=(libjna-java libgoogle-gson-java)
  command -v java >/dev/null 2>&1 || pkgs+=(openjdk-17-jre-headless)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
  apt_install "${pkgs[@]}"
  local home
  home="$(kotlin_home)"
  [ -x "$home/bin/kotlinc" ] && return 0
  echo "== setup: kotlin-compiler $KOTLIN_VERSION (npm pack) into $home"
  local tmp
  tmp="$(mktemp -d "$(tools_dir)/kotlin-compiler.XXXXXX")"
  # npm pack fetches the package tarball from the configured registry without installing it;
  # the tarball holds the compiler distribution under package/.
  (cd "$tmp" && npm pack --silent "kotlin-compiler@$KOTLIN_VERSION" >/dev/null)
  tar -xzf "$tmp"/kotlin-compiler-*.tgz -C "$tmp"
  chmod +x "$tmp/package/bin/"*
  rm -rf "$home"
  mv "$tmp/package" "$home"
  rm -rf "$tmp"
}

check() {
  if [ ! -x "$(kotlin_home)/bin/kotlinc" ]; then
    echo "kotlinc $KOTLIN_VERSION is not installed (run: bash conformance/drivers/kotlin/driver.sh setup)"
    exit 1
  fi
  for jar in "$JNA_JAR" "$GSON_JAR"; do
    if [ ! -f "$jar" ]; then
      echo "$jar is missing (Debian libjna-java / libgoogle-gson-java; run the setup)"
      exit 1
    fi
  done
  if ! command -v java >/dev/null 2>&1; then
    echo "java is not installed"
    exit 1
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not installed"
    exit 1
  fi
}

# Builds the library, generates the Kotlin bindings from it and compiles them with the driver
# into one jar. kotlinc is slow (tens of seconds), so it runs only when an input changed.
build() {
  local target out
  target="$(target_dir)"
  out="$target/kotlin-driver"
  mkdir -p "$out"
  cargo build --quiet -p roomlink-ffi
  bash scripts/uniffi-generate.sh --lang kotlin --out "$out/generated.new" \
    --lib "$target/debug/libroomlink_ffi.so" >&2
  # Keep the previous generation (and its timestamps) when nothing changed.
  if diff -rq "$out/generated.new" "$out/generated" >/dev/null 2>&1; then
    rm -rf "$out/generated.new"
  else
    rm -rf "$out/generated"
    mv "$out/generated.new" "$out/generated"
  fi
  local sources=()
  mapfile -t sources < <(find "$out/generated" bindings/kotlin/src/main/kotlin \
    conformance/drivers/kotlin/src -name '*.kt' | LC_ALL=C sort)
  local stamp
  stamp="$({ echo "$KOTLIN_VERSION"; sha256sum "${sources[@]}"; } | sha256sum | cut -d' ' -f1)"
  if [ -f "$out/driver.jar" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  echo "== kotlin: compiling ${#sources[@]} sources" >&2
  rm -f "$out/stamp"
  "$(kotlin_home)/bin/kotlinc" -nowarn -jvm-target 17 -no-reflect \
    -cp "$JNA_JAR:$GSON_JAR" -d "$out/driver.jar" "${sources[@]}"
  echo "$stamp" >"$out/stamp"
}

run() {
  local target
  target="$(target_dir)"
  exec java -Xshare:auto -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djna.library.path="$target/debug" \
    -cp "$target/kotlin-driver/driver.jar:$(kotlin_home)/lib/kotlin-stdlib.jar:$JNA_JAR:$GSON_JAR" \
    org.roomlink.conformance.DriverKt
}

case "${1:-}" in
  setup) setup ;;
  check) check ;;
  build) build ;;
  run) run ;;
  *)
    echo "usage: $0 setup|check|build|run" >&2
    exit 2
    ;;
esac
