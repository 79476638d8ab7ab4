#!/usr/bin/env bash
# WebSocket benchmarks (issue 24), side by side in one run; every server has one
# worker/thread pinned to CPU 0, the measuring client (bench/ws_client.c, C,
# epoll) to CPU 1.
#
# Parts (all by default; name some to run only those):
#   echo      64-byte messages, ECHO_CONNS connections with one message in flight
#             each, ECHO_SECONDS measured, ECHO_RUNS times: server CPU time
#             (utime+stime, /proc/PID/stat) per message for pierhead ws (`/`),
#             pierhead's frame echo (a frame connection in no room), Node `ws`
#             (tests/python/ws_peers/echo_server.js) and Python `websockets`
#             (bench/ws_echo_server.py). No permessage-deflate offered.
#   fanout    a room of N members (FANOUT_SIZES), 64-byte messages published one
#             at a time, FANOUT_ROUNDS rounds: p50/p99 from the publish until the
#             last member has it; pierhead ws, pierhead ws with permessage-deflate
#             agreed, pierhead frame, Node `ws` relaying to every other member of
#             the room (echo_server.js's room path, no deflate).
#   callgrind user-space instructions under callgrind (repeatable on this shared
#             machine): per echoed message (pierhead ws, frame) and per fan-out
#             delivery to CG_MEMBERS members (ws, ws+deflate, frame); each is the
#             difference of two runs (a short and a long one), so start-up, the
#             handshakes and the warm-up cancel out. The top functions of the ws
#             runs go to bench/out/ws-callgrind-*.txt.
#   memory    RSS per idle member: IDLE_MEMBERS members in a room, RSS delta / N,
#             pierhead ws, ws with deflate agreed, frame.
#   loadgen   the load generators (not run by default): `pierhead bench ws://`
#             against a Node `ws` client doing the same work
#             (bench/ws_node_client.js: every echo compared, every latency
#             recorded), both pinned to CPU 1 against `pierhead serve --protocol
#             ws` on CPU 0, a fresh server per run; 64-byte binary messages,
#             closed loop on each of LG_CONNS connection counts, LG_SECONDS per
#             run, LG_ROUNDS rounds alternating the two; then open loop at each
#             of LG_RATES messages/s on LG_RATE_CONNS connections. The
#             generator's CPU is its whole life's user + system
#             (bench/cpu_of.py), start-up included.
#
# Usage: scripts/bench-ws.sh [echo] [fanout] [callgrind] [memory] [loadgen]
# Env: ECHO_CONNS (8), ECHO_SECONDS (5), ECHO_RUNS (3), FANOUT_SIZES ("1000 10000"),
#      FANOUT_ROUNDS (200), CG_MEMBERS (1000), CG_ECHO (20000: messages of the long
#      echo run, under callgrind), IDLE_MEMBERS (10000), LG_CONNS ("50 500"),
#      LG_SECONDS (10), LG_ROUNDS (3), LG_RATES ("20000 50000"), LG_RATE_CONNS (50),
#      CG_ECHO_KINDS ("pierhead-ws pierhead-frame") and CG_FANOUT_KINDS
#      ("pierhead-ws pierhead-wsdeflate pierhead-frame"): the callgrind runs,
#      PIERHEAD_BIN (./target/release/pierhead): another build's server, for a
#      before/after side by side.
# Installs (Debian) node, node-ws, valgrind, zlib1g-dev when missing; Python
# `websockets` goes into a venv in bench/out.
set -euo pipefail
cd "$(dirname "$0")/.."
PARTS=${*:-echo fanout callgrind memory}
ECHO_CONNS=${ECHO_CONNS:-8}
ECHO_SECONDS=${ECHO_SECONDS:-5}
ECHO_RUNS=${ECHO_RUNS:-3}
FANOUT_SIZES=${FANOUT_SIZES:-1000 10000}
FANOUT_ROUNDS=${FANOUT_ROUNDS:-200}
CG_MEMBERS=${CG_MEMBERS:-1000}
IDLE_MEMBERS=${IDLE_MEMBERS:-10000}
LG_CONNS=${LG_CONNS:-50 500}
LG_SECONDS=${LG_SECONDS:-10}
LG_ROUNDS=${LG_ROUNDS:-3}
LG_RATES=${LG_RATES:-20000 50000}
LG_RATE_CONNS=${LG_RATE_CONNS:-50}
OUT=bench/out
mkdir -p "$OUT"
. scripts/bench-lib.sh
install_missing node:nodejs valgrind:valgrind
[ -d /usr/share/nodejs/ws ] || install_missing no-such-command:node-ws
[ -f /usr/include/zlib.h ] || install_missing no-such-command:zlib1g-dev
[ -x "$OUT/venv-ws/bin/python" ] || python3 -m venv "$OUT/venv-ws"
"$OUT/venv-ws/bin/python" -c 'import websockets' 2>/dev/null ||
    "$OUT/venv-ws/bin/python" -m pip install -q websockets
