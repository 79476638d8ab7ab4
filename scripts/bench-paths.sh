#!/usr/bin/env bash
# User-space instructions per request (or per delivery) on each of the server's
# hot paths, for a baseline build and this one side by side, counted by callgrind
# (repeatable on this shared, noisy machine; the kernel's share is not counted).
#
# Paths (the server runs under `valgrind --tool=callgrind` with one worker; the
# counts cover the whole run, start-up spread over the requests):
#   fixed16   the fixed answer, 16 pipelined requests per write on 8 connections
#   fixed1    the fixed answer, one request in flight on each of 8 connections
#   route6    6 routes, the last one matching (pipelined 16)
#   route1k   a route with a 1 KiB body (pipelined 16)
#   echo      echo, 512-byte messages, one in flight on each of 8 connections
#   tls       the fixed answer over TLS 1.3, keep-alive, one in flight on 4
#             connections (handshakes spread over the requests)
#   fanout    a frame room of 1,000 members, 205 publishes one at a time (per
#             delivery; the client of scripts/bench-fanout.sh)
#
# Usage: scripts/bench-paths.sh [requests, default 40000]
# Env: BASELINE=<git rev> (default: main; built once into bench/out/paths-baseline),
#      PATHS="fixed16 fixed1 route6 route1k echo tls fanout".
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-40000}
OUT=bench/out
BASELINE=${BASELINE:-main}
PATHS=${PATHS:-fixed16 fixed1 route6 route1k echo tls fanout}
mkdir -p "$OUT"
. scripts/bench-lib.sh
install_missing valgrind:valgrind
cargo build --release -q -p pierhead-cli
cargo build --release -q -p pierhead-cli --example fanout_bench
build_baseline "$(git rev-parse "$BASELINE")" "$OUT/paths-baseline"
head -c 1024 /dev/zero | tr '\0' 'x' >"$OUT/1k.txt"

routes6=()
for p in /a /b /c /d /e; do routes6+=(--route "GET $p 200 no"); done
routes6+=(--route "GET / 200 hello")

# client PATH PORT N: the load of one path.
client() {
    local path=$1 port=$2 n=$3
    if [ "$path" = fanout ]; then
        ./target/release/examples/fanout_bench pierhead "127.0.0.1:$port" 1000 200 1 50 0 >/dev/null
        return
    fi
    python3 - "$path" "$port" "$n" "$OUT/ca-$port.pem" <<'PY'
import socket, ssl, sys
path, port, n, ca = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
get = b"GET / HTTP/1.1\r\nHost: b\r\n\r\n"

def connect():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if path == "tls":
        ctx = ssl.create_default_context(cafile=ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        s = ctx.wrap_socket(s, server_hostname="localhost")
    return s

def answers(c, want, marker=b"HTTP/1.1 200"):
    got, tail = 0, b""
    while got < want:
        data = tail + c.recv(1 << 20)
        if not data:
            raise SystemExit("closed")
        got += data.count(marker)
        tail = data[-(len(marker) - 1):]

if path in ("fixed16", "route6", "route1k"):
    conns, per = [connect() for _ in range(8)], 16
elif path == "tls":
    conns, per = [connect() for _ in range(4)], 1
else:
    conns, per = [connect() for _ in range(8)], 1
rounds = n // (len(conns) * per)
if path == "echo":
    msg = b"e" * 512
    for _ in range(rounds):
        for c in conns:
            c.sendall(msg)
        for c in conns:
            left = len(msg)
            while left:
                left -= len(c.recv(left))
else:
    batch = get * per
    for _ in range(rounds):
        for c in conns:
            c.sendall(batch)
        for c in conns:
            answers(c, per)
PY
}

port=18600
echo "| path | unit | $BASELINE | this build | change |"
echo "|---|---|---|---|---|"
for path in $PATHS; do
    declare -A per=()
    for build in baseline now; do
        bin=./target/release/pierhead
        [ $build = baseline ] && bin=$OUT/paths-baseline/release/pierhead
        args=(serve --workers 1 --bind "127.0.0.1:$port" --stats-interval off)
        case $path in
            echo) args+=(--protocol echo) ;;
            fanout) args+=(--protocol frame) ;;
            route6) args+=("${routes6[@]}") ;;
            route1k) args+=(--route "GET / 200 @$OUT/1k.txt") ;;
            tls) args+=(--tls-auto "$OUT/ca-$port.pem") ;;
        esac
        out="$OUT/callgrind-paths-$path-$build.out"
        valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "${args[@]}" \
            >"$out.log" 2>&1 &
        pid=$!
        # Under callgrind start-up takes seconds (longer beside other work).
        for _ in $(seq 1200); do
            (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
            sleep 0.05
        done
        [ "$path" = tls ] && for _ in $(seq 100); do [ -s "$OUT/ca-$port.pem" ] && break; sleep 0.05; done
        client "$path" "$port" "$N"
        kill -TERM "$pid"
        wait "$pid" 2>/dev/null || true
        total=$(awk '/^summary:|^totals:/ {print $2; exit}' "$out")
        count=$N
        [ "$path" = fanout ] && count=205000
        per[$build]=$(awk -v t="$total" -v n="$count" 'BEGIN { printf "%.0f", t / n }')
        port=$((port + 1))
    done
    unit=request
    [ "$path" = fanout ] && unit=delivery
    awk -v p="$path" -v u="$unit" -v a="${per[baseline]}" -v b="${per[now]}" \
        'BEGIN { printf "| %s | %s | %d | %d | %+.1f%% |\n", p, u, a, b, (b - a) * 100 / a }'
    unset per
done
