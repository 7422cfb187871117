#!/usr/bin/env bash
# Installs, builds and starts waybilld on its embedded defaults (data in ./data,
# HTTP and /metrics on 127.0.0.1:8080). Extra arguments go to waybilld.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/runtime/waybilld "$@"
