#!/usr/bin/env bash
# make fuzz: runs every libFuzzer target of fuzz/ (built in BUILD_DIR, the `fuzz` preset) for
# SECONDS each. First it replays fuzz/regressions/NAME (inputs that once crashed it; each must
# pass now), then it fuzzes, starting from the seeds in fuzz/corpus/NAME. New corpus entries
# go to a scratch directory, not the repository. A crash leaves its input in
# fuzz/regressions/NAME/ (commit it with the fix) and fails the run.
#   scripts/run-fuzzers.sh BUILD_DIR SECONDS
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:?usage: run-fuzzers.sh BUILD_DIR SECONDS}"
seconds="${2:?usage: run-fuzzers.sh BUILD_DIR SECONDS}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=0
ran=0

for corpus in "$root"/fuzz/corpus/*/; do
  name="$(basename "$corpus")"
  fuzzer="$build/bin/$name"
  if [ ! -x "$fuzzer" ]; then
    echo "FAIL $name: no $fuzzer (cmake --build --preset fuzz --target fuzzers)"
    failed=$((failed + 1))
    continue
  fi
  regressions="$root/fuzz/regressions/$name"
  mkdir -p "$regressions"
  if compgen -G "$regressions/*" >/dev/null; then
    if ! "$fuzzer" -runs=0 "$regressions"/* >"$scratch/$name.replay.log" 2>&1; then
      echo "FAIL $name: an input in fuzz/regressions/$name crashes it again"
      tail -30 "$scratch/$name.replay.log"
      failed=$((failed + 1))
      continue
    fi
  fi
  mkdir -p "$scratch/$name"
  # -rss_limit_mb: an input that makes the program allocate gigabytes is a finding too.
  if "$fuzzer" "$scratch/$name" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -timeout=10 -artifact_prefix="$regressions/" -print_final_stats=1 \
    >"$scratch/$name.log" 2>&1; then
    echo "ok   $name: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/$name.log" |
      grep -o '[0-9]*$') inputs in ${seconds}s, corpus $(find "$scratch/$name" "$corpus" -type f | wc -l)"
    ran=$((ran + 1))
  else
    echo "FAIL $name: crashed; the input is in fuzz/regressions/$name/"
    grep -E "ERROR|SUMMARY|==[0-9]+==" "$scratch/$name.log" | head -20
    failed=$((failed + 1))
  fi
done

echo "$ran fuzzers passed, $failed failed"
[ "$failed" -eq 0 ]
