# shellcheck shell=bash
# The Kotlin toolchain shared by the conformance driver (driver.sh) and the JNA event-rate bench
# (bench/ffi/kotlin/run.sh): kotlinc (npm package kotlin-compiler, under $(tools_dir)), JNA and
# Gson (Debian), a Java runtime (Debian's JDK; installed if missing). Sourced from the repository
# root, after scripts/lib/apt.sh.

KOTLIN_VERSION=2.4.20
JNA_JAR=/usr/share/java/jna.jar
GSON_JAR=/usr/share/java/gson.jar

kotlin_home() { echo "$(tools_dir)/kotlin-compiler-$KOTLIN_VERSION"; }

# shellcheck source=../../../scripts/lib/cargo.sh
source scripts/lib/cargo.sh

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

# generate_bindings LIB DIR: the UniFFI Kotlin sources for library LIB in DIR, left untouched
# (timestamps included) when a new generation is identical.
generate_bindings() {
  local lib="$1" dir="$2"
  rm -rf "$dir.new"
  bash scripts/uniffi-generate.sh --lang kotlin --out "$dir.new" --lib "$lib" >&2
  if diff -rq "$dir.new" "$dir" >/dev/null 2>&1; then
    rm -rf "$dir.new"
  else
    rm -rf "$dir"
    mv "$dir.new" "$dir"
  fi
}

# compile_jar JAR SOURCE_DIR...: compiles every .kt under the directories into JAR (with JNA and
# Gson on the class path). kotlinc is slow (tens of seconds), so it runs only when a source, or
# the compiler version, changed since the last successful compile (a stamp beside the jar).
compile_jar() {
  local jar="$1" sources=()
  shift
  mapfile -t sources < <(find "$@" -name '*.kt' | LC_ALL=C sort)
  local stamp
  stamp="$({ echo "$KOTLIN_VERSION"; sha256sum "${sources[@]}"; } | sha256sum | cut -d' ' -f1)"
  if [ -f "$jar" ] && [ "$(cat "$jar.stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  echo "== kotlin: compiling ${#sources[@]} sources into $jar" >&2
  rm -f "$jar.stamp"
  "$(kotlin_home)/bin/kotlinc" -nowarn -jvm-target 17 -no-reflect \
    -cp "$JNA_JAR:$GSON_JAR" -d "$jar" "${sources[@]}"
  echo "$stamp" >"$jar.stamp"
}

# The class path to run a jar built by compile_jar.
run_classpath() {
  echo "$1:$(kotlin_home)/lib/kotlin-stdlib.jar:$JNA_JAR:$GSON_JAR"
}
