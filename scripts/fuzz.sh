#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a while (default 60 s each; FUZZ_SECONDS overrides),
# starting from the checked-in seed corpus fuzz/corpus/<target>/ and growing fuzz/grown/<target>/
# (not committed). Fails if any target finds a crash (libFuzzer leaves the input in
# fuzz/artifacts/<target>/; turn it into a regression test in the normal suite). Prints
# libFuzzer's final figures (executions, cov/ft) per target.
#
#   bash scripts/fuzz.sh [TARGET...]
#   bash scripts/fuzz.sh --cmin TARGET   # merge grown + seed corpus back into fuzz/corpus/TARGET
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-60}"
# No sanitizer: the code under test is safe Rust, so ASan adds build and run time and finds
# nothing a panic would not; overflow checks and debug assertions are on (-a).
flags=(+nightly fuzz run --sanitizer none --debug-assertions)

if [ "${1:-}" = "--cmin" ]; then
  target="$2"
  # A set-cover merge over edges (not libFuzzer's finer features, which keep ten times more
  # files) of seed and grown corpus: the smallest set that keeps the coverage reached.
  rm -rf "min/$target" "all/$target"
  mkdir -p "min/$target" "all/$target"
  cp "corpus/$target"/* "all/$target"/
  if [ -d "grown/$target" ]; then
    cp "grown/$target"/* "all/$target"/ 2>/dev/null || true
  fi
  cargo "${flags[@]}" "$target" "min/$target" "all/$target" -- \
    -set_cover_merge=1 -use_counters=0 >/dev/null 2>&1
  rm -rf "all/$target"
  rmdir all 2>/dev/null || true
  rm -rf "corpus/$target"
  mv "min/$target" "corpus/$target"
  rmdir min 2>/dev/null || true
  echo "fuzz/corpus/$target: $(find "corpus/$target" -type f | wc -l) files"
  exit 0
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
failed=()
for t in "${targets[@]}"; do
  mkdir -p "grown/$t"
  log="$(mktemp)"
  if cargo "${flags[@]}" "$t" "grown/$t" "corpus/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
    execs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)"
    echo "fuzz $t: ${execs:-?} executions in ${seconds} s; ${done_line:-no final line}"
  elif grep -q 'failed to build fuzz script' "$log"; then
    echo "fuzz $t: FAILED: the target does not build; last lines:" >&2
    tail -n 40 "$log" >&2
    failed+=("$t")
  else
    echo "fuzz $t: FAILED (input in fuzz/artifacts/$t/); last lines:" >&2
    tail -n 40 "$log" >&2
    failed+=("$t")
  fi
  rm -f "$log"
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: failed (a crash, or a target that does not build): ${failed[*]}" >&2
  exit 1
fi
