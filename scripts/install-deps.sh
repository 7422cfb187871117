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
  nodejs         # the OpenAPI validator and the console's browser tests run on Node (npm packages)
  chromium       # the console's end-to-end tests drive Debian's headless Chromium
)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# Debian ships npm apart from nodejs; a Node built elsewhere (nodesource) already brings it,
# and asking apt for Debian's npm then would fight that install.
command -v npm >/dev/null 2>&1 || dpkg -s npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# npm packages for the OpenAPI and console tests, pinned by tests/node/package-lock.json.
# Installed here, with the apt packages, so that building and testing download nothing.
# The copy of the lock file left in node_modules says which lock the tree was installed from.
cd "$(dirname "$0")/../tests/node"
if ! cmp -s package-lock.json node_modules/.installed-lock.json 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.installed-lock.json
fi
