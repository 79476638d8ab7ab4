#!/usr/bin/env bash
# Issue 25: which HTTP/2 implementation, measured. The two spike servers of
# spikes/h2 (single-threaded mio loops answering every request `200 text/plain
# hello\n` over h2c with prior knowledge):
#   h2crate   hyperium's h2 polled from the loop, in-memory AsyncRead/AsyncWrite
#   own       our own minimal frame layer over loona-hpack
#   own-httlib the same over httlib-hpack
# beside nginx (`listen PORT http2;`, one worker, h2c) and pierhead's HTTP/1.1
# fixed answer (`pierhead serve --workers 1`, h2load --h1: pipelined when -m 16),
# all driven by h2load with 8 connections and 1 or 16 requests in flight on each.
#
# Parts (all by default; name some to run only those):
#   callgrind  user-space instructions per request under callgrind: a short run
#              (CG_SHORT requests) and a long one (CG_LONG), the difference over
#              the extra requests, so start-up and connection set-up cancel out.
#              Top functions of the long runs: bench/out/h2choice-cg-*.txt.
#   cpu        server CPU time per request without callgrind (all its threads,
#              /proc/PID/task/*/schedstat), CPU_N requests, server pinned to CPU 0,
#              h2load to CPU 1; median of CPU_RUNS runs.
#   memory     RSS per idle connection: IDLE connections each make one request and
#              stay open; (RSS then - RSS before) / IDLE.
#   hpack      the two HPACK decoders alone on three request header blocks
#              (spikes/h2/examples/hpack_decoders.rs), ns per block.
#
# Usage: scripts/bench-h2-choice.sh [callgrind] [cpu] [memory] [hpack]
# Env: CG_SHORT (10000), CG_LONG (50000), CPU_N (200000), CPU_RUNS (3), IDLE (1000),
#      SERVERS ("own own-httlib h2crate nginx pierhead-h1").
# Installs (Debian) nghttp2-client (h2load), nginx, valgrind when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PARTS=${*:-callgrind cpu memory hpack}
CG_SHORT=${CG_SHORT:-10000}
CG_LONG=${CG_LONG:-50000}
CPU_N=${CPU_N:-200000}
CPU_RUNS=${CPU_RUNS:-3}
IDLE=${IDLE:-1000}
SERVERS=${SERVERS:-own own-httlib h2crate nginx pierhead-h1}
OUT=bench/out
mkdir -p "$OUT"
. scripts/bench-lib.sh
install_missing h2load:nghttp2-client valgrind:valgrind
[ -x /usr/sbin/nginx ] || install_missing no-such-command:nginx
ulimit -n "$(ulimit -Hn)"
cargo build --release -q --manifest-path spikes/h2/Cargo.toml
cargo build --release -q -p pierhead-cli --bin pierhead
SPIKE=spikes/h2/target/release

port=19300
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true' EXIT

# start_server KIND [WRAPPER...]: on a new port, pinned to CPU 0; sets pid, port.
start_server() {
    local kind=$1 cmd
    shift
    port=$((port + 1))
    case $kind in
        own | h2crate) cmd=("$@" "$SPIKE/$kind" $port) ;;
        own-httlib) cmd=("$@" "$SPIKE/own" $port httlib) ;;
        pierhead-h1) cmd=("$@" ./target/release/pierhead serve --workers 1 --bind "127.0.0.1:$port"
            --stats-interval off --max-connections 20000 --idle-timeout 600s) ;;
        nginx)
            nginx_conf "$OUT/h2choice-nginx-$port.conf" $port http2
            cmd=("$@" /usr/sbin/nginx -c "$(pwd)/$OUT/h2choice-nginx-$port.conf" -e stderr)
            ;;
    esac
    # taskset execs the server: $! is the server's pid.
    taskset -c 0 "${cmd[@]}" >"$OUT/h2choice-server-$port.log" 2>&1 &
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
    pid=
}

# load KIND N M: h2load on CPU 1, 8 connections, M requests in flight on each;
# fails unless all N succeeded with 2xx.
load() {
    local kind=$1 n=$2 m=$3 h1=() res
    [ "$kind" != pierhead-h1 ] || h1=(--h1)
    res=$(taskset -c 1 h2load "${h1[@]}" -n "$n" -c 8 -m "$m" "http://127.0.0.1:$port/")
    if ! grep -q "$n succeeded, 0 failed" <<<"$res" || ! grep -q "$n 2xx" <<<"$res"; then
        echo "$kind: h2load did not succeed: $res" >&2
        exit 1
    fi
}

# A process's CPU time, all threads, in ns.
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }

echo "# h2load -c 8 -m M, h2c prior knowledge (pierhead-h1: --h1); $(date -u +%F)"
echo

