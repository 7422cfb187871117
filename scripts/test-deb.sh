#!/usr/bin/env bash
# Installs the .deb built by scripts/package.sh on THIS machine (as root), checks it,
# and purges it again:
#   - apt-get install ./dist/waybill_*.deb (dependencies resolved by apt)
#   - files in place, the waybill system user, the enabled unit, --version
#   - waybilld running from the packaged config as the waybill user: by systemd where it
#     runs, else started by hand (containers), on a port that does not clash (18080)
#   - curl /healthz and /readyz, the CLI against it
#   - apt-get install --reinstall (postinst on an existing installation)
#   - apt-get purge; what the package created for the test (data dir, user) removed
# Refuses to touch a machine where waybill is already installed.
#
#   bash scripts/package.sh && bash scripts/test-deb.sh
#   WAYBILL_TEST_DEB_PORT=18081 bash scripts/test-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
port="${WAYBILL_TEST_DEB_PORT:-18080}"

if [ "$(id -u)" -ne 0 ]; then echo "test-deb: run as root (apt-get install)" >&2; exit 1; fi
shopt -s nullglob
debs=(dist/waybill_*.deb)
if [ ${#debs[@]} -ne 1 ]; then echo "test-deb: need exactly one dist/waybill_*.deb (scripts/package.sh)" >&2; exit 1; fi
deb="${debs[0]}"
if dpkg -s waybill >/dev/null 2>&1; then
  echo "test-deb: waybill is installed here already; not touching it" >&2
  exit 1
fi

had_user=0; getent passwd waybill >/dev/null && had_user=1
had_data=0; [ -e /var/lib/waybill ] && had_data=1
systemd_running=0; [ -d /run/systemd/system ] && systemd_running=1
pid=""
log=$(mktemp)

step() { echo "=== test-deb: $*"; }
fail() { echo "test-deb: FAILED: $*" >&2; [ -s "$log" ] && { echo "--- waybilld log:" >&2; cat "$log" >&2; }; exit 1; }
cleanup() {
  set +e
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid"; fi
  if dpkg -s waybill >/dev/null 2>&1; then apt-get purge -y -qq waybill >/dev/null; fi
  [ "$had_data" = 0 ] && rm -rf /var/lib/waybill
  [ "$had_user" = 0 ] && getent passwd waybill >/dev/null && deluser --quiet --system waybill >/dev/null 2>&1
  [ "$had_user" = 0 ] && getent group waybill >/dev/null && delgroup --quiet --system waybill >/dev/null 2>&1
  rm -f "$log"
}
trap cleanup EXIT

wait_http() {  # URL, bound in seconds
  for _ in $(seq 1 "$(( $2 * 10 ))"); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

step "package: $(dpkg-deb --field "$deb" Package Version Architecture | tr '\n' ' ')"
echo "Depends: $(dpkg-deb --field "$deb" Depends)"

step "apt-get install ./$deb"
start=$SECONDS
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >/dev/null
echo "installed in $((SECONDS - start)) s"

step "files, user, unit"
for f in /usr/bin/waybilld /usr/bin/waybill /usr/bin/waybill-rebalance /usr/bin/carrier-sim /etc/waybill/waybilld.yaml \
         /lib/systemd/system/waybilld.service /usr/share/doc/waybill/waybilld.reference.yaml; do
  [ -e "$f" ] || fail "missing $f"
done
[ -d /etc/waybill/carriers ] || fail "missing /etc/waybill/carriers"
dpkg-query -W -f='${Conffiles}\n' waybill | grep -q /etc/waybill/waybilld.yaml || fail "waybilld.yaml is not a conffile"
getent passwd waybill >/dev/null || fail "no waybill user"
[ "$(stat -c %U /var/lib/waybill)" = waybill ] || fail "/var/lib/waybill is not owned by waybill"
[ -L /etc/systemd/system/multi-user.target.wants/waybilld.service ] || fail "waybilld.service is not enabled"
grep -q '^ExecStart=/usr/bin/waybilld --config /etc/waybill/waybilld.yaml$' /lib/systemd/system/waybilld.service ||
  fail "unexpected ExecStart"
/usr/bin/waybilld --version
/usr/bin/waybill-rebalance --version
/usr/bin/carrier-sim --version
/usr/bin/waybill --version
/usr/bin/waybilld --version | grep -q "^waybilld $(dpkg-deb --field "$deb" Version) " || fail "--version does not match the package"

if [ "$systemd_running" = 1 ]; then
  step "systemd runs: the service was started by the package"
  wait_http "http://127.0.0.1:8080/readyz" 30 || { journalctl -u waybilld --no-pager | tail -50; fail "service not ready"; }
  systemctl is-active --quiet waybilld || fail "waybilld.service is not active"
  systemctl stop waybilld
fi

step "waybilld --config /etc/waybill/waybilld.yaml as the waybill user on 127.0.0.1:$port"
# No systemd (a container) or the unit already checked: the packaged binary and config,
# as the service user, on a port that does not clash with anything running here.
cd /var/lib/waybill
# setpriv execs waybilld itself (runuser would stay as its parent), so $! is waybilld.
setpriv --reuid=waybill --regid=waybill --init-groups \
  /usr/bin/waybilld --config /etc/waybill/waybilld.yaml --listen "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
cd - >/dev/null
wait_http "http://127.0.0.1:$port/readyz" 30 || fail "waybilld not ready on port $port"
curl -fsS "http://127.0.0.1:$port/healthz"; echo
curl -fsS "http://127.0.0.1:$port/readyz"; echo
[ "$(stat -c %U /var/lib/waybill/CURRENT)" = waybill ] || fail "RocksDB is not in /var/lib/waybill"

step "the CLI against it"
export WAYBILL_URL="http://127.0.0.1:$port"
# A server that enforces API keys generates its admin key into the data directory.
auth=()
if [ -s /var/lib/waybill/admin.key ]; then
  WAYBILL_API_KEY=$(head -n1 /var/lib/waybill/admin.key); export WAYBILL_API_KEY
  auth=(-H "Authorization: Bearer $WAYBILL_API_KEY")
fi
curl -fsS "${auth[@]}" -XPOST "$WAYBILL_URL/v1/orders" -H 'Content-Type: application/json' -d '{"order_id":"DEB-1","service_level":"ground",
  "ship_to":{"name":"Ada","street":"1 Main St","city":"Springfield","postal_code":"62701","country":"US"},
  "lines":[{"sku":"SKU-1","qty":1}]}' >/dev/null
waybill orders get DEB-1
waybill carriers health
rc=0; waybill orders get NO-SUCH-ORDER 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "unknown order: exit $rc, expected 2"

step "stop (SIGTERM drains)"
kill -TERM "$pid"
wait "$pid" || fail "waybilld exited with $?"
pid=""

step "apt-get install --reinstall (the upgrade path of the maintainer scripts)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "./$deb" >/dev/null
[ "$(stat -c '%U:%G %a' /etc/waybill/waybilld.yaml)" = "root:waybill 640" ] || fail "config ownership after reinstall"
[ -e /var/lib/waybill/CURRENT ] || fail "reinstall lost the data"

step "apt-get purge waybill"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq waybill >/dev/null
for f in /usr/bin/waybilld /usr/bin/waybill /etc/waybill /lib/systemd/system/waybilld.service; do
  [ ! -e "$f" ] || fail "$f left after purge"
done
[ -d /var/lib/waybill ] || fail "purge removed the data (it must keep it)"
step "passed"
