#!/usr/bin/env bash
# User-space instructions per HTTP request, counted by callgrind (repeatable on a
# noisy machine, unlike CPU time; the kernel's share is not included).
#
# For each variant the server runs under `valgrind --tool=callgrind` with one
# worker; a client sends N requests in pipelined batches of 16 on 8 connections
# (after a warm-up batch), then the server gets SIGTERM. Reported: instructions
# per request, counted over the whole run (start-up cost spread over N requests).
#
# Usage: scripts/bench-instructions.sh [requests, default 50000]
# Env: BASELINE=<git rev> (default a831065; the built baseline is kept in
# bench/out/baseline-target and rebuilt when BASELINE changes); VARIANTS="baseline fixed route6
# route1k" (also baseline-route6, baseline-route1k: the routes on the baseline)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50000}
OUT=bench/out
BASELINE=${BASELINE:-a831065}
VARIANTS=${VARIANTS:-baseline fixed route6 route1k}
mkdir -p "$OUT"
cargo build --release -q -p pierhead-cli
head -c 1024 /dev/zero | tr '\0' 'x' >"$OUT/1k.txt"
. scripts/bench-lib.sh
if [[ " $VARIANTS " == *" baseline"* ]]; then
  build_baseline "$BASELINE" "$OUT/baseline-target"
fi

PORT=18400
echo "| variant | requests | instructions | per request |"
echo "|---|---|---|---|"
for v in $VARIANTS; do
  bin=./target/release/pierhead extra=()
  # baseline, baseline-route6, baseline-route1k: the previous build.
  [[ $v == baseline* ]] && bin=$OUT/baseline-target/release/pierhead
  [[ $v == *route6 ]] && extra=(--route "GET / 200 hello")
  [[ $v == *route1k ]] && extra=(--route "GET / 200 @$OUT/1k.txt")
  valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind-$v.out" \
    "$bin" serve --workers 1 --bind 127.0.0.1:$PORT --stats-interval off "${extra[@]}" \
    >"$OUT/callgrind-$v.log" 2>&1 &
  pid=$!
  python3 - "$PORT" "$N" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port)).close(); break
    except OSError:
        time.sleep(0.05)
batch = b"GET / HTTP/1.1\r\nHost: b\r\n\r\n" * 16
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
def run(rounds):
    for _ in range(rounds):
        for c in conns:
            c.sendall(batch)
        for c in conns:
            got, tail = 0, b""
            while got < 16:
                data = tail + c.recv(1 << 20)
                got += data.count(b"HTTP/1.1 200")
                tail = data[-11:]  # shorter than the marker: never counted twice
run(n // (16 * 8))
PY
  kill -TERM $pid; wait $pid || true
  total=$(awk '/^summary:|^totals:/ {print $2; exit}' "$OUT/callgrind-$v.out")
  awk -v v=$v -v n=$N -v t="$total" 'BEGIN { printf "| %s | %d | %d | %.0f |\n", v, n, t, t / n }'
  PORT=$((PORT + 1))
done
