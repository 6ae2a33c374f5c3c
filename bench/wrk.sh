#!/usr/bin/env bash
# Load run: audited GET /v1/subjects/{id} on the real vaultd against a bare Gin handler, same machine, same
# run, same wrk settings. Needs wrk (apt-get install wrk). Everything listens on 127.0.0.1 and stops by itself.
#   bench/wrk.sh                 # 64 connections, 10 s each
#   CONNS=128 DURATION=20s bench/wrk.sh
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3} # go.mod's toolchain (see README)
cd "$(dirname "$0")/.."
CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
SUBJECTS=${SUBJECTS:-1000}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
tmp=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
go build -o "$tmp/vaultd" ./cmd/vaultd
go build -o "$tmp/baregin" ./bench/baregin
"$tmp/vaultd" demo --data-dir "$tmp/data" --subjects "$SUBJECTS" --addr 127.0.0.1:18181 --log-level error --ids-out "$tmp/ids.txt" >"$tmp/demo.out" 2>"$tmp/demo.err" &
"$tmp/baregin" -addr 127.0.0.1:18182 &
for _ in $(seq 1 600); do grep -q "serving on" "$tmp/demo.err" && break; sleep 0.1; done
grep -q "serving on" "$tmp/demo.err" || { cat "$tmp/demo.err" >&2; exit 1; }
export TOKEN IDS
TOKEN=$(sed -n 's/.*CUSTOMER_SERVICE_TOKEN=\([^ ]*\).*/\1/p' "$tmp/demo.out")
IDS=$(paste -sd, "$tmp/ids.txt") # every seeded subject, so reads spread over the shop as real ones would
run() { wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/subjects.lua "$1" > "$tmp/$2.txt"; }
run http://127.0.0.1:18182 bare
run http://127.0.0.1:18181 vault
rps() { awk '/Requests\/sec/ {print $2}' "$tmp/$1.txt"; }
lat() { awk -v p="$2" '$1 == p {print $2}' "$tmp/$1.txt"; }
errs() { awk '/Non-2xx/ {print $5}' "$tmp/$1.txt"; }
printf "wrk -t%s -c%s -d%s, %s subjects, GOMAXPROCS of each server = %s cores\n\n" "$THREADS" "$CONNS" "$DURATION" "$SUBJECTS" "$(nproc)"
printf "%-30s %10s %9s %9s %9s\n" target req/s p50 p99 non-2xx
for t in bare vault; do
	printf "%-30s %10s %9s %9s %9s\n" "$t" "$(rps $t)" "$(lat $t 50%)" "$(lat $t 99%)" "$(errs $t || true)"
done
awk -v b="$(rps bare)" -v v="$(rps vault)" 'BEGIN { printf "\nratio vault/bare = %.1f%%\n", 100 * v / b }'
