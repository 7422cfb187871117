#!/usr/bin/env bash
# Installs, builds and runs the standard bench scenario (< 5 minutes on 2 cores): HTTP
# and in-process drivers, RocksDB and PostgreSQL baselines in the same run, restart and
# memory figures. Extra arguments go to waybill-bench (e.g. --quick, --scenario full).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v pgbench >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15
fi
scripts/build.sh
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--scenario standard)
exec build/bench/waybill-bench "${args[@]}" --server build/runtime/waybilld
