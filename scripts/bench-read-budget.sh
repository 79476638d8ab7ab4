#!/usr/bin/env bash
# Two pierhead builds side by side on the loads whose reads fill the read buffer
# (the ones a per-turn read budget touches): bulk echo, large HTTP uploads, a
# frame publisher flooding a room, and pipelined HTTP. Each server (1 worker) is
# pinned to CPU 0 and `pierhead bench` (of build B) to CPU 1; the builds alternate
# for ROUNDS rounds. Reported: answers (echoes, uploads, deliveries) per second and
# the server's CPU per answer from /proc/PID/stat.
# Then, where CPU time is too noisy to tell a few percent: user-space instructions
# per answer with the server under callgrind (COUNT answers of each load; under
# valgrind the server is the bottleneck, so every read fills the buffer).
# Usage: scripts/bench-read-budget.sh BIN_A BIN_B [SECONDS, default 4]
# Env: ROUNDS (default 3), LOADS (default "echo upload flood pipelined"),
#      COUNT (default 20000; 0 skips callgrind), KEEP=1 (keep the callgrind
#      outputs, cg-LOAD-a.out and cg-LOAD-b.out, for callgrind_annotate).
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 secs=${3:-4} rounds=${ROUNDS:-3}
loads=${LOADS:-echo upload flood pipelined}
port=18900
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

serve() { # bin load -> pid
    local bin=$1
    case $2 in
    echo) set -- --protocol echo ;;
    upload) set -- --protocol http --route "POST /up 200 ok" --max-body-bytes 2m ;;
    flood) set -- --protocol frame --slow-consumer drop_oldest ;;
    pipelined) set -- --protocol http --route "GET / 200 ok" ;;
    esac
    taskset -c 0 ${wrap:-} "$bin" serve --workers 1 --bind 127.0.0.1:$port --stats-interval off "$@" >/dev/null 2>>"${errlog:-/dev/stderr}" &
    pid=$!
}

load() { # load -> prints answers/s
    local common=(-d "${secs}s" --warmup 500ms -q --json -)
    [ -n "${count:-}" ] && common=(-n "$count" --timeout 60s -q --json -)
    case $1 in
    echo) set -- --protocol echo -c 8 --pipeline 4 --body-size 256k "127.0.0.1:$port" ;;
    upload) set -- -m POST -c 8 --body-size 1m "http://127.0.0.1:$port/up" ;;
    flood) set -- --protocol frame -c 3 --publishers 1 --pipeline 64 --body-size 1k "127.0.0.1:$port" ;;
    pipelined) set -- -c 64 --pipeline 16 "http://127.0.0.1:$port/" ;;
    esac
    taskset -c 1 "$b" bench "${common[@]}" "$@" 2>/dev/null |
        python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["requests_per_s"])'
}

echo "| load | build | round | answers/s | server CPU µs/answer |"
echo "|---|---|---|---|---|"
for l in $loads; do
    for round in $(seq "$rounds"); do
        for bin in "$a" "$b"; do
            port=$((port + 1))
            serve "$bin" "$l"
            sleep 0.3
            t0=$(ticks "$pid")
            rps=$(load "$l")
            t1=$(ticks "$pid")
            kill "$pid"
            wait "$pid" 2>/dev/null || true
            awk -v l="$l" -v n="$bin" -v r="$round" -v q="$rps" -v t=$((t1 - t0)) -v hz="$hz" \
                -v s="$secs" 'BEGIN { printf "| %s | %s | %d | %.0f | %.3f |\n", l, n, r, q, t / hz * 1e6 / (q * (s + 0.5)) }'
        done
    done
done

count=${COUNT:-20000}
[ "$count" = 0 ] && exit 0
out=$(mktemp -d)
if [ -n "${KEEP:-}" ]; then echo "callgrind outputs: $out"; else trap 'rm -rf "$out"' EXIT; fi
echo
echo "| load | build | answers | instructions | per answer |"
echo "|---|---|---|---|---|"
for l in $loads; do
    n=$count
    [ "$l" = upload ] && n=$((count / 100)) # 1 MiB each
    [ "$l" = echo ] && n=$((count / 100))   # 256 KiB each
    for side in a b; do
        bin=$a
        [ $side = b ] && bin=$b
        port=$((port + 1))
        cg=$out/cg-$l-$side.out
        wrap="valgrind --tool=callgrind --callgrind-out-file=$cg" errlog=$out/valgrind.log
        count=$n serve "$bin" "$l"
        for _ in $(seq 100); do
            (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
            sleep 0.1
        done
        count=$n load "$l" >/dev/null
        kill -TERM "$pid"
        wait "$pid" 2>/dev/null || true
        total=$(awk '/^summary:|^totals:/ {print $2; exit}' "$cg")
        awk -v l="$l" -v b="$bin" -v n="$n" -v t="$total" \
            'BEGIN { printf "| %s | %s | %d | %.0f | %.0f |\n", l, b, n, t, t / n }'
    done
done
