# shellcheck shell=bash
# Sourced by scripts and launchers (from the repository root): where cargo puts build output.

# The workspace's target directory, absolute (cargo's own answer, so CARGO_TARGET_DIR and
# .cargo/config are honoured; `target` if cargo cannot say).
target_dir() {
  local dir
  dir="$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
  dir="${dir:-${CARGO_TARGET_DIR:-target}}"
  mkdir -p "$dir"
  (cd "$dir" && pwd)
}
