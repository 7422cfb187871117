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
build/runtime/waybilld "$@" &
waybill_pid=$!
# Ctrl-C reaches both through the terminal; a SIGTERM to this script (a supervisor,
# `timeout`) is passed on, so waybilld drains and exits and nothing is left running.
stop() { kill "$waybill_pid" "$sim_pid" 2>/dev/null || true; }
trap stop EXIT INT TERM
status=0
wait "$waybill_pid" || status=$?
# A signal interrupts the first wait: wait again for waybilld's own exit after it drains.
kill -0 "$waybill_pid" 2>/dev/null && { wait "$waybill_pid" || status=$?; }
exit "$status"
