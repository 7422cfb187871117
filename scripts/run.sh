#!/usr/bin/env bash
# Installs, builds and starts waybilld on its embedded defaults (data in ./data, HTTP
# and /metrics on 127.0.0.1:8080, carrier profiles from configs/carriers) together with
# carrier-sim on 127.0.0.1:9090 playing those carriers. Extra arguments go to waybilld.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/sim/carrier-sim --config configs/carrier-sim.yaml &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true' EXIT
build/runtime/waybilld "$@"
