#!/usr/bin/env bash
# The Redis backplane's figures (BENCHMARKS.md, issue 12), in one run, with the
# measuring client of scripts/bench-fanout.sh (cli/examples/fanout_bench.rs) and
# Debian's redis-server (installed if missing):
#
# 1. What the backplane costs a one-server room: the same pierhead (one worker,
#    pinned to CPU 0) without and with --backplane, and the previous build
#    (BASELINE) for the path that does not use it; the client and Redis on CPU 1.
#    N members, 64-byte frames: p50/p99 from a publish to the last member,
#    deliveries/s with 4 publishers in a closed loop, server CPU per delivery
#    (the backplane's thread included; Redis's CPU not).
# 2. Deliveries through Redis: members on server B, 4 publishers on server A
#    (both one worker, pinned to CPU 0), every delivery crossing Redis (CPU 1);
#    beside it, Redis pub/sub itself serving the same members.
# 3. One room of 50,000 members over 3 servers (2 workers each, 16,666-16,667
#    members each: under the 20,000 descriptors a process may have), one member
#    process per server bound to its own 127.0.0.x source address, one publisher
#    on the first server; nothing pinned (the 2 cores run everything): p50/p99
#    from a publish to the last of the 50,000, RSS summed over the three servers.
# 4. The broker client: the `redis` crate (sync) against the backplane's own RESP
#    on its mio loop (cli/examples/redis_client_bench.rs): PUBLISH throughput and
#    the subscription round trip.
# 5. User-space instructions per delivery (callgrind, repeatable where CPU time is
#    noisy): the server with one worker under valgrind, 1,000 members, 205
#    publishes one at a time; the previous build, this build, and this build with
#    --backplane (its link thread included).
#
# Usage: scripts/bench-backplane.sh [part ...]   (default: 1 2 3 4 5)
# Env: SIZES1 (default "10 1000 10000"), SIZES2 (default "1000 10000"),
#      MEMBERS3 (default 50000), ROUNDS3 (default 100), PUBLISHES (default 200),
#      SECONDS_TP (default 3), BASELINE (git rev of the previous build, default
#      2529141; built into bench/out/backplane-baseline, again when it changes).
set -euo pipefail
cd "$(dirname "$0")/.."
PARTS=${*:-1 2 3 4 5}
SIZES1=${SIZES1:-10 1000 10000}
SIZES2=${SIZES2:-1000 10000}
MEMBERS3=${MEMBERS3:-50000}
ROUNDS3=${ROUNDS3:-100}
PUBLISHES=${PUBLISHES:-200}
SECONDS_TP=${SECONDS_TP:-3}
BASELINE=${BASELINE:-2529141}
. scripts/bench-lib.sh
install_missing redis-server:redis-server
ulimit -n "$(ulimit -Hn)"
cargo build --release -q -p pierhead-cli --bin pierhead --example fanout_bench \
    --example redis_client_bench
bin=./target/release/pierhead
client=./target/release/examples/fanout_bench
OUT=bench/out
base=$OUT/backplane-baseline/release/pierhead
if [[ " $PARTS " == *" 1 "* || " $PARTS " == *" 5 "* ]]; then
    mkdir -p "$OUT"
    build_baseline "$BASELINE" "$OUT/backplane-baseline"
fi

port=18900
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
start_redis() { # cpu -> sets rport, rpid
    port=$((port + 1))
    rport=$port
    taskset -c "$1" redis-server --port "$rport" --save "" --appendonly no --maxclients 19900 \
        --loglevel warning >/dev/null &
    rpid=$!
    pids+=("$rpid")
    wait_port "$rport"
}
start_pierhead() { # cpu binary workers [extra args...] -> sets sport, spid
    local cpu=$1 b=$2 w=$3
    shift 3
    port=$((port + 1))
    sport=$port
    taskset -c "$cpu" "$b" serve --protocol frame --workers "$w" --bind 127.0.0.1:$sport \
        --max-connections 20000 --stats-interval off "$@" >/dev/null &
    spid=$!
    pids+=("$spid")
    wait_port "$sport"
}
stop() { kill "$@" 2>/dev/null || true; wait "$@" 2>/dev/null || true; }
row() { # label line
    read -r members p50 p99 dps _before _idle cpu <<<"$2"
    printf '| %s | %d | %.3f | %.3f | %.0f | %d |\n' "$1" "$members" "$p50" "$p99" "$dps" "$cpu"
}

