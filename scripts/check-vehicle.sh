#!/usr/bin/env bash
# check-vehicle.sh: checks deploy/vehicle/ (the systemd unit and environment file a fleet
# operator installs on a car) against a real cosched-worker binary. scripts/check-deploy.sh
# runs it; an operator can run it on an edited copy before installing.
#
#   check-vehicle.sh unit     WORKER UNIT [DROPIN.conf...]
#       The unit, with the drop-ins, installed in a scratch root (the binary at the unit's
#       ExecStart path, the host's systemd units beside it) passes `systemd-analyze verify`
#       with nothing reported: systemd only warns, and exits 0, on an unknown directive or a
#       value it cannot parse, so any diagnostic counts as a failure here.
#   check-vehicle.sh security WORKER UNIT [DROPIN.conf...]
#       The settings the vehicle relies on have their required values (the last assignment
#       wins, as in systemd) and `systemd-analyze security --offline` rates the exposure at
#       most 1.5 (of 10).
#   check-vehicle.sh env      WORKER ENVFILE UNIT
#       Every line of ENVFILE is a comment or COSCHED_NAME=VALUE where NAME is a flag that
#       `WORKER --help` lists, and the worker accepts every value when started the way the
#       unit starts it (its ExecStart arguments, only ENVFILE's environment).
set -euo pipefail

usage() {
  echo "usage: check-vehicle.sh unit|security WORKER UNIT [DROPIN.conf...]" >&2
  echo "       check-vehicle.sh env WORKER ENVFILE UNIT" >&2
  exit 2
}

[ $# -ge 3 ] || usage
mode=$1
worker=$2
shift 2
if [ ! -x "$worker" ]; then
  echo "no cosched-worker binary at $worker (build it first: make build)" >&2
  exit 1
fi
for f in "$@"; do
  [ -f "$f" ] || { echo "no such file: $f" >&2; exit 1; }
done

# The unit's ExecStart= line, split into words (the unit uses no quoting).
exec_start() {
  local line
  line=$(sed -n 's/^ExecStart=//p' "$1" | tail -n 1)
  [ -n "$line" ] || { echo "$1 has no ExecStart=" >&2; return 1; }
  echo "$line"
}

# install_tree DIR UNIT [DROPIN...]: a root with the unit, its drop-ins, the worker binary at
# the unit's ExecStart path and the host's systemd units (targets such as
# network-online.target that the unit names).
install_tree() {
  local root=$1 unit=$2 name
  shift 2
  name=$(basename "$unit")
  if [ ! -d /usr/lib/systemd/system ]; then
    echo "no /usr/lib/systemd/system here: install Debian's systemd package" >&2
    return 1
  fi
  mkdir -p "$root/usr/lib/systemd" "$root/etc/systemd/system/$name.d"
  cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
  cp "$unit" "$root/etc/systemd/system/$name"
  for dropin in "$@"; do
    cp "$dropin" "$root/etc/systemd/system/$name.d/$(basename "$dropin")"
  done
  local -a words
  read -ra words <<<"$(exec_start "$unit")"
  case "${words[0]}" in
    /*) ;;
    *) echo "ExecStart= must name an absolute path, not ${words[0]}" >&2; return 1 ;;
  esac
  mkdir -p "$root$(dirname "${words[0]}")"
  cp "$worker" "$root${words[0]}"
}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

case "$mode" in
  unit)
    command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found" >&2; exit 1; }
    unit=$1
    shift
    install_tree "$scratch/root" "$unit" "$@"
    status=0
    output=$(systemd-analyze --root="$scratch/root" verify "$(basename "$unit")" 2>&1) || status=$?
    if [ "$status" -ne 0 ] || [ -n "$output" ]; then
      echo "systemd-analyze verify (exit $status):" >&2
      echo "$output" >&2
      exit 1
    fi
    ;;
  security)
    command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found" >&2; exit 1; }
    unit=$1
    shift
    # What the vehicle relies on: an unprivileged, sandboxed service that yields to the car's
    # own software and leaves its job at a step boundary on SIGTERM.
    required=(
      DynamicUser=yes StateDirectory=cosched-worker NoNewPrivileges=yes ProtectSystem=strict
      ProtectHome=yes PrivateTmp=yes "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK"
      Nice=19 CPUWeight=1 IOSchedulingClass=idle OOMScoreAdjust=1000 Restart=on-failure
      KillSignal=SIGTERM TimeoutStopSec=60 After=network-online.target
      Wants=network-online.target
    )
    bad=0
    for setting in "${required[@]}"; do
      key=${setting%%=*}
      last=$(grep -h "^$key=" "$unit" "$@" | tail -n 1 || true)
      if [ "$last" != "$setting" ]; then
        echo "needs $setting, has '${last:-nothing}'" >&2
        bad=1
      fi
    done
    for key in CPUQuota MemoryMax; do
      last=$(grep -h "^$key=" "$unit" "$@" | tail -n 1 || true)
      if [ -z "${last#"$key="}" ]; then
        echo "needs a $key= limit" >&2
        bad=1
      fi
    done
    install_tree "$scratch/root" "$unit" "$@"
    status=0
    output=$(systemd-analyze --root="$scratch/root" security --offline=yes --threshold=15 \
      "$(basename "$unit")" 2>&1) || status=$?
    if [ "$status" -ne 0 ]; then
      echo "systemd-analyze security: exposure above 1.5 (exit $status):" >&2
      grep -E '✗|Overall' <<<"$output" >&2 || echo "$output" >&2
      bad=1
    fi
    exit "$bad"
    ;;
  env)
    [ $# -eq 2 ] || usage
    envfile=$1
    unit=$2
    help=$("$worker" --help 2>&1) || { echo "$worker --help failed: $help" >&2; exit 1; }
    flags=$(grep -o 'env COSCHED_[A-Z0-9_]*' <<<"$help" | sed 's/^env //' | sort -u)
    if [ "$(wc -l <<<"$flags")" -lt 10 ]; then
      echo "$worker --help lists too few COSCHED_ variables:" >&2
      echo "$help" >&2
      exit 1
    fi
    bad=0
    assignments=()
    n=0
    while IFS= read -r line || [ -n "$line" ]; do
      n=$((n + 1))
      case "$line" in
        '' | '#'*) continue ;;
      esac
      if [[ ! "$line" =~ ^(COSCHED_[A-Z0-9_]+)=(.*)$ ]]; then
        echo "$envfile:$n: not COSCHED_NAME=VALUE: $line" >&2
        bad=1
        continue
      fi
      name=${BASH_REMATCH[1]}
      if ! grep -qx "$name" <<<"$flags"; then
        echo "$envfile:$n: $name is not a cosched-worker flag (see $worker --help)" >&2
        bad=1
      fi
      assignments+=("$line")
    done <"$envfile"
    [ "${#assignments[@]}" -gt 0 ] || { echo "$envfile sets nothing" >&2; exit 1; }
    [ "$bad" -eq 0 ] || exit 1
    # The values: the worker's flag parser reads the environment before --help returns, so a
    # malformed value fails here as it would at start.
    read -ra words <<<"$(exec_start "$unit")"
    if ! output=$(env -i "${assignments[@]}" "$worker" "${words[@]:1}" --help 2>&1); then
      echo "cosched-worker ${words[*]:1} rejects $envfile:" >&2
      head -n 3 <<<"$output" >&2
      exit 1
    fi
    ;;
  *)
    usage
    ;;
esac
