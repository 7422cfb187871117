#!/usr/bin/env bash
# Installs everything waybill needs to build, test and bench on Debian 12 (run as root).
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then echo "install-deps: run as root (apt-get)" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
packages=(
  g++ cmake ninja-build ccache pkg-config git ca-certificates curl
  libcaf-dev librocksdb-dev libflatbuffers-dev flatbuffers-compiler prometheus-cpp-dev
  libboost-dev libgtest-dev libsimdjson-dev rapidjson-dev libyaml-cpp-dev libcli11-dev
  libcsv-dev
  libssl-dev   # SHA-256/HMAC, API keys, TLS on the listener
  openssl      # the TLS integration test makes a self-signed certificate with it
  prometheus   # the Prometheus integration test scrapes waybilld with the real server
  dpkg-dev file  # scripts/package.sh: CPack's DEB generator runs dpkg-shlibdeps on the binaries
  libssl-dev     # HMAC signatures (runtime) and https in the waybill CLI; named, not only pulled in
  openssl        # the CLI test makes a self-signed certificate for its https case
)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