ulimit -n "$(ulimit -Hn)"
cargo build --release -q -p pierhead-cli --bin pierhead
# Another build's server (a baseline, side by side): PIERHEAD_BIN=path.
PIERHEAD_BIN=${PIERHEAD_BIN:-./target/release/pierhead}
gcc -O2 -Wall -Wextra -o "$OUT/ws_client" bench/ws_client.c -lz
client() { taskset -c 1 "$OUT/ws_client" "$@"; }
port=18800
pid=
# A server left running by a failed step is stopped on the way out.
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true' EXIT

# start_server KIND [WRAPPER...]: KIND pierhead-ws | pierhead-frame | node |
# python, on a new port, pinned to CPU 0; sets pid and port. WRAPPER (valgrind)
# runs the pierhead binary.
start_server() {
    local kind=$1
    shift
    port=$((port + 1))
    local ph=(serve --workers 1 --bind "127.0.0.1:$port" --max-connections 20000
        --idle-timeout 600s --stats-interval off)
    local cmd
    case $kind in
        pierhead-ws) cmd=("$@" "$PIERHEAD_BIN" "${ph[@]}" --protocol ws) ;;
        pierhead-frame) cmd=("$@" "$PIERHEAD_BIN" "${ph[@]}" --protocol frame) ;;
        node) cmd=(node tests/python/ws_peers/echo_server.js --port $port --no-deflate) ;;
        python) cmd=("$OUT/venv-ws/bin/python" bench/ws_echo_server.py $port) ;;
    esac
    # taskset execs the server: $! is the server's pid.
    taskset -c 0 "${cmd[@]}" >"$OUT/ws-server-$port.log" 2>&1 &
    pid=$!
    # Under callgrind start-up takes seconds: up to 6 waits of 10 s.
    for _ in 1 2 3 4 5 6; do
        wait_port $port 2>/dev/null && return 0
    done
    echo "server $kind did not start" >&2
    exit 1
}
stop_server() {
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
}
proto_of() { # KIND -> the client's protocol
    case $1 in pierhead-frame) echo frame ;; *) echo ws ;; esac
}
# pick VARIANT: sets kind (the server) and proto (the client's protocol);
# pierhead-wsdeflate is pierhead-ws with permessage-deflate agreed.
pick() {
    kind=${1/-wsdeflate/-ws}
    proto=$(proto_of "$kind")
    [ "$1" != pierhead-wsdeflate ] || proto=wsdeflate
}

if [[ " $PARTS " == *" echo "* ]]; then
    echo "### Echo, 64 B, $ECHO_CONNS connections, one message in flight each, ${ECHO_SECONDS} s per run"
    echo
    echo "| server | run | messages/s | server CPU ns/message |"
    echo "|---|---|---|---|"
    for run in $(seq "$ECHO_RUNS"); do
        for kind in pierhead-ws pierhead-frame node python; do
            start_server $kind
            line=$(client echo "$(proto_of $kind)" 127.0.0.1 $port "$ECHO_CONNS" "$ECHO_SECONDS" $pid)
            read -r msgs secs cpu _ <<<"$line"
            stop_server
            awk -v k=$kind -v r=$run -v m=$msgs -v s=$secs -v c=$cpu \
                'BEGIN { printf "| %s | %d | %.0f | %d |\n", k, r, m / s, c }'
        done
    done
    echo
fi

if [[ " $PARTS " == *" fanout "* ]]; then
    echo "### Fan-out, 64 B, one publish at a time, $FANOUT_ROUNDS rounds"
    echo
    echo "| server | members | p50 ms | p99 ms |"
    echo "|---|---|---|---|"
    for n in $FANOUT_SIZES; do
        for variant in pierhead-ws pierhead-wsdeflate pierhead-frame node; do
            pick $variant
            start_server $kind
            line=$(client fanout $proto 127.0.0.1 $port "$n" "$FANOUT_ROUNDS")
            read -r members p50 p99 _ <<<"$line"
            stop_server
            echo "| $variant | $members | $p50 | $p99 |"
        done
    done
    echo
fi

