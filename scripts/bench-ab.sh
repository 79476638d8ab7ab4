#!/usr/bin/env bash
# Two pierhead builds side by side on a static route, pipelined: the server pinned
# to CPU 0, `wrk -t1 -c64 -s bench/pipeline16.lua` pinned to CPU 1, the builds
# alternating for ROUNDS rounds; server CPU per request from /proc/PID/stat.
# Usage: scripts/bench-ab.sh BIN_A BIN_B [BODY_BYTES, default 1024] [SECONDS, default 4]
# Env: ROUNDS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 size=${3:-1024} secs=${4:-4} rounds=${ROUNDS:-2}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
body=$(mktemp)
trap 'rm -f "$body"' EXIT
head -c "$size" /dev/zero | tr '\0' 'x' >"$body"
port=18800
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
echo "| build | round | req/s | server CPU µs/request |"
echo "|---|---|---|---|"
for round in $(seq "$rounds"); do
    for bin in "$a" "$b"; do
        port=$((port + 1))
        taskset -c 0 "$bin" serve --workers 1 --bind 127.0.0.1:$port --stats-interval off \
            --route "GET / 200 @$body" >/dev/null &
        pid=$!
        sleep 0.3
        t0=$(ticks $pid)
        rps=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" -s bench/pipeline16.lua "http://127.0.0.1:$port/" |
            awk '/Requests\/sec/ {print $2}')
        t1=$(ticks $pid)
        kill $pid
        wait $pid 2>/dev/null || true
        hz=$(getconf CLK_TCK)
        awk -v n="$bin" -v r="$round" -v q="$rps" -v t=$((t1 - t0)) -v hz="$hz" -v s="$secs" \
            'BEGIN { printf "| %s | %d | %.0f | %.3f |\n", n, r, q, t / hz * 1e6 / (q * s) }'
    done
done
