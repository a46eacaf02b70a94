#!/usr/bin/env bash
# Runs the conformance kit (conformance/README.md): every scenario against every driver whose
# toolchain is here. Usage:
#   bash scripts/conformance.sh [--driver NAME]... [--scenario NAME]... [--repeat N] [--bless] [--time-scale F]
#                               [--cluster N]
# --cluster N runs every scenario on N nodes sharing one Redis (redis-server, from scripts/setup.sh)
# against the same canonical traces; its traces and logs go to target/conformance/cluster-N/.
# A driver whose `check` fails is reported as skipped (a failure when CI=true). The last line
# printed is the orchestrator's `N passed, N failed`; the exit status is the orchestrator's.
set -euo pipefail
cd "$(dirname "$0")/.."

drivers=()
pass=()
bless=false
cluster=""
named_scenarios=false
while [ $# -gt 0 ]; do
  case "$1" in
    --driver) drivers+=("${2:?--driver needs a NAME}"); shift 2 ;;
    --scenario) named_scenarios=true; pass+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    --repeat | --time-scale) pass+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    --bless) bless=true; pass+=("$1"); shift ;;
    --cluster) cluster="${2:?--cluster needs a node count}"; pass+=("$1" "$2"); shift 2 ;;
    *) echo "conformance.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if $bless; then
  for name in "${drivers[@]}"; do
    if [ "$name" != rust ]; then
      echo "conformance.sh: --bless writes the canonical traces, which come from the rust driver only (got --driver $name)" >&2
      exit 2
    fi
  done
fi

if [ -n "$cluster" ]; then
  # --bless --cluster blesses only the cluster-only scenarios ("cluster" in the file): every other
  # canonical trace comes from one server, and the orchestrator leaves those out.
  command -v redis-server >/dev/null || {
    echo "conformance.sh: --cluster needs redis-server (bash scripts/setup.sh installs it)" >&2
    exit 1
  }
  # Every scenario but the written-down exceptions (conformance/cluster-exceptions.txt), unless
  # scenarios were named.
  if ! $named_scenarios; then
    for file in conformance/scenarios/*.json; do
      name="$(basename "$file" .json)"
      reason="$(awk -v n="$name" '$1 == n { $1 = ""; sub(/^ /, ""); print; exit }' conformance/cluster-exceptions.txt)"
      if [ -n "$reason" ]; then
        echo "== conformance on the cluster: $name not run: $reason"
      else
        pass+=(--scenario "$name")
      fi
    done
  fi
fi

if [ ${#drivers[@]} -eq 0 ]; then
  if $bless; then
    drivers=(rust) # canonical traces come from the reference driver
  else
    for launcher in conformance/drivers/*/driver.sh; do
      drivers+=("$(basename "$(dirname "$launcher")")")
    done
  fi
fi

echo "== conformance: building the orchestrator"
cargo build --quiet -p roomlink-conformance

args=()
for name in "${drivers[@]}"; do
  launcher="conformance/drivers/$name/driver.sh"
  if [ ! -f "$launcher" ]; then
    echo "conformance.sh: no driver $name ($launcher)" >&2
    exit 2
  fi
  if ! reason="$(bash "$launcher" check 2>&1)"; then
    args+=(--skipped "$name=${reason:-its check failed}")
    continue
  fi
  # A slow driver (e.g. under valgrind) names its own time-scale factor in a `time-scale` file.
  if [ -f "conformance/drivers/$name/time-scale" ]; then
    args+=(--driver-time-scale "$name=$(tr -d '[:space:]' <"conformance/drivers/$name/time-scale")")
  fi
  echo "== conformance: building the $name driver"
  if bash "$launcher" build; then
    args+=(--driver "$name=bash $launcher run")
  else
    # Never run a stale binary: a driver that does not build fails every scenario.
    args+=(--driver "$name=echo 'the $name driver did not build' >&2; exit 1")
  fi
done
if [ "${CI:-}" = "true" ]; then
  args+=(--require-all)
fi

out_dir="${CARGO_TARGET_DIR:-target}/conformance${cluster:+/cluster-$cluster}"
exec cargo run --quiet -p roomlink-conformance -- --out-dir "$out_dir" "${args[@]}" "${pass[@]}"
