#!/usr/bin/env bash
# make deploy-check: the deployment assets under deploy/, checked offline.
#   - deploy/prometheus/rules.yml the way Prometheus reads it: `promtool check rules` with
#     every lint fatal, then the unit tests of tests/rules_test.yml (each alert fires on one
#     set of series and stays silent on another);
#   - deploy/grafana/cosched.json: every panel queries the datasource variable, and promtool
#     parses every panel's expression (scripts/dashboard-exprs.py).
# Each validator must also reject its broken fixtures (tests/broken/), so a validator that
# passes everything fails here. Ends with one line "N passed, N failed"; exits non-zero when
# anything failed.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/deploy/prometheus"
grafana="$root/deploy/grafana"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0

# check NAME COMMAND...: the command must succeed.
check() {
  local name="$1"
  shift
  local output
  if output="$("$@" 2>&1)"; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    echo "     ${output//$'\n'/$'\n'     }"
  fi
}

# reject NAME COMMAND...: the command must fail (a validator refusing a broken input).
reject() {
  local name="$1"
  shift
  if "$@" >/dev/null 2>&1; then
    failed=$((failed + 1))
    echo "FAIL $name: accepted a broken input"
  else
    passed=$((passed + 1))
    echo "ok   $name"
  fi
}

# dashboard_parses FILE: its structure holds and promtool parses every panel's expression.
dashboard_parses() {
  local rules
  rules="$scratch/$(basename "$1").rules.yml"
  python3 "$root/scripts/dashboard-exprs.py" "$1" >"$rules" && promtool check rules "$rules"
}

if ! command -v promtool >/dev/null; then
  echo "promtool not found: scripts/install-deps.sh installs Debian's prometheus package" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

check "promtool check rules (lint fatal) rules.yml" \
  promtool check rules --lint=all --lint-fatal "$dir/rules.yml"
check "promtool test rules tests/rules_test.yml" \
  promtool test rules "$dir/tests/rules_test.yml"
reject "promtool check rules rejects tests/broken/bad_expression.rules.yml" \
  promtool check rules "$dir/tests/broken/bad_expression.rules.yml"
reject "promtool check rules --lint-fatal rejects tests/broken/duplicate.rules.yml" \
  promtool check rules --lint=all --lint-fatal "$dir/tests/broken/duplicate.rules.yml"
reject "promtool test rules rejects tests/broken/wrong_expectation.test.yml" \
  promtool test rules "$dir/tests/broken/wrong_expectation.test.yml"

check "grafana/cosched.json: datasource variable and every expression parses" \
  dashboard_parses "$grafana/cosched.json"
for broken in "$grafana"/tests/broken/*.json; do
  reject "the dashboard check rejects tests/broken/$(basename "$broken")" \
    dashboard_parses "$broken"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
