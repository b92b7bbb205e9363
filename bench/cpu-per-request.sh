#!/usr/bin/env bash
# CPU time the gateway spends per payment (utime+stime from /proc, so other load on the machine
# does not change it), optionally with a CPU profile:
#   bench/cpu-per-request.sh [N]              # N payments after a 2,000-payment warm-up (default 8000)
#   PROFILE=1 bench/cpu-per-request.sh 15000  # also writes a .cpuprofile into bench/results/
#   TARGET=hono|node|bare bench/cpu-per-request.sh  # the same load through the stack's floor instead
#                                              # of paypath: bench/floor/hono-proxy.ts, node-proxy.ts or
#                                              # bare-proxy.ts (node:http both ways, nothing else loaded)
#   TARGET=haproxy bench/cpu-per-request.sh    # or through HAProxy, configured as bench/run.ts does
# Also prints the target's resident memory after the load and its peak (VmHWM).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
N=${1:-8000}
dir=$(mktemp -d)
read -r control processor carrier gateway < <(node -e "
const net=require('net');const ports=[];let n=0;
for(let i=0;i<4;i++){const s=net.createServer().listen(0,'127.0.0.1',()=>{ports.push(s.address().port);s.close();if(++n===4)console.log(ports.join(' '))})}")
cat > "$dir/policy.yaml" <<POLICY
version: 1
paths:
  - { id: kt-fiber, upstream: "http://127.0.3.1:$carrier" }
  - { id: skt-fiber, upstream: "http://127.0.3.2:$carrier" }
routes:
  - id: payments
    match: { method: POST, path: /v1/payments }
    paths: [kt-fiber, skt-fiber]
    idempotency: { header: Idempotency-Key, upstreamHonors: true }
POLICY
node bench/backend.ts "$control" "$processor" "$carrier" > /dev/null & backend=$!
extra=()
if [ "${PROFILE:-}" = 1 ]; then mkdir -p bench/results; extra=(--cpu-prof --cpu-prof-dir=bench/results); fi
until curl -s -o /dev/null "127.0.0.1:$processor/health"; do sleep 0.2; done
case "${TARGET:-paypath}" in
  paypath) LOG_LEVEL=warn node "${extra[@]}" bin/paypath.js serve --policy "$dir/policy.yaml" --port "$gateway" > "$dir/gateway.log" 2>&1 & gw=$! ;;
  # With the compile cache, as bin/paypath.js runs: a cached start skips the type-stripping compiler.
  hono|node|bare) NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-${TMPDIR:-/tmp}/node-compile-cache}" node "${extra[@]}" "bench/floor/$TARGET-proxy.ts" "http://127.0.3.1:$carrier" "$gateway" > "$dir/gateway.log" 2>&1 & gw=$! ;;
  haproxy) # the benchmark's own HAProxy configuration (bench/peers.ts), over the same two carriers
    node --input-type=module -e "
      const { haproxyConfig } = await import('./bench/peers.ts');
      const [dir, port, carrier] = process.argv.slice(1);
      process.stdout.write(haproxyConfig(dir, Number(port), ['kt-fiber', 'skt-fiber'].map((id, i) => ({ id, host: '127.0.3.' + (i + 1), port: Number(carrier) }))));
    " "$dir" "$gateway" "$carrier" > "$dir/haproxy.cfg"
    haproxy -db -f "$dir/haproxy.cfg" > "$dir/gateway.log" 2>&1 & gw=$!
    sleep 1.2 ;; # first health checks pass (rise 2 at inter 500), as bench/run.ts waits
  *) echo "TARGET must be paypath, hono, node, bare or haproxy" >&2; kill "$backend"; exit 2 ;;
esac
until curl -s -o /dev/null "127.0.0.1:$gateway/healthz"; do sleep 0.2; done
load() { autocannon -c 32 -a "$1" -m POST -H content-type=application/json -b '{"amount":4500}' "http://127.0.0.1:$gateway/v1/payments" > /dev/null 2>&1; }
ticks() { awk '{print $14+$15}' "/proc/$gw/stat"; }
load 2000
before=$(ticks); load "$N"; after=$(ticks)
rss() { awk -v f="$1" '$1 == f":" { printf "%.0f MB", $2 / 1024 }' "/proc/$gw/status"; }
echo "${TARGET:-paypath} CPU per payment: $(awk -v t=$((after - before)) -v n="$N" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f ms", t * 1000 / hz / n }') over $N payments; resident $(rss VmRSS) after, peak $(rss VmHWM)"
kill -INT "$gw"; wait "$gw" 2>/dev/null || true
kill "$backend"; wait "$backend" 2>/dev/null || true
rm -rf "$dir"
