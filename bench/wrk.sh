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
vault_pid=$!
"$tmp/baregin" -addr 127.0.0.1:18182 &
bare_pid=$!
for _ in $(seq 1 600); do grep -q "serving on" "$tmp/demo.err" && break; sleep 0.1; done
grep -q "serving on" "$tmp/demo.err" || { cat "$tmp/demo.err" >&2; exit 1; }
export TOKEN IDS
TOKEN=$(sed -n 's/.*CUSTOMER_SERVICE_TOKEN=\([^ ]*\).*/\1/p' "$tmp/demo.out")
IDS=$(paste -sd, "$tmp/ids.txt") # every seeded subject, so reads spread over the shop as real ones would
# cpu PID: the process's user+system CPU so far, in clock ticks (/proc/PID/stat fields 14 and 15).
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# run URL NAME PID: the load, and the server's CPU per request (robust to other work on the machine).
run() {
	local before after
	before=$(cpu "$3")
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/subjects.lua "$1" > "$tmp/$2.txt"
	after=$(cpu "$3")
	echo $((after - before)) > "$tmp/$2.cpu"
}
run http://127.0.0.1:18182 bare "$bare_pid"
# The review index's lag behind the log, sampled every second while the vault is loaded.
(while sleep 1; do curl -s http://127.0.0.1:18181/metrics | awk '/^vault_audit_index_lag_entries/ {print $2}'; done) > "$tmp/lag.txt" &
lag_pid=$!
run http://127.0.0.1:18181 vault "$vault_pid"
kill "$lag_pid" 2>/dev/null || true
# The vault's memory after the load: resident now, and the peak since it started (seeding the demo included).
rss() { awk -v k="$2:" '$1 == k {printf "%.0f MB", $2 / 1024}' "/proc/$1/status"; }
vault_rss=$(rss "$vault_pid" VmRSS) vault_hwm=$(rss "$vault_pid" VmHWM)
rps() { awk '/Requests\/sec/ {print $2}' "$tmp/$1.txt"; }
lat() { awk -v p="$2" '$1 == p {print $2}' "$tmp/$1.txt"; }
errs() { awk '/Non-2xx/ {print $5}' "$tmp/$1.txt"; }
reqs() { awk '/requests in/ {print $1}' "$tmp/$1.txt"; }
# server CPU µs per request
cpureq() { awk -v t="$(cat "$tmp/$1.cpu")" -v n="$(reqs "$1")" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }'; }
printf "wrk -t%s -c%s -d%s, %s subjects, GOMAXPROCS of each server = %s cores\n\n" "$THREADS" "$CONNS" "$DURATION" "$SUBJECTS" "$(nproc)"
printf "%-30s %10s %9s %9s %9s %14s\n" target req/s p50 p99 non-2xx "server cpu-µs/req"
for t in bare vault; do
	printf "%-30s %10s %9s %9s %9s %14s\n" "$t" "$(rps $t)" "$(lat $t 50%)" "$(lat $t 99%)" "$(errs $t || true)" "$(cpureq $t)"
done
awk -v b="$(rps bare)" -v v="$(rps vault)" 'BEGIN { printf "\nratio vault/bare = %.1f%%\n", 100 * v / b }'
sort -g "$tmp/lag.txt" | awk '{v[NR] = $1} END { if (NR) printf "review index lag under load: median %d, max %d entries (%d samples)\n", v[int((NR + 1) / 2)], v[NR], NR }'
echo "vault RSS after the load: $vault_rss (peak $vault_hwm, seeding included)"
