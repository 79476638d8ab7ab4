#!/usr/bin/env bash
# TLS side by side with nginx, in one run (BENCHMARKS.md, issues 14 and 22). Both
# serve the same ECDSA P-256 certificate (made here with openssl) and answer
# `200 hello`, each with session resumption off (nginx: ssl_session_cache off,
# ssl_session_tickets off; pierhead: --tls-no-resumption) and on (nginx's default:
# tickets; pierhead's default: tickets). Each server is pinned to CPU 0 with one
# worker, the client to CPU 1. Server CPU per request or connection = utime+stime
# of the server process over the run / requests (or connections):
#
# - keep-alive: wrk -t1 -c128 over https;
# - a new connection per request: wrk -t1 -c32 -H "Connection: close" over https.
#   wrk keeps each connection's session (SSL_clear), so with tickets on these are
#   resumed handshakes, with resumption off full ones;
# - handshakes one connection at a time with `openssl s_time` (the library wrk
#   uses): -new, a full handshake each time (tickets, when on, are still issued
#   and read), and with resumption on -reuse, every connection resuming the first
#   one's session;
# - plain pierhead keep-alive beside them, for what TLS itself costs;
# - pierhead's user-space instructions per handshake, counted by callgrind
#   (repeatable on a busy machine, unlike CPU time; the kernel's share, e.g. the
#   send of the tickets, is not in it): HANDSHAKES connections one after another
#   from Python's ssl, each a handshake, one request and its answer, full or
#   resuming the previous connection's session;
# - then server RSS per idle keep-alive connection (IDLE connections, one request
#   each): pierhead plain, pierhead TLS, nginx TLS.
#
# Usage: scripts/bench-tls.sh [seconds per run, default 10] [idle connections, default 5000]
#        [handshakes counted by callgrind, default 2000]
# Env: BASELINE=<git rev>: also that build of pierhead, with its defaults (built
# into bench/out/tls-baseline; e.g. a build from before issue 22, which sent no
# tickets and did not acknowledge a handshake's end at once).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
IDLE=${2:-5000}
HANDSHAKES=${3:-2000}
OUT=bench/out/tls
mkdir -p "$OUT"
. scripts/bench-lib.sh
install_missing wrk:wrk nginx:nginx-light openssl:openssl valgrind:valgrind
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
ulimit -n "$(ulimit -Hn)"
cargo build --release -q -p pierhead-cli
bin=./target/release/pierhead
servers=(nginx-tls nginx-tls-tickets pierhead-tls-noresume pierhead-tls)
if [ -n "${BASELINE:-}" ]; then
    build_baseline "$BASELINE" "$PWD/bench/out/tls-baseline"
    servers+=(pierhead-baseline)
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$OUT/key.pem" \
    -out "$OUT/cert.pem" -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
PORT=18940
start_server() { # name -> PID, PORT
    PORT=$((PORT + 1))
    local files=(--tls-cert "$OUT/cert.pem" --tls-key "$OUT/key.pem")
    case $1 in
        nginx-tls*)
            # nginx before 1.23.4 offers TLS 1.2 at most by default: both speak 1.3 here.
            local resumption="ssl_session_cache off; ssl_session_tickets off;"
            [ "$1" = nginx-tls-tickets ] && resumption="" # nginx's default: tickets, no cache
            nginx_conf "$OUT/nginx.conf" $PORT ssl \
                "$resumption ssl_protocols TLSv1.2 TLSv1.3;" \
                "ssl_certificate $PWD/$OUT/cert.pem; ssl_certificate_key $PWD/$OUT/key.pem;"
            taskset -c 0 "$NGINX" -c "$PWD/$OUT/nginx.conf" -p "$PWD/$OUT" >/dev/null 2>&1 &
            ;;
        pierhead-tls)
            taskset -c 0 $bin serve --workers 1 --bind 127.0.0.1:$PORT --stats-interval off \
                --max-connections 100000 "${files[@]}" >/dev/null &
            ;;
        pierhead-tls-noresume)
            taskset -c 0 $bin serve --workers 1 --bind 127.0.0.1:$PORT --stats-interval off \
                --max-connections 100000 "${files[@]}" --tls-no-resumption >/dev/null &
            ;;
        pierhead-baseline)
            taskset -c 0 bench/out/tls-baseline/release/pierhead serve --workers 1 \
                --bind 127.0.0.1:$PORT --stats-interval off --max-connections 100000 \
                "${files[@]}" >/dev/null &
            ;;
        pierhead-plain)
            taskset -c 0 $bin serve --workers 1 --bind 127.0.0.1:$PORT --stats-interval off \
                --max-connections 100000 >/dev/null &
            ;;
    esac
    PID=$!
    wait_port $PORT
}
stop_server() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

run_wrk() { # name mode scheme -> a row
    local name=$1 mode=$2 scheme=$3 args=(-t1 -c128)
    [ "$mode" = "new connection" ] && args=(-t1 -c32 -H "Connection: close")
    local url="$scheme://127.0.0.1:$PORT/"
    taskset -c 1 wrk "${args[@]}" -d1s "$url" >/dev/null # warm-up
    local before after reqs
    before=$(cpu_ticks "$PID")
    taskset -c 1 wrk "${args[@]}" -d"${DUR}s" "$url" >"$OUT/wrk.txt"
    after=$(cpu_ticks "$PID")
    reqs=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
    local errors
    errors=$(awk '/Socket errors|Non-2xx/ {print}' "$OUT/wrk.txt" | tr -s ' ' | tr '\n' ' ')
    awk -v n="$name" -v m="$mode" -v r="$reqs" -v d="$DUR" -v c=$((after - before)) -v t="$TICK" -v e="${errors:-none}" \
        'BEGIN { printf "| %s | %s | %.0f | %.2f | %s |\n", n, m, r / d, (c / t) / r * 1e6, e }'
}

