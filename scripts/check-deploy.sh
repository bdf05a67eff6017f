#!/usr/bin/env bash
# make deploy-check: the deployment assets under deploy/, checked offline.
#   - deploy/prometheus/rules.yml the way Prometheus reads it: `promtool check rules` with
#     every lint fatal, then the unit tests of tests/rules_test.yml (each alert fires on one
#     set of series and stays silent on another);
#   - deploy/grafana/cosched.json: every panel queries the datasource variable, and promtool
#     parses every panel's expression (scripts/dashboard-exprs.py);
#   - deploy/docker/Dockerfile (dockerfile-utils and the image rules, its runtime packages
#     against the built binaries' libraries) and deploy/k8s/ (rendered overlays current, every
#     object against the Kubernetes, Prometheus Operator and MPI Operator schemas with unknown
#     fields refused, cross-references, config copies, the PrometheusRule against rules.yml),
#     and the dashboard against @grafana/schema: node scripts in deploy/validate/;
#   - deploy/vehicle/: the systemd unit and environment file (scripts/check-vehicle.sh);
#   - deploy/mpi/: the launcher and example hostfile on emulated hosts (ctest -R DeployMpiTest);
#   - live: a real Prometheus over a running scheduler and worker (ctest -R PrometheusTest).
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

# deploy/docker/ and deploy/k8s/, with the npm tools pinned in deploy/validate/package-lock.json
# (each validator is a small script there; deploy/k8s/README.md lists what each checks). The
# broken fixtures name, in their first line, the validator that must reject them and what it
# must say, so a fixture rejected for another reason fails too.
validate="$root/deploy/validate"
docker="$root/deploy/docker"
k8s="$root/deploy/k8s"

# npm_ci: deploy/validate/node_modules exactly as package-lock.json pins it; nothing to do
# when the last `npm ci` installed this very lockfile.
npm_ci() {
  local stamp="$validate/node_modules/.cosched-lockfile-sha256" sum
  sum="$(sha256sum "$validate/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
    return 0
  fi
  (cd "$validate" && npm ci --no-audit --no-fund --loglevel=error) && echo "$sum" >"$stamp"
}

# validator NAME ARGS...: deploy/validate/NAME.mjs.
validator() {
  node "$validate/$1.mjs" "${@:2}"
}

# rejects_for TEXT COMMAND...: the command fails and its output says TEXT.
rejects_for() {
  local text="$1" output
  shift
  if output="$("$@" 2>&1)"; then
    echo "accepted a broken input"
    return 1
  fi
  if [[ "$output" != *"$text"* ]]; then
    echo "rejected it, but did not say: $text"
    echo "$output"
    return 1
  fi
}

# rendered_is_current SOURCE RENDERED: `kubectl kustomize SOURCE` is RENDERED, byte for byte.
rendered_is_current() {
  local fresh
  fresh="$scratch/rendered-$(basename "$2")"
  kubectl kustomize "$1" >"$fresh" && diff -u "$2" "$fresh"
}

# A fixture's first line: "# rejected by VALIDATOR[ --OPTION]: TEXT".
fixture_validator() { sed -n '1s/^# rejected by \([a-z0-9-]*\).*/\1/p' "$1"; }
fixture_option() { sed -n '1s/^# rejected by [a-z0-9-]* \(--[a-z0-9-]*\): .*/\1/p' "$1"; }
fixture_text() { sed -n '1s/^# rejected by [^:]*: //p' "$1"; }

# The programs the image ships, as built here (the runtime stage must provide their libraries).
binaries=()
for program in cosched-scheduler cosched-worker coschedctl cosched; do
  [ -x "$root/build/bin/$program" ] && binaries+=("$root/build/bin/$program")
done

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  failed=$((failed + 1))
  echo "FAIL deploy/docker and deploy/k8s: node and npm not found (Node.js 20 or later)"