if [[ " $PARTS " == *" callgrind "* ]]; then
    echo "### Instructions per request (callgrind, user space; ($CG_LONG - $CG_SHORT) requests between two runs)"
    echo
    echo "| server | -m 1 | -m 16 |"
    echo "|---|---|---|"
    for kind in $SERVERS; do
        row="| $kind |"
        for m in 1 16; do
            declare -A total=()
            for n in $CG_SHORT $CG_LONG; do
                f="$OUT/h2choice-cg-$kind-m$m-$n.out"
                start_server $kind valgrind --tool=callgrind --callgrind-out-file="$f"
                load $kind "$n" "$m"
                stop_server
                total[$n]=$(awk '/^summary:|^totals:/ {print $2; exit}' "$f")
            done
            row="$row $(awk -v a="${total[$CG_SHORT]}" -v b="${total[$CG_LONG]}" \
                -v n=$((CG_LONG - CG_SHORT)) 'BEGIN { printf "%.0f", (b - a) / n }') |"
            callgrind_annotate --inclusive=no "$OUT/h2choice-cg-$kind-m$m-$CG_LONG.out" 2>/dev/null |
                head -45 >"$OUT/h2choice-cg-$kind-m$m.txt" || true
            unset total
        done
        echo "$row"
    done
    echo
fi

if [[ " $PARTS " == *" cpu "* ]]; then
    echo "### Server CPU per request, µs ($CPU_N requests; median of $CPU_RUNS; runs in brackets)"
    echo
    echo "| server | -m 1 | -m 16 |"
    echo "|---|---|---|"
    for kind in $SERVERS; do
        row="| $kind |"
        for m in 1 16; do
            runs=()
            for _ in $(seq "$CPU_RUNS"); do
                start_server $kind
                # Warm-up (connections, allocator), then the measured run.
                load $kind 2000 "$m"
                c0=$(cpu_ns $pid)
                load $kind "$CPU_N" "$m"
                c1=$(cpu_ns $pid)
                stop_server
                runs+=("$(awk -v a="$c0" -v b="$c1" -v n="$CPU_N" 'BEGIN { printf "%.2f", (b - a) / n / 1000 }')")
            done
            med=$(printf '%s\n' "${runs[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
            row="$row $med (${runs[*]}) |"
        done
        echo "$row"
    done
    echo
fi

if [[ " $PARTS " == *" memory "* ]]; then
    echo "### RSS per idle connection ($IDLE connections, one request each, then idle)"
    echo
    echo "| server | RSS before (KiB) | RSS with the idle connections (KiB) | B/connection |"
    echo "|---|---|---|---|"
    # The client holds the connections open until told (a line on stdin).
    cat >"$OUT/h2choice-idler.py" <<'PY'
import socket, sys
kind, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if kind == "pierhead-h1":
    hello = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    done = b"hello\n"
else:
    # Preface, empty SETTINGS, SETTINGS ACK (for the server's), and GET / on stream 1:
    # HPACK :method GET (2), :scheme http (6), :path / (4), :authority "a" (1, literal).
    block = bytes([0x82, 0x86, 0x84, 0x01, 0x01]) + b"a"
    hello = (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
             + bytes([0, 0, 0, 4, 1, 0, 0, 0, 0])
             + bytes([0, 0, len(block), 1, 5, 0, 0, 0, 1]) + block)
    done = b"hello\n"
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(hello)
    got = b""
    while done not in got:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit(f"{kind}: closed before the answer")
        got += chunk
    conns.append(s)
print("idle", flush=True)
sys.stdin.readline()
PY
    for kind in $SERVERS; do
        start_server $kind
        before=$(rss_kib $pid)
        coproc IDLER { taskset -c 1 python3 "$OUT/h2choice-idler.py" "$kind" $port "$IDLE"; }
        read -r _ <&"${IDLER[0]}"
        sleep 0.5
        idle=$(rss_kib $pid)
        echo done >&"${IDLER[1]}"
        wait "$IDLER_PID" 2>/dev/null || true
        stop_server
        awk -v k=$kind -v a="$before" -v b="$idle" -v n="$IDLE" \
            'BEGIN { printf "| %s | %d | %d | %.0f |\n", k, a, b, (b - a) * 1024 / n }'
    done
    echo
fi

if [[ " $PARTS " == *" hpack "* ]]; then
    echo "### HPACK decoders alone, ns per header block (pinned to CPU 0)"
    echo
    cargo build --release -q --manifest-path spikes/h2/Cargo.toml --example hpack_decoders
    taskset -c 0 "$SPIKE/examples/hpack_decoders"
    echo
fi
