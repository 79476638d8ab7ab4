#!/usr/bin/env bash
# Fan-out: one room, N members, 64-byte frames; pierhead (frame protocol, one
# worker) and Redis pub/sub (Debian's redis-server, one thread) side by side in one
# run, each server pinned to CPU 0 and the measuring client
# (cli/examples/fanout_bench.rs, Rust + mio) to CPU 1. For each N: the time from a
# publish until the last member has it (p50/p99 over PUBLISHES publishes),
# deliveries per second with 4 publishers in a closed loop, server RSS before and
# with the N members idle in the room.
# Usage: scripts/bench-fanout.sh [N ...]  (default: 100 1000 10000 19000; the
# largest N is bounded by the 20,000 descriptors a process may have here).
# Env: PUBLISHES (default 200), SECONDS_TP (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${*:-100 1000 10000 19000}
PUBLISHES=${PUBLISHES:-200}
SECONDS_TP=${SECONDS_TP:-3}
. scripts/bench-lib.sh
install_missing redis-server:redis-server
ulimit -n "$(ulimit -Hn)"
cargo build --release -q -p pierhead-cli --bin pierhead --example fanout_bench
client=./target/release/examples/fanout_bench
port=18600

start_server() { # target -> sets pid
    port=$((port + 1))
    if [ "$1" = pierhead ]; then
        taskset -c 0 ./target/release/pierhead serve --protocol frame --workers 1 \
            --bind 127.0.0.1:$port --max-connections 20000 --stats-interval off >/dev/null &
    else
        taskset -c 0 redis-server --port $port --save "" --appendonly no \
            --maxclients 19900 --loglevel warning >/dev/null &
    fi
    pid=$!
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && return
        sleep 0.05
    done
    echo "server $1 did not start" >&2; exit 1
}

echo "| server | members | p50 ms | p99 ms | deliveries/s | RSS before (MiB) | RSS, members idle (MiB) | B/member |"
echo "|---|---|---|---|---|---|---|---|"
for n in $SIZES; do
    for target in pierhead redis; do
        start_server $target
        line=$(FANOUT_SERVER_PID=$pid taskset -c 1 $client $target 127.0.0.1:$port "$n" "$PUBLISHES" 4 50 "$SECONDS_TP")
        kill $pid; wait $pid 2>/dev/null || true
        read -r members p50 p99 dps before idle _cpu <<<"$line"
        awk -v t=$target -v m=$members -v a=$p50 -v b=$p99 -v d=$dps -v r0=$before -v r1=$idle \
            'BEGIN { printf "| %s | %d | %.3f | %.3f | %.0f | %.1f | %.1f | %.0f |\n", t, m, a, b, d, r0/1024, r1/1024, (r1-r0)*1024/m }'
    done
done