else
  check "npm ci in deploy/validate (package-lock.json)" npm_ci

  check "docker/Dockerfile: dockerfile-utils, tagged bases, numeric non-root USER, no secrets, apt knows its packages" \
    validator dockerfile "$docker/Dockerfile" --packages
  if [ ! -x "$root/build/bin/cosched-scheduler" ] || [ ! -x "$root/build/bin/cosched-worker" ]; then
    failed=$((failed + 1))
    echo "FAIL docker/Dockerfile runtime libraries: no build/bin/cosched-scheduler and cosched-worker (build first: make build)"
  else
    check "docker/Dockerfile: its runtime packages provide every library of ${#binaries[@]} built binaries (ldd)" \
      validator dockerfile "$docker/Dockerfile" --binaries "${binaries[@]}"
  fi
  for broken in "$docker"/tests/broken/*.Dockerfile; do
    option="$(fixture_option "$broken")"
    args=()
    [ "$option" = --packages ] && args=(--packages)
    [ "$option" = --binaries ] && args=(--binaries "${binaries[@]}")
    check "the Dockerfile check rejects tests/broken/$(basename "$broken")" \
      rejects_for "$(fixture_text "$broken")" validator dockerfile "$broken" "${args[@]}"
  done

  if ! command -v kubectl >/dev/null; then
    failed=$((failed + 1))
    echo "FAIL k8s/rendered: kubectl not found (kubectl with its built-in kustomize renders the" \
      "overlays; it is installed with the machine, not by scripts/install-deps.sh)"
  else
    for name in dev production; do
      check "k8s/rendered/$name.yaml is what kubectl kustomize overlays/$name renders" \
        rendered_is_current "$k8s/overlays/$name" "$k8s/rendered/$name.yaml"
    done
    check "k8s/rendered/mpijob.yaml is what kubectl kustomize mpijob renders" \
      rendered_is_current "$k8s/mpijob" "$k8s/rendered/mpijob.yaml"
    sed 's/replicas: 2/replicas: 3/' "$k8s/rendered/dev.yaml" >"$scratch/stale-dev.yaml"
    reject "the render check rejects a stale rendered/dev.yaml" \
      rendered_is_current "$k8s/overlays/dev" "$scratch/stale-dev.yaml"
  fi

  # kustomize reads no file outside a kustomization (and `kubectl apply -k` cannot allow it),
  # so deploy/k8s/config holds copies of configs/ that must not drift.
  check "k8s/config/scheduler/scheduler.yaml is configs/scheduler.yaml" \
    cmp "$k8s/config/scheduler/scheduler.yaml" "$root/configs/scheduler.yaml"
  check "k8s/config/jobs/fashion-mlp.yaml is configs/jobs/fashion-mlp.yaml" \
    cmp "$k8s/config/jobs/fashion-mlp.yaml" "$root/configs/jobs/fashion-mlp.yaml"
  sed 's/epochs: 6/epochs: 7/' "$root/configs/jobs/fashion-mlp.yaml" >"$scratch/fashion-mlp.yaml"
  reject "the config copy check rejects a copy that drifted" \
    cmp "$scratch/fashion-mlp.yaml" "$root/configs/jobs/fashion-mlp.yaml"

  rendered=("$k8s"/rendered/dev.yaml "$k8s"/rendered/production.yaml "$k8s"/rendered/mpijob.yaml)
  check "k8s-schema: every rendered object against kubernetes-models, unknown fields refused (tsc --strict)" \
    validator k8s-schema "${rendered[@]}"
  check "mpijob: the rendered MPIJob against the MPI Operator's CRD (strict) and its rules" \
    validator mpijob "${rendered[@]}"
  check "crossref: selectors, ports, references, requests/limits/probes, image tags, security" \
    validator crossref "${rendered[@]}"
  check "prometheusrule: the rendered PrometheusRules carry the groups of prometheus/rules.yml" \
    validator prometheusrule compare "$k8s/rendered/dev.yaml" "$k8s/rendered/production.yaml"
  for broken in "$k8s"/tests/broken/*.yaml; do
    args=("$broken")
    [ "$(fixture_validator "$broken")" = prometheusrule ] && args=(compare "$broken")
    check "the $(fixture_validator "$broken") check rejects k8s/tests/broken/$(basename "$broken")" \
      rejects_for "$(fixture_text "$broken")" validator "$(fixture_validator "$broken")" "${args[@]}"
  done

  check "dashboard: grafana/cosched.json satisfies @grafana/schema's Dashboard (tsc --strict)" \
    validator dashboard "$grafana/cosched.json"
  # A broken dashboard says in its description what the check must report.
  for broken in "$grafana"/tests/schema-broken/*.json; do
    text="$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["description"].removeprefix("rejected by dashboard: "))' "$broken")"
    check "the dashboard schema check rejects tests/schema-broken/$(basename "$broken")" \
      rejects_for "$text" validator dashboard "$broken"
  done
fi

# deploy/vehicle/ (scripts/check-vehicle.sh, against the built cosched-worker) with its broken
# fixtures, and deploy/mpi/: the shipped launcher and hostfile run a job on two emulated hosts
# (tests/deploy_mpi_test.cc; needs build/ from `make test`, and root: CI=true makes a skip fail).
vehicle="$root/deploy/vehicle"
worker="$root/build/bin/cosched-worker"
vehicle_unit() {  # vehicle_unit [DROPIN]: verifies cleanly and is as hardened as required
  bash "$root/scripts/check-vehicle.sh" unit "$worker" "$vehicle/cosched-worker.service" "$@" &&
    bash "$root/scripts/check-vehicle.sh" security "$worker" "$vehicle/cosched-worker.service" "$@"
}
vehicle_env() {
  bash "$root/scripts/check-vehicle.sh" env "$worker" "$1" "$vehicle/cosched-worker.service"
}
if [ ! -x "$worker" ]; then
  failed=$((failed + 1))
  echo "FAIL deploy/vehicle and deploy/mpi: no $worker (build first: make build, or make test)"
else
  check "vehicle/cosched-worker.service: systemd-analyze verify, nothing reported" \
    bash "$root/scripts/check-vehicle.sh" unit "$worker" "$vehicle/cosched-worker.service"
  check "vehicle/cosched-worker.service: required settings, security exposure <= 1.5" \
    bash "$root/scripts/check-vehicle.sh" security "$worker" "$vehicle/cosched-worker.service"
  for broken in "$vehicle"/tests/broken/*.conf; do
    reject "the vehicle unit check rejects drop-in tests/broken/$(basename "$broken")" \
      vehicle_unit "$broken"
  done
  check "vehicle/cosched-worker.env: only cosched-worker flags, values accepted" \
    vehicle_env "$vehicle/cosched-worker.env"
  for broken in "$vehicle"/tests/broken/*.env; do
    reject "the vehicle env check rejects tests/broken/$(basename "$broken")" \
      vehicle_env "$broken"
  done
  check "mpi/cosched-mpirun runs mpi/hostfile on two emulated hosts (DeployMpiTest)" \
    env CI=true ctest --test-dir "$root/build" -R '^DeployMpiTest\.' --no-tests=error \
    --output-on-failure
  # Live: a real Prometheus server (Debian's) loads rules.yml and scrapes a local scheduler
  # and worker; every rule evaluates, and every metric a rule or a dashboard panel reads is
  # in the scrape (tests/prometheus_test.cc).
  check "live: Prometheus evaluates rules.yml over a scrape of a running cluster (PrometheusTest)" \
    env CI=true ctest --test-dir "$root/build" -R '^PrometheusTest\.' --no-tests=error \
    --output-on-failure
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
