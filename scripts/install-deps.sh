#!/usr/bin/env bash
# Installs every Debian package cosched needs to build, test, benchmark and run.
# Idempotent and quiet: when everything is present it only runs dpkg-query and exits.
# Works as root, or through sudo for a normal user.
set -euo pipefail

packages=(
  # Toolchain
  build-essential cmake ninja-build ccache pkg-config clang clang-format clang-tidy
  # clang's sanitizer and libFuzzer runtimes (make fuzz)
  libclang-rt-14-dev
  # Libraries
  libgloo-dev libopenmpi-dev openmpi-bin libabsl-dev prometheus-cpp-dev libcivetweb-dev
  libgtest-dev libgmock-dev libbenchmark-dev libspdlog-dev libfmt-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libyaml-cpp-dev libeigen3-dev zlib1g-dev nlohmann-json3-dev
  # Data and the tools the tests start (process control, HTTP scrapes, Prometheus)
  dataset-fashion-mnist curl procps iproute2 prometheus
  # A firewall inside emulated hosts (a vehicle that refuses inbound connections)
  nftables
  # make deploy-check lints the shell scripts and verifies the vehicle's systemd unit
  shellcheck systemd
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { "${sudo[@]}" apt-get update -qq &&
       "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: apt-get failed (log above)" >&2
  exit 1
fi