# callgrind_total KIND OUTFILE CLIENT_ARGS...: runs KIND under callgrind with
# the client; prints `instructions client_output...`.
callgrind_total() {
    local kind=$1 out=$2
    shift 2
    start_server "$kind" valgrind --tool=callgrind --callgrind-out-file="$out"
    local line total
    line=$(client "${@:1:1}" "${@:2:1}" 127.0.0.1 $port "${@:3}")
    stop_server
    total=$(awk '/^summary:|^totals:/ {print $2; exit}' "$out")
    echo "$total $line"
}

if [[ " $PARTS " == *" callgrind "* ]]; then
    echo "### Instructions (callgrind, user space), difference of a short and a long run"
    echo
    echo "| path | server | unit | instructions per unit |"
    echo "|---|---|---|---|"
    for kind in ${CG_ECHO_KINDS-pierhead-ws pierhead-frame}; do
        proto=$(proto_of $kind)
        # Echo: 8 connections, a 1 s warm-up (slow under callgrind), then 2 s and 8 s.
        a=$(callgrind_total $kind "$OUT/ws-cg-echo-$kind-a.out" echo $proto 8 2)
        b=$(callgrind_total $kind "$OUT/ws-cg-echo-$kind-b.out" echo $proto 8 8)
        read -r i1 _ _ _ n1 <<<"$a"
        read -r i2 _ _ _ n2 <<<"$b"
        awk -v k=$kind -v a=$i1 -v b=$i2 -v x=$n1 -v y=$n2 \
            'BEGIN { printf "| echo 64 B | %s | message | %.0f |\n", k, (b - a) / (y - x) }'
    done
    for variant in ${CG_FANOUT_KINDS-pierhead-ws pierhead-wsdeflate pierhead-frame}; do
        pick $variant
        a=$(callgrind_total $kind "$OUT/ws-cg-fanout-$variant-a.out" fanout $proto "$CG_MEMBERS" 20)
        b=$(callgrind_total $kind "$OUT/ws-cg-fanout-$variant-b.out" fanout $proto "$CG_MEMBERS" 220)
        read -r i1 _ _ _ s1 <<<"$a"
        read -r i2 _ _ _ s2 <<<"$b"
        awk -v k=$variant -v a=$i1 -v b=$i2 -v x=$s1 -v y=$s2 -v m="$CG_MEMBERS" \
            'BEGIN { printf "| fan-out to %d | %s | delivery | %.0f |\n", m, k, (b - a) / ((y - x) * m) }'
        callgrind_annotate --inclusive=no "$OUT/ws-cg-fanout-$variant-b.out" 2>/dev/null |
            head -40 >"$OUT/ws-callgrind-fanout-$variant.txt" || true
    done
    callgrind_annotate --inclusive=no "$OUT/ws-cg-echo-pierhead-ws-b.out" 2>/dev/null |
        head -40 >"$OUT/ws-callgrind-echo-pierhead-ws.txt" || true
    callgrind_annotate --inclusive=no "$OUT/ws-cg-echo-pierhead-frame-b.out" 2>/dev/null |
        head -40 >"$OUT/ws-callgrind-echo-pierhead-frame.txt" || true
    echo
fi

if [[ " $PARTS " == *" memory "* ]]; then
    echo "### RSS per idle member, $IDLE_MEMBERS members in one room"
    echo
    echo "| server | RSS before (MiB) | RSS, members idle (MiB) | B/member |"
    echo "|---|---|---|---|"
    for variant in pierhead-ws pierhead-wsdeflate pierhead-frame; do
        pick $variant
        start_server $kind
        line=$(client idle $proto 127.0.0.1 $port "$IDLE_MEMBERS" $pid)
        read -r members before idle <<<"$line"
        stop_server
        awk -v k=$variant -v m=$members -v r0=$before -v r1=$idle \
            'BEGIN { printf "| %s | %.1f | %.1f | %.0f |\n", k, r0 / 1024, r1 / 1024, (r1 - r0) * 1024 / m }'
    done
    echo
fi

# lg_run GEN CONNS [RATE]: one run of generator GEN (pierhead | node) against the
# server at $port, pinned to CPU 1; prints `messages/s generator-CPU-s p50-us
# p99-us send-lag-p99-us` (the lag `-` in closed loop).
lg_run() {
    local gen=$1 n=$2 rate=${3:-} out=$OUT/ws-loadgen-$1.json cmd
    case $gen in
        pierhead)
            cmd=(./target/release/pierhead bench "ws://127.0.0.1:$port/" -c "$n" -t 1
                -d "${LG_SECONDS}s" --body-size 64 -q --json "$out" ${rate:+--rate "$rate"})
            ;;
        node)
            cmd=(node bench/ws_node_client.js "ws://127.0.0.1:$port/" "$n" "$LG_SECONDS"
                --size 64 ${rate:+--rate "$rate"})
            ;;
    esac
    taskset -c 1 python3 bench/cpu_of.py "${cmd[@]}" >"$OUT/ws-loadgen-$gen.out"
    [ "$gen" = pierhead ] || grep '^{' "$OUT/ws-loadgen-$gen.out" >"$out"
    local cpu
    cpu=$(awk '/^cpu_seconds/ {print $2}' "$OUT/ws-loadgen-$gen.out")
    python3 - "$out" "$cpu" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if "latency" in r:  # pierhead bench's schema
    assert r["errors_total"] == 0, r["errors"]
    rate, lat = r["requests_per_s"], r["latency"]
    p50, p99 = lat["p50_us"], lat["p99_us"]
    lag = (r["send_lag"] or {}).get("p99_us", "-")
