#!/usr/bin/env bash
# TLS side by side with nginx, in one run (BENCHMARKS.md, issue 14). Both serve
# the same ECDSA P-256 certificate (made here with openssl) with session
# resumption off (nginx: ssl_session_cache off, ssl_session_tickets off; pierhead
# never resumes) and answer `200 hello`. Each server is pinned to CPU 0 with one
# worker and wrk to CPU 1. Server CPU per request = utime+stime of the server
# process over the run / requests:
#
# - keep-alive: wrk -t1 -c128 over https;
# - a new handshake per request: wrk -t1 -c32 -H "Connection: close" over https;
# - plain pierhead keep-alive beside them, for what TLS itself costs;
# - then server RSS per idle keep-alive connection (IDLE connections, one request
#   each): pierhead plain, pierhead TLS, nginx TLS.
#
# Usage: scripts/bench-tls.sh [seconds per run, default 10] [idle connections, default 5000]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
IDLE=${2:-5000}
OUT=bench/out/tls
mkdir -p "$OUT"
. scripts/bench-lib.sh
install_missing wrk:wrk nginx:nginx-light openssl:openssl
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
ulimit -n "$(ulimit -Hn)"
cargo build --release -q -p pierhead-cli
bin=./target/release/pierhead
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$OUT/key.pem" \
    -out "$OUT/cert.pem" -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
PORT=18940
start_server() { # name -> PID, PORT
    PORT=$((PORT + 1))
    case $1 in
        nginx-tls)
            # nginx before 1.23.4 offers TLS 1.2 at most by default: both speak 1.3 here.
            nginx_conf "$OUT/nginx.conf" $PORT ssl \
                "ssl_session_cache off; ssl_session_tickets off; ssl_protocols TLSv1.2 TLSv1.3;" \
                "ssl_certificate $PWD/$OUT/cert.pem; ssl_certificate_key $PWD/$OUT/key.pem;"
            taskset -c 0 "$NGINX" -c "$PWD/$OUT/nginx.conf" -p "$PWD/$OUT" >/dev/null 2>&1 &
            ;;
        pierhead-tls)
            taskset -c 0 $bin serve --workers 1 --bind 127.0.0.1:$PORT --stats-interval off \
                --max-connections 100000 --tls-cert "$OUT/cert.pem" --tls-key "$OUT/key.pem" >/dev/null &
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
    [ "$mode" = "new handshake" ] && args=(-t1 -c32 -H "Connection: close")
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

echo "### Server CPU per request (wrk, server on CPU 0, wrk on CPU 1, ${DUR}s)"
echo
echo "| server | mode | req/s | server CPU µs/request | wrk errors |"
echo "|---|---|---|---|---|"
negotiated=()
for name in nginx-tls pierhead-tls; do
    start_server $name
    # What an OpenSSL client gets from it (the same for wrk, on the same library).
    negotiated+=("$name: $(openssl s_client -connect 127.0.0.1:$PORT </dev/null 2>/dev/null |
        awk '/^New,/ {sub(/^New, /, ""); v = $0} /Server Temp Key/ {sub(/^Server Temp Key: /, ""); k = $0} END {printf "%s, key exchange %s", v, k}')")
    run_wrk $name keep-alive https
    run_wrk $name "new handshake" https
    stop_server
done
start_server pierhead-plain
run_wrk pierhead-plain keep-alive http
stop_server
echo
echo "Negotiated (openssl s_client):"
printf -- '- %s\n' "${negotiated[@]}"
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