if [[ " $PARTS " == *" 1 "* ]]; then
    echo "### 1. One-server room: without and with --backplane"
    echo
    echo "| server | members | p50 ms | p99 ms | deliveries/s | server CPU ns/delivery |"
    echo "|---|---|---|---|---|---|"
    for n in $SIZES1; do
        for variant in previous none backplane; do
            start_redis 1
            case $variant in
                previous) start_pierhead 0 "$base" 1 ;;
                none) start_pierhead 0 "$bin" 1 ;;
                backplane) start_pierhead 0 "$bin" 1 --backplane "redis://127.0.0.1:$rport" ;;
            esac
            line=$(FANOUT_SERVER_PID=$spid taskset -c 1 $client pierhead 127.0.0.1:$sport "$n" \
                "$PUBLISHES" 4 50 "$SECONDS_TP")
            stop "$spid" "$rpid"
            label="pierhead, this build"
            [ $variant = previous ] && label="pierhead, previous build ($BASELINE)"
            [ $variant = backplane ] && label="pierhead, this build, --backplane"
            row "$label" "$line"
        done
    done
    echo
fi

if [[ " $PARTS " == *" 2 "* ]]; then
    echo "### 2. Deliveries through Redis"
    echo
    echo "| path | members | p50 ms | p99 ms | deliveries/s | server CPU ns/delivery |"
    echo "|---|---|---|---|---|---|"
    for n in $SIZES2; do
        start_redis 1
        url="redis://127.0.0.1:$rport"
        start_pierhead 0 "$bin" 1 --backplane "$url"
        a=$sport apid=$spid
        start_pierhead 0 "$bin" 1 --backplane "$url"
        b=$sport bpid=$spid
        sleep 0.3
        line=$(FANOUT_SERVER_PID=$apid,$bpid FANOUT_PUBLISH_ADDR=127.0.0.1:$a taskset -c 1 \
            $client pierhead 127.0.0.1:$b "$n" "$PUBLISHES" 4 50 "$SECONDS_TP")
        stop "$apid" "$bpid"
        row "publishers on A, members on B, through Redis" "$line"
        line=$(FANOUT_SERVER_PID=$rpid taskset -c 1 $client redis 127.0.0.1:$rport "$n" \
            "$PUBLISHES" 4 50 "$SECONDS_TP")
        stop "$rpid"
        row "Redis pub/sub alone (members subscribed to Redis)" "$line"
    done
    echo
fi

if [[ " $PARTS " == *" 3 "* ]]; then
    echo "### 3. One room of $MEMBERS3 members over 3 servers"
    echo
    start_redis 0-1
    url="redis://127.0.0.1:$rport"
    spec=() spids=()
    for i in 0 1 2; do
        start_pierhead 0-1 "$bin" 2 --backplane "$url"
        spids+=("$spid")
        count=$(((MEMBERS3 + i) / 3))
        spec+=("127.0.0.1:$sport=$count")
    done
    line=$(FANOUT_SERVER_PID=$(IFS=,; echo "${spids[*]}") $client cluster "$ROUNDS3" "${spec[@]}")
    stop "${spids[@]}" "$rpid"
    read -r members p50 p99 before idle <<<"$line"
    echo "| members | servers | p50 ms | p99 ms | RSS of the 3 servers before (MiB) | RSS with the members idle (MiB) | B/member |"
    echo "|---|---|---|---|---|---|---|"
    awk -v m="$members" -v a="$p50" -v b="$p99" -v r0="$before" -v r1="$idle" \
        'BEGIN { printf "| %d | 3 | %.1f | %.1f | %.1f | %.1f | %.0f |\n", m, a, b, r0/1024, r1/1024, (r1-r0)*1024/m }'
fi

if [[ " $PARTS " == *" 4 "* ]]; then
    echo
    echo "### 4. The broker client: the redis crate against the backplane's own RESP"
    echo
    start_redis 1
    ./target/release/examples/redis_client_bench "$rport"
    stop "$rpid"
fi

if [[ " $PARTS " == *" 5 "* ]]; then
    echo
    echo "### 5. User-space instructions per delivery (callgrind)"
    echo
    echo "| server | deliveries | instructions | per delivery |"
    echo "|---|---|---|---|"
    mkdir -p "$OUT"
    for variant in previous none backplane; do
        start_redis 1
        b=$bin extra=()
        [ $variant = previous ] && b=$base
        [ $variant = backplane ] && extra=(--backplane "redis://127.0.0.1:$rport")
        port=$((port + 1))
        valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind-fanout-$variant.out" \
            "$b" serve --protocol frame --workers 1 --bind 127.0.0.1:$port --stats-interval off \
            "${extra[@]}" >"$OUT/callgrind-fanout-$variant.log" 2>&1 &
        vpid=$!
        pids+=("$vpid")
        wait_port "$port"
        $client pierhead 127.0.0.1:$port 1000 200 1 50 0 >/dev/null
        kill -TERM "$vpid"
        wait "$vpid" 2>/dev/null || true
        stop "$rpid"
        total=$(awk '/^summary:|^totals:/ {print $2; exit}' "$OUT/callgrind-fanout-$variant.out")
        label="this build"
        [ $variant = previous ] && label="previous build ($BASELINE)"
        [ $variant = backplane ] && label="this build, --backplane"
        awk -v v="$label" -v n=205000 -v t="$total" 'BEGIN { printf "| %s | %d | %d | %.0f |\n", v, n, t, t / n }'
    done
fi