else:
    assert r["errors"] == 0, r
    rate, p50, p99 = r["messages_per_s"], r["p50_us"], r["p99_us"]
    lag = r["send_lag_p99_us"] if r["send_lag_p99_us"] is not None else "-"
print(f"{rate:.0f} {sys.argv[2]} {p50} {p99} {lag}")
PY
}

# lg_median FILE GEN: the median of each column of GEN's rows in FILE (rows
# `gen msgs/s cpu-s msgs-per-cpu-s p50 p99`).
lg_median() {
    local col vals
    for col in 2 3 4 5 6; do
        vals=$(awk -v g="$2" -v c=$col '$1 == g {print $c}' "$1" | sort -g)
        awk '{v[NR] = $1} END { printf "%s ", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }' <<<"$vals"
    done
}

# lg_table CONNS [RATE]: LG_ROUNDS rounds of both generators, alternating, then
# the medians and the ratio of pierhead's to Node's.
lg_table() {
    local n=$1 rate=${2:-} rows=$OUT/ws-loadgen-rows.txt run gen line
    : >"$rows"
    echo "| generator | round | messages/s | generator CPU s | messages per generator CPU-s | p50 µs | p99 µs | send lag p99 µs | server CPU s |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for run in $(seq "$LG_ROUNDS"); do
        for gen in pierhead node; do
            start_server pierhead-ws
            local s0 s1
            s0=$(cpu_ticks "$pid")
            line=$(lg_run $gen "$n" "$rate")
            s1=$(cpu_ticks "$pid")
            stop_server
            read -r msgs cpu p50 p99 lag <<<"$line"
            awk -v g=$gen -v r=$run -v m="$msgs" -v c="$cpu" -v a="$p50" -v b="$p99" -v l="$lag" \
                -v s=$((s1 - s0)) -v t="$TICK" -v d="$LG_SECONDS" \
                'BEGIN { printf "| %s | %d | %.0f | %.2f | %.0f | %s | %s | %s | %.2f |\n",
                         g, r, m, c, m * d / c, a, b, l, s / t }'
            awk -v g=$gen -v m="$msgs" -v c="$cpu" -v a="$p50" -v b="$p99" -v d="$LG_SECONDS" \
                'BEGIN { printf "%s %.0f %.3f %.0f %s %s\n", g, m, c, m * d / c, a, b }' >>"$rows"
        done
    done
    local p q
    p=$(lg_median "$rows" pierhead)
    q=$(lg_median "$rows" node)
    echo
    echo "Medians of $LG_ROUNDS rounds:"
    echo
    echo "| generator | messages/s | generator CPU s | messages per generator CPU-s | p50 µs | p99 µs |"
    echo "|---|---|---|---|---|---|"
    read -r m c e a b <<<"$p"
    echo "| pierhead bench | $m | $c | $e | $a | $b |"
    read -r m2 c2 e2 a2 b2 <<<"$q"
    echo "| node-ws client | $m2 | $c2 | $e2 | $a2 | $b2 |"
    awk -v m=$m -v c=$c -v e=$e -v m2=$m2 -v c2=$c2 -v e2=$e2 \
        'BEGIN { printf "| pierhead / node | %.2fx | %.2fx | %.2fx | | |\n", m / m2, c / c2, e / e2 }'
    echo
}

if [[ " $PARTS " == *" loadgen "* ]]; then
    for n in $LG_CONNS; do
        echo "### Load generators, echo 64 B, closed loop, $n connections, ${LG_SECONDS} s per run"
        echo
        lg_table "$n"
    done
    for rate in $LG_RATES; do
        echo "### Load generators, echo 64 B, open loop at $rate/s, $LG_RATE_CONNS connections, ${LG_SECONDS} s per run"
        echo
        lg_table "$LG_RATE_CONNS" "$rate"
    done
fi
