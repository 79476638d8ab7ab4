#!/usr/bin/env bash
# Side-by-side HTTP benchmark on loopback, in one run: the syscall floor
# (bench/floor.c), nginx (1 worker, `return 200 "hello\n"`), the previous pierhead
# build (git rev $BASELINE, built into bench/out), this build with its fixed
# response, and this build serving a static route with a 1 KiB body.
#
# Each server is pinned to CPU 0 and wrk to CPU 1. For each server: req/s and the
# server's CPU time per request (utime+stime from /proc/PID/stat over the run), plain
# (wrk -t1 -c128) and with 16 pipelined requests per write. Then the server's RSS per
# idle keep-alive connection with N idle connections (pierhead and nginx).
#
# Usage: scripts/bench-http.sh [seconds per run, default 10] [idle connections, default 10000]
# Env: BASELINE=<git rev> to compare against (default: the issue-2 engine, a831065);
#      SERVERS="floor nginx baseline pierhead route6 route1k" to pick rows
#      (route6: a static route with the fixed response's 6-byte body).
# Installs wrk and nginx-light from Debian if missing (needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
IDLE=${2:-10000}
OUT=bench/out
mkdir -p "$OUT"

. scripts/bench-lib.sh
install_missing wrk:wrk nginx:nginx-light
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
ulimit -n "$(ulimit -Hn)"

BASELINE=${BASELINE:-a831065}
SERVERS=${SERVERS:-floor nginx baseline pierhead route1k}
cargo build --release -q -p pierhead-cli
gcc -O2 -o "$OUT/floor" bench/floor.c
head -c 1024 /dev/zero | tr '\0' 'x' >"$OUT/1k.txt"
if [[ " $SERVERS " == *" baseline "* ]]; then
  build_baseline "$BASELINE" "$OUT/baseline-target"
fi

PORT=18090
start_server() { # name -> sets PID
  case $1 in
    pierhead|baseline|route6|route1k)
              local bin=./target/release/pierhead extra=()
              [ "$1" = baseline ] && bin=$OUT/baseline-target/release/pierhead
              [ "$1" = route6 ] && extra=(--route "GET / 200 hello")   # body "hello\n", as the fixed one
              [ "$1" = route1k ] && extra=(--route "GET / 200 @$OUT/1k.txt")
              taskset -c 0 "$bin" serve --protocol http --workers 1 "${extra[@]}" \
                --bind 127.0.0.1:$PORT --stats-interval off --max-connections 100000 >"$OUT/$1.log" 2>&1 &
              PID=$! ;;
    nginx)    nginx_conf "$OUT/nginx.conf" $PORT
              taskset -c 0 "$NGINX" -c "$PWD/$OUT/nginx.conf" -p "$PWD/$OUT" &
              PID=$! ;;
    floor)    taskset -c 0 "$OUT/floor" $PORT & PID=$! ;;
  esac
  wait_port $PORT
}
stop_server() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PORT=$((PORT + 1)); }

run_wrk() { # name mode -> prints a result row
  local name=$1 mode=$2 args=() before after reqs
  [ "$mode" = pipelined ] && args=(-s bench/pipeline16.lua)
  taskset -c 1 wrk -t1 -c128 -d1s "${args[@]}" "http://127.0.0.1:$PORT/" >/dev/null # warm-up
  before=$(cpu_ticks "$PID")
  taskset -c 1 wrk -t1 -c128 -d"${DUR}s" "${args[@]}" "http://127.0.0.1:$PORT/" >"$OUT/wrk-$name-$mode.txt"
  after=$(cpu_ticks "$PID")
  reqs=$(awk '/requests in/ {print $1}' "$OUT/wrk-$name-$mode.txt")
  awk -v n="$name" -v m="$mode" -v r="$reqs" -v d="$DUR" -v c=$((after - before)) -v t="$TICK" \
    'BEGIN { printf "| %-8s | %-9s | %10.0f | %8.2f |\n", n, m, r / d, (c / t) / r * 1e6 }' | tee -a "$OUT/rows.txt"
}

echo "## Throughput and server CPU per request (wrk -t1 -c128 -d${DUR}s; server on CPU 0, wrk on CPU 1)"
echo
echo "| server   | mode      |      req/s | CPU µs/req |"
echo "|----------|-----------|------------|------------|"
: >"$OUT/rows.txt"
for name in $SERVERS; do
  start_server $name
  run_wrk $name plain
  run_wrk $name pipelined
  stop_server
done
echo
echo "Ratios of CPU per request (same run):"
awk -F'|' '{ gsub(/ /, "", $2); gsub(/ /, "", $3); cpu[$2 "/" $3] = $5 }
  END {
    for (m in modes) {}
    split("plain pipelined", ms, " ")
    for (i = 1; i <= 2; i++) { m = ms[i]
      if (cpu["pierhead/" m] && cpu["floor/" m]) printf "  %s: pierhead / floor = %.2f\n", m, cpu["pierhead/" m] / cpu["floor/" m]
      if (cpu["pierhead/" m] && cpu["baseline/" m]) printf "  %s: pierhead / previous build = %.2f\n", m, cpu["pierhead/" m] / cpu["baseline/" m]
      if (cpu["route6/" m] && cpu["pierhead/" m]) printf "  %s: static route, same 6-byte body / fixed response = %.2f\n", m, cpu["route6/" m] / cpu["pierhead/" m]
      if (cpu["route1k/" m] && cpu["pierhead/" m]) printf "  %s: 1 KiB static route / fixed response = %.2f\n", m, cpu["route1k/" m] / cpu["pierhead/" m]
      if (cpu["pierhead/" m] && cpu["nginx/" m]) printf "  %s: pierhead / nginx = %.2f\n", m, cpu["pierhead/" m] / cpu["nginx/" m]
    }
  }' "$OUT/rows.txt"
[[ " $SERVERS " == *" pierhead "* && " $SERVERS " == *" nginx "* ]] || exit 0

echo
echo "## Server RSS per idle keep-alive connection ($IDLE connections, one request each)"
echo
echo "| server   | RSS before (KiB) | RSS after (KiB) | bytes/connection |"
echo "|----------|------------------|-----------------|------------------|"
for name in nginx pierhead; do
  start_server $name
  # One request first so that lazily allocated per-worker state is in the baseline.
  python3 bench/idle_conns.py 127.0.0.1 $PORT 1 </dev/null >/dev/null
  sleep 0.2
  before=$(rss_kib "$PID")
  exec {hold}> >(taskset -c 1 python3 bench/idle_conns.py 127.0.0.1 $PORT "$IDLE" >"$OUT/idle-$name.txt")
  for _ in $(seq 600); do grep -q ready "$OUT/idle-$name.txt" 2>/dev/null && break; sleep 0.1; done
  grep -q ready "$OUT/idle-$name.txt" || { echo "idle client failed" >&2; exit 1; }
  sleep 0.5
  after=$(rss_kib "$PID")
  exec {hold}>&-
  awk -v n="$name" -v b="$before" -v a="$after" -v k="$IDLE" \
    'BEGIN { printf "| %-8s | %16d | %15d | %16.0f |\n", n, b, a, (a - b) * 1024 / k }'
  sleep 0.5
  stop_server
done
