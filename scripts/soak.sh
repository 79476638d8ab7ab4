#!/usr/bin/env bash
# Soak (documented in RELIABILITY.md, not run in CI): MINUTES (default 30) of mixed
# load on every protocol against four `pierhead serve` processes (HTTP with routes,
# echo, frame rooms, HTTPS), sampling each server's RSS and descriptor count every
# 10 s. Load: `pierhead bench` open loop on HTTP (pipelined), echo and frame (a
# room with 1 publisher and 31 members), plus a connection-churn loop of curl over
# HTTPS and HTTP. Prints the samples and, per server, the RSS and descriptor range
# after the first minute (flat is the result to look for).
# Usage: scripts/soak.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-30}
. scripts/bench-lib.sh
install_missing curl:curl
cargo build --release -q -p pierhead-cli
bin=./target/release/pierhead
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT
ulimit -n "$(ulimit -Hn)"

"$bin" serve --bind 127.0.0.1:18501 --stats-interval off --route "GET / 200 hello" \
  --route "POST /echo 200 posted" >/dev/null 2>&1 &
http=$!
"$bin" serve --protocol echo --bind 127.0.0.1:18502 --stats-interval off >/dev/null 2>&1 &
echo_pid=$!
"$bin" serve --protocol frame --bind 127.0.0.1:18503 --stats-interval off >/dev/null 2>&1 &
frame=$!
"$bin" serve --bind 127.0.0.1:18504 --stats-interval off --route "GET / 200 secure" \
  --tls-auto "$out/ca.pem" >/dev/null 2>&1 &
tls=$!
for p in 18501 18502 18503 18504; do wait_port "$p"; done

d="${MINUTES}m"
benches=()
"$bin" bench -q http://127.0.0.1:18501/ -c 32 --pipeline 4 --rate 20000 -d "$d" >"$out/http.txt" 2>&1 &
benches+=($!)
"$bin" bench -q --protocol echo 127.0.0.1:18502 -c 32 --body-size 1k --rate 20000 -d "$d" >"$out/echo.txt" 2>&1 &
benches+=($!)
"$bin" bench -q --protocol frame 127.0.0.1:18503 -c 32 --publishers 1 --rate 2000 -d "$d" >"$out/frame.txt" 2>&1 &
benches+=($!)
end=$(( $(date +%s) + MINUTES * 60 ))
( while [ "$(date +%s)" -lt "$end" ]; do
    curl -s --cacert "$out/ca.pem" https://localhost:18504/ >/dev/null || true
    curl -s -X POST --data-binary @/etc/hostname http://127.0.0.1:18501/echo >/dev/null || true
  done ) &

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
echo "| t (s) | http RSS KiB / fds | echo | frame | https |"
echo "|---|---|---|---|---|"
t0=$(date +%s)
: >"$out/samples"
while [ "$(date +%s)" -lt "$end" ]; do
  t=$(( $(date +%s) - t0 ))
  line="| $t"
  for pid in $http $echo_pid $frame $tls; do
    r=$(rss_kib "$pid"); f=$(fds "$pid")
    line="$line | $r / $f"
    echo "$t $pid $r $f" >>"$out/samples"
  done
  echo "$line |"
  sleep 10
done
wait "${benches[@]}" 2>/dev/null || true
echo
for pid in $http $echo_pid $frame $tls; do
  awk -v p="$pid" '$2 == p && $1 >= 60 { if (!n++ || $3 < rmin) rmin = $3; if ($3 > rmax) rmax = $3;
       if (n == 1 || $4 < fmin) fmin = $4; if ($4 > fmax) fmax = $4 }
       END { printf "server %s after the first minute: RSS %d..%d KiB, descriptors %d..%d\n", p, rmin, rmax, fmin, fmax }' "$out/samples"
done
for f in http echo frame; do echo "== bench $f"; tail -12 "$out/$f.txt"; done
