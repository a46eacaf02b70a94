# shellcheck shell=bash
# Sourced by the packaging scripts: `run CMD...` prints the command (shell-quoted, after `+`) and
# runs it unless `dry_run` is true, so `--dry-run` prints exactly the plan a real run executes.
run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if ! "${dry_run:?the sourcing script sets dry_run=true|false}"; then
    "$@"
  fi
}
