#!/usr/bin/env bash
# Cluster overhead on one machine, measured with wrk over keep-alive connections:
#  1. order creation (fsync on) and order reads: one node vs three nodes, each of the
#     three taking a third of the clients (two thirds of their keys live elsewhere);
#  2. the cost of forwarding one request: reads and creates sent to node1 for keys node1
#     owns vs keys node2 owns, one connection (latency) and many (throughput);
#  3. settling carrier invoices of INVOICE_LINES lines over registered shipments: one node
#     vs three, where the settling node asks every member for the facts of each line.
# Three nodes on two cores measure the overhead of the cluster, not scale-out: every
# node competes for the same cores and disk.
#
#   bash scripts/cluster_bench.sh              # 10 s per run (about 3 minutes)
#   DURATION_S=3 bash scripts/cluster_bench.sh # smoke run
# Environment: WAYBILLD (default build/runtime/waybilld), DURATION_S, CONNECTIONS (32),
# INVOICE_LINES (1000), INVOICES (10 per setup).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${WAYBILLD:-build/runtime/waybilld}
DUR=${DURATION_S:-10}
CONNS=${CONNECTIONS:-32}
LINES=${INVOICE_LINES:-1000}
INVOICES=${INVOICES:-10}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "no $BIN: bash scripts/build.sh first" >&2; exit 1; }
WORK=$(mktemp -d /tmp/waybill-cluster-bench-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

free_ports() { python3 -c 'import socket,sys
s=[socket.socket() for _ in range(int(sys.argv[1]))]
[x.bind(("127.0.0.1",0)) for x in s]; print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"; }
read -r -a P <<<"$(free_ports 7)"   # single HTTP, 3 cluster HTTP, 3 middleman

# One admin key for every node: a forwarded request carries the client's key.
KEY=bench-admin-key
AUTH="Authorization: Bearer $KEY"
printf 'keys:\n  - {partner: bench, key_sha256: %s, scopes: [admin]}\n' "$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)" \
  >"$WORK/keys.yaml"
base_yaml="intake: {watch: false}
settlement: {watch: false}
booking: {carriers_dir: \"\"}
log: {level: warn}"
start() {  # name port [cluster yaml]
  printf '%s\n%s\n' "$base_yaml" "${3:-}" >"$WORK/$1.yaml"
  "$BIN" --config "$WORK/$1.yaml" --listen "127.0.0.1:$2" --data-dir "$WORK/$1" --keys-file "$WORK/keys.yaml" \
    >"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
}
wait_ready() { for _ in $(seq 300); do curl -sf "localhost:$1/readyz" >/dev/null && return 0; sleep 0.1; done; echo "not ready: $1" >&2; exit 1; }
members="cluster:
  members:
    - {id: node1, host: 127.0.0.1, port: ${P[4]}}
    - {id: node2, host: 127.0.0.1, port: ${P[5]}}
    - {id: node3, host: 127.0.0.1, port: ${P[6]}}"
start single "${P[0]}"
for n in 1 2 3; do start "node$n" "${P[$n]}" "$members
  node_id: node$n"; done
for p in "${P[@]:0:4}"; do wait_ready "$p"; done
for _ in $(seq 100); do curl -s -H "$AUTH" "localhost:${P[1]}/v1/cluster" | grep -q '"up":false' || break; sleep 0.1; done

# Order ids by owner, with the same rendezvous hash as cluster_routing.cpp.
python3 - "$WORK" <<'EOF'
import sys
M = (1 << 64) - 1
def fnv(data, h=0xcbf29ce484222325):
    for c in data.encode():
        h = ((h ^ c) * 0x100000001b3) & M
    return h
def mix(x):
    x ^= x >> 30; x = (x * 0xbf58476d1ce4e5b9) & M
    x ^= x >> 27; x = (x * 0x94d049bb133111eb) & M
    return x ^ (x >> 31)
def owner(key):
    return max(("node1", "node2", "node3"), key=lambda m: (mix(fnv(key, fnv("\x1f", fnv(m)))), m))
for prefix, n in (("R", 300), ("C", 20000)):  # orders to read, orders to create
    ids = {"node1": [], "node2": []}
    i = 0
    while min(len(v) for v in ids.values()) < n:
        key = "%s-%d" % (prefix, i); i += 1
        o = owner(key)
        if o in ids and len(ids[o]) < n: ids[o].append(key)
    for o, v in ids.items():
        open("%s/%s-%s.txt" % (sys.argv[1], prefix, o), "w").write("\n".join(v) + "\n")
EOF

cat >"$WORK/create.lua" <<'EOF'
-- POST /v1/orders with an id no other request uses: run name, thread, counter; with
-- a file argument, the ids of the file in turn instead (one thread only).
-- setup() runs in wrk's main state and sets the global `tid` in each thread's state.
local counter, ids = 0, nil
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
function init(args)
  tid = tid or 0
  if args[1] then ids = {} for l in io.lines(args[1]) do ids[#ids + 1] = l end end
end
local body = '","service_level":"ground","ship_to":{"name":"Ada","street":"1 Main St","city":"Springfield",' ..
  '"postal_code":"62701","country":"US"},"lines":[{"sku":"SKU-1","qty":1}]}'
function request()
  counter = counter + 1
  local id
  if ids then id = ids[(counter - 1) % #ids + 1]
  else id = "B" .. args_prefix .. "-" .. tid .. "-" .. counter end
  return wrk.format("POST", "/v1/orders", {["Content-Type"] = "application/json", ["Authorization"] = auth},
                    '{"order_id":"' .. id .. body)
end
EOF
cat >"$WORK/read.lua" <<'EOF'
-- GET /v1/orders/{id} over the ids of a file (the orders exist: created beforehand).
local ids, i = {}, 0
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
function init(args) for l in io.lines(args[1]) do ids[#ids + 1] = l end i = (tid or 0) * 101 end
function request() i = i + 1 return wrk.format("GET", "/v1/orders/" .. ids[i % #ids + 1], {["Authorization"] = auth}) end
EOF

# wrk prints "Requests/sec: N" and, with --latency, the 50% line.
rate() { awk '/Requests\/sec/ {print $2}' "$1"; }
p50() { awk '$1 == "50%" {print $2}' "$1"; }
run() {  # name port conns script [script args...]
  local name=$1 port=$2 c=$3 script=$4; shift 4
  sed "s/args_prefix/\"$name\"/; s/= auth/= \"Bearer $KEY\"/g" "$WORK/$script" >"$WORK/$name.lua"
  wrk -t"$(( c < 2 ? 1 : 2 ))" -c"$c" -d"${DUR}s" --latency -s "$WORK/$name.lua" "http://127.0.0.1:$port" -- "$@" >"$WORK/$name.out" 2>&1
}
preload() {  # port file: creates the orders named in file
  while read -r id; do
    curl -s -o /dev/null -H "$AUTH" -XPOST "localhost:$1/v1/orders" -d "{\"order_id\":\"$id\",\"service_level\":\"ground\",\"ship_to\":{\"name\":\"Ada\",\"street\":\"1 Main St\",\"city\":\"Springfield\",\"postal_code\":\"62701\",\"country\":\"US\"},\"lines\":[{\"sku\":\"SKU-1\",\"qty\":1}]}"
  done <"$2"
}
cp "$WORK/R-node1.txt" "$WORK/read-node1.txt"
cp "$WORK/R-node2.txt" "$WORK/read-node2.txt"
cat "$WORK/read-node1.txt" "$WORK/read-node2.txt" >"$WORK/read-all.txt"
preload "${P[0]}" "$WORK/read-all.txt"
preload "${P[1]}" "$WORK/read-all.txt"

echo "== throughput: 1 node vs 3 nodes (${DUR}s per run, $CONNS connections in all) =="
run single_create "${P[0]}" "$CONNS" create.lua
run single_read "${P[0]}" "$CONNS" read.lua "$WORK/read-all.txt"
per=$(( CONNS / 3 ))
on_each_node() {  # name script [args]: one wrk per node at once (waits for those only, not the servers)
  local jobs=()
  for n in 1 2 3; do run "c${n}_$1" "${P[$n]}" "$per" "${@:2}" & jobs+=($!); done
  for j in "${jobs[@]}"; do wait "$j"; done
}
on_each_node create create.lua
on_each_node read read.lua "$WORK/read-all.txt"
sum() { local t=0; for f in "$@"; do t=$(awk -v a="$t" -v b="$(rate "$f")" 'BEGIN {print a + b}'); done; echo "$t"; }
printf '%-34s %12s %12s\n' "" "1 node" "3 nodes"
printf '%-34s %12.0f %12.0f\n' "order creations/s (fsync)" "$(rate "$WORK/single_create.out")" \
  "$(sum "$WORK"/c{1,2,3}_create.out)"
printf '%-34s %12.0f %12.0f\n' "order reads/s" "$(rate "$WORK/single_read.out")" "$(sum "$WORK"/c{1,2,3}_read.out)"

echo "== forwarding cost: requests to node1 for keys of node1 (local) vs node2 (forwarded) =="
run lat_read_local "${P[1]}" 1 read.lua "$WORK/read-node1.txt"
run lat_read_fwd "${P[1]}" 1 read.lua "$WORK/read-node2.txt"
run tp_read_local "${P[1]}" "$CONNS" read.lua "$WORK/read-node1.txt"
run tp_read_fwd "${P[1]}" "$CONNS" read.lua "$WORK/read-node2.txt"
run lat_create_local "${P[1]}" 1 create.lua "$WORK/C-node1.txt"
run lat_create_fwd "${P[1]}" 1 create.lua "$WORK/C-node2.txt"
printf '%-34s %12s %12s\n' "" "local" "forwarded"
printf '%-34s %12s %12s\n' "read latency p50, 1 connection" "$(p50 "$WORK/lat_read_local.out")" "$(p50 "$WORK/lat_read_fwd.out")"
printf '%-34s %12.0f %12.0f\n' "reads/s, 1 connection" "$(rate "$WORK/lat_read_local.out")" "$(rate "$WORK/lat_read_fwd.out")"
printf '%-34s %12.0f %12.0f\n' "reads/s, $CONNS connections" "$(rate "$WORK/tp_read_local.out")" "$(rate "$WORK/tp_read_fwd.out")"
printf '%-34s %12s %12s\n' "create latency p50, 1 connection" "$(p50 "$WORK/lat_create_local.out")" "$(p50 "$WORK/lat_create_fwd.out")"
echo "== settlement: invoices of $LINES lines over shipments of every node ($INVOICES per setup) =="
python3 - "$KEY" "$LINES" "$INVOICES" "${P[0]}" "${P[1]}" <<'EOF_PY'
import http.client, json, statistics, sys, time
key, lines, invoices, single, node1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def call(c, method, path, body, want):
    c.request(method, path, body, {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    r = c.getresponse(); data = r.read()
    if r.status not in want: sys.exit("%s %s: HTTP %d %s" % (method, path, r.status, data[:300]))
    return data
order = ('","service_level":"ground","ship_to":{"name":"Ada","street":"1 Main St","city":"Springfield",'
         '"postal_code":"62701","country":"US"},"lines":[{"sku":"SKU-1","qty":1}]}')
def measure(port, prefix):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for i in range(lines):  # orders and registered shipments, spread over the owners
        oid = "%s-%d" % (prefix, i)
        call(c, "POST", "/v1/orders", '{"order_id":"' + oid + order, (201,))
        call(c, "POST", "/v1/shipments", json.dumps({"shipment_id": oid + "-1", "order_id": oid, "carrier": "ups",
                                                     "tracking_numbers": ["1Z%s%d" % (prefix, i)]}), (201,))
    took = []
    for k in range(invoices):
        inv = {"carrier": "ups", "invoice_number": "INV-%s-%d" % (prefix, k), "invoice_date": time.strftime("%Y-%m-%d"),
               "currency": "USD", "lines": [{"tracking_number": "1Z%s%d" % (prefix, i), "billed_weight_g": 1500,
                                            "base_minor": 1000} for i in range(lines)]}
        t = time.perf_counter()
        out = json.loads(call(c, "POST", "/v1/invoices", json.dumps(inv), (201,)))
        took.append(time.perf_counter() - t)
        if any(l.get("matched_by") != "tracking_number" for l in out["lines"]): sys.exit("a line found no shipment")
    return took
one, three = measure(single, "S"), measure(node1, "K")
print("%-34s %12s %12s" % ("", "1 node", "3 nodes"))
print("%-34s %12.0f %12.0f" % ("invoice lines settled/s", lines * invoices / sum(one), lines * invoices / sum(three)))
print("%-34s %12.1f %12.1f" % ("ms per %d-line invoice, p50" % lines, 1000 * statistics.median(one),
                               1000 * statistics.median(three)))
print("3 nodes / 1 node, time per invoice: %.2f" % (statistics.median(three) / statistics.median(one)))
EOF_PY

if grep -H "Non-2xx\|Socket errors" "$WORK"/*.out; then echo "warning: the runs above include failed requests" >&2; fi
echo "wrk outputs and node logs: $WORK"