run_s_time() { # name -new|-reuse -> a row
    local name=$1 mode=$2
    taskset -c 1 openssl s_time -connect 127.0.0.1:$PORT -www / "$mode" -time 1 >/dev/null 2>&1 # warm-up
    local before after conns
    before=$(cpu_ticks "$PID")
    taskset -c 1 openssl s_time -connect 127.0.0.1:$PORT -www / "$mode" -time "$DUR" >"$OUT/s_time.txt" 2>&1
    after=$(cpu_ticks "$PID")
    # "N connections in T real seconds, B bytes read per connection"
    conns=$(awk '/real seconds/ {print $1}' "$OUT/s_time.txt")
    awk -v n="$name" -v m="$mode" -v k="$conns" -v d="$DUR" -v c=$((after - before)) -v t="$TICK" \
        'BEGIN { printf "| %s | %s | %.0f | %.1f |\n", n, m, k / d, (c / t) / k * 1e6 }'
}

resumes() { [[ $1 == *tickets || $1 == pierhead-tls ]]; }

echo "### Server CPU per request (wrk, server on CPU 0, wrk on CPU 1, ${DUR}s)"
echo
echo "| server | mode | req/s | server CPU µs/request | wrk errors |"
echo "|---|---|---|---|---|"
negotiated=()
handshakes=()
for name in "${servers[@]}"; do
    start_server $name
    # What an OpenSSL client gets from it (the same for wrk, on the same library).
    negotiated+=("$name: $(openssl s_client -connect 127.0.0.1:$PORT </dev/null 2>/dev/null |
        awk '/^New,/ {sub(/^New, /, ""); v = $0} /Server Temp Key/ {sub(/^Server Temp Key: /, ""); k = $0} END {printf "%s, key exchange %s", v, k}')")
    run_wrk $name keep-alive https
    run_wrk $name "new connection" https
    handshakes+=("$(run_s_time $name -new)")
    if resumes $name; then
        handshakes+=("$(run_s_time $name -reuse)")
    fi
    stop_server
done
start_server pierhead-plain
run_wrk pierhead-plain keep-alive http
stop_server
echo
echo "Negotiated (openssl s_client):"
printf -- '- %s\n' "${negotiated[@]}"
echo
echo "### Server CPU per handshake (openssl s_time, one connection at a time, ${DUR}s)"
echo
echo "| server | s_time | connections/s | server CPU µs/connection |"
echo "|---|---|---|---|"
printf '%s\n' "${handshakes[@]}"
echo
echo "### pierhead's instructions per handshake (callgrind, user space, $HANDSHAKES connections)"
echo
echo "| server | handshakes | instructions per connection |"
echo "|---|---|---|"
for name in "${servers[@]}"; do
    [[ $name == pierhead* ]] || continue
    for kind in full resumed; do
        [ $kind = resumed ] && ! resumes $name && continue
        PORT=$((PORT + 1))
        args=(serve --workers 1 --bind 127.0.0.1:$PORT --stats-interval off
            --tls-cert "$OUT/cert.pem" --tls-key "$OUT/key.pem")
        server=$bin
        [ $name = pierhead-tls-noresume ] && args+=(--tls-no-resumption)
        [ $name = pierhead-baseline ] && server=bench/out/tls-baseline/release/pierhead
        valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind-$name-$kind.out" \
            "$server" "${args[@]}" >"$OUT/callgrind.log" 2>&1 &
        PID=$!
        wait_port $PORT
        python3 - $PORT "$HANDSHAKES" $kind <<'PY'
import socket, ssl, sys
port, n, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
session = None
for _ in range(n):
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                         server_hostname="localhost", session=session) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        while s.recv(4096):
            pass
        assert s.session_reused == (kind == "resumed" and session is not None)
        if kind == "resumed":
            session = s.session
PY
        stop_server
        total=$(awk '/^summary:|^totals:/ {print $2; exit}' "$OUT/callgrind-$name-$kind.out")
        awk -v n="$name" -v k=$kind -v c="$HANDSHAKES" -v t="$total" \
            'BEGIN { printf "| %s | %s | %.0f |\n", n, k, t / c }'
    done
done
echo
echo "### Server RSS per idle keep-alive connection ($IDLE connections, one request each)"
echo
echo "| server | RSS before (KiB) | RSS with the connections idle (KiB) | bytes/connection |"
echo "|---|---|---|---|"
for name in pierhead-plain pierhead-tls nginx-tls; do
    start_server $name
    mode=plain
    [[ $name == *tls ]] && mode=tls
    python3 bench/idle_conns.py 127.0.0.1 $PORT 1 $mode </dev/null >/dev/null
    sleep 0.2
    before=$(rss_kib "$PID")
    exec {hold}> >(taskset -c 1 python3 bench/idle_conns.py 127.0.0.1 $PORT "$IDLE" $mode >"$OUT/idle.txt")
    for _ in $(seq 600); do
        grep -q ready "$OUT/idle.txt" 2>/dev/null && break
        sleep 0.1
    done
    sleep 0.5
    after=$(rss_kib "$PID")
    exec {hold}>&-
    awk -v n="$name" -v a="$before" -v b="$after" -v c="$IDLE" \
        'BEGIN { printf "| %s | %d | %d | %.0f |\n", n, a, b, (b - a) * 1024 / c }'
    sleep 0.5
    stop_server
done
