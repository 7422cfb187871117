#!/usr/bin/env bash
# Builds the Debian package dist/waybill_<version>_amd64.deb: waybilld, the waybill admin
# CLI and carrier-sim (stripped, from the same ./build the tests run on), the packaged
# config in /etc/waybill, the systemd unit, the docs and example profiles. Dependencies
# come from dpkg-shlibdeps. Install it with `apt-get install ./dist/waybill_*.deb`;
# scripts/test-deb.sh installs, checks and purges it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
rm -rf dist/_CPack_Packages
cpack --config build/CPackConfig.cmake -B dist >/dev/null
rm -rf dist/_CPack_Packages
ls -1 dist/waybill_*.deb
