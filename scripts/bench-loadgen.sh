#!/usr/bin/env bash
# `pierhead bench` against wrk, side by side in one run (BENCHMARKS.md, issue 13).
# The target is pinned to CPU 0 and the load generator to CPU 1; wrk and pierhead
# bench alternate for ROUNDS rounds. For each run: answers/s, p50 and p99 as the
# tool reports them, and answers per second of the generator's own CPU time
# (user + system, bench/cpu_of.py).
#
# 1. nginx (1 worker, `return 200 "hello\n"`), 1 thread, 128 connections.
# 2. 16 pipelined requests per write against targets that are not the
#    bottleneck: the syscall floor (bench/floor.c) and `pierhead serve`
#    (wrk with bench/pipeline16.lua).
# 3. Open loop: `pierhead bench --rate R` against `pierhead serve`: the rate held.
# 4. A stall: cli/examples/stall_target.rs delays every 100th answer by 100 ms;
#    pierhead bench open loop (--rate 2000) against closed loop, and wrk.
# 5. The generator's own instructions per answer (user space, callgrind), COUNT
#    answers against nginx, plain and pipelined: noise-free where the answers/s
#    of a shared machine are not (with BASELINE, both builds).
#
# With BASELINE=<git rev>, parts 1 and 2 also run `pierhead bench` as of that
# revision (built into bench/out/loadgen-baseline), alternating with this build,
# and print this build's answers/s over the baseline's.
#
# Usage: scripts/bench-loadgen.sh [seconds per run, default 10]
# Env: ROUNDS (default 2), RATES (default "10000 50000"), PARTS (default "1 2 3 4"),
#      BASELINE (a git rev; none by default), COUNT (part 5, default 200000).
# Installs wrk, nginx-light and valgrind from Debian if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
ROUNDS=${ROUNDS:-2}
RATES=${RATES:-10000 50000}
PARTS=${PARTS:-1 2 3 4}
BASELINE=${BASELINE:-}
OUT=bench/out
mkdir -p "$OUT"
. scripts/bench-lib.sh
install_missing wrk:wrk nginx:nginx-light valgrind:valgrind
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
ulimit -n "$(ulimit -Hn)"
cargo build --release -q -p pierhead-cli --bin pierhead --example stall_target
gcc -O2 -o "$OUT/floor" bench/floor.c
bin=./target/release/pierhead
base_bin=""
if [ -n "$BASELINE" ]; then
    build_baseline "$BASELINE" "$OUT/loadgen-baseline"
    base_bin=$OUT/loadgen-baseline/release/pierhead
fi

PORT=18700
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
start_target() { # name -> sets PID, PORT
    PORT=$((PORT + 1))
    case $1 in
        nginx)
            nginx_conf "$OUT/loadgen-nginx.conf" $PORT
            taskset -c 0 "$NGINX" -c "$PWD/$OUT/loadgen-nginx.conf" -p "$PWD/$OUT" >/dev/null 2>&1 &
            ;;
        floor) taskset -c 0 "$OUT/floor" $PORT >/dev/null 2>&1 & ;;
        pierhead)
            taskset -c 0 $bin serve --workers 1 --bind 127.0.0.1:$PORT --stats-interval off \
                --max-connections 100000 >/dev/null 2>&1 &
            ;;
        stall) taskset -c 0 ./target/release/examples/stall_target $PORT 100 100 >/dev/null 2>&1 & ;;
    esac
    PID=$!
    pids+=("$PID")
    wait_port $PORT
}
stop_target() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

# One wrk run: prints "req_per_s mean p50 p99 requests cpu_seconds".
run_wrk() { # url [extra wrk args...]
    local url=$1
    shift
    local out
    out=$(taskset -c 1 python3 bench/cpu_of.py wrk --latency -d"${DUR}s" "$@" "$url")
    awk '
        function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }
        /^ +50%/ { p50 = us($2) } /^ +99%/ { p99 = us($2) } /^ +Latency +[0-9]/ { mean = us($2) }
        /requests in/ { n = $1 } /^Requests\/sec/ { rps = $2 } /^cpu_seconds/ { cpu = $2 }
        END { printf "%.0f %.0f %.0f %.0f %d %.3f\n", rps, mean, p50, p99, n, cpu }' <<<"$out"
}

# One pierhead bench run: the same fields, from its JSON.
run_ph() { # url [extra args...]
    run_ph_of "$bin" "$@"
}
run_ph_of() { # binary url [extra args...]
    local b=$1 url=$2
    shift 2
    local out
    out=$(taskset -c 1 python3 bench/cpu_of.py "$b" bench -q -d"${DUR}s" --json "$OUT/loadgen.json" "$@" "$url" 2>/dev/null)
    local cpu
    cpu=$(awk '/^cpu_seconds/ {print $2}' <<<"$out")
    python3 - "$OUT/loadgen.json" "$cpu" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['requests_per_s']:.0f} {r['latency']['mean_us']:.0f} {r['latency']['p50_us']} {r['latency']['p99_us']} {r['requests']} {sys.argv[2]}")
PY
}

row() { # label target line
    read -r rps mean p50 p99 n cpu <<<"$3"
    awk -v l="$1" -v t="$2" -v r="$rps" -v m="$mean" -v a="$p50" -v b="$p99" -v n="$n" -v c="$cpu" \
        'BEGIN { printf "| %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f |\n", l, t, r, m, a, b, n / c }'
}

header() {
    echo "| generator | target | answers/s | mean µs | p50 µs | p99 µs | answers per generator CPU-second |"
    echo "|---|---|---|---|---|---|---|"
}

# With a baseline: its run beside this build's; the answers/s of both are kept
# (in $OUT/loadgen-ratio.txt) for the ratio printed after the table.
ratio_rows() { # label-suffix target url [extra args...]
    local suffix=$1 target=$2 url=$3
    shift 3
    local now base
    now=$(run_ph "$url" "$@")
    row "pierhead bench $suffix" "$target" "$now"
    [ -n "$base_bin" ] || return 0
    base=$(run_ph_of "$base_bin" "$url" "$@")
    row "pierhead bench $BASELINE (baseline) $suffix" "$target" "$base"
    echo "$target ${now%% *} ${base%% *}" >>"$OUT/loadgen-ratio.txt"
}

ratio() { # prints, per target, this build's answers/s over the baseline's
    [ -n "$base_bin" ] && [ -s "$OUT/loadgen-ratio.txt" ] || return 0
    echo
    awk '{ now[$1] += $2; base[$1] += $3 }
        END { for (t in now) printf "this build / baseline %s, %s: %.3f\n", ENVIRON["BASELINE"], t, now[t] / base[t] }' \
        "$OUT/loadgen-ratio.txt"
    rm -f "$OUT/loadgen-ratio.txt"
}
export BASELINE
rm -f "$OUT/loadgen-ratio.txt"

if [[ " $PARTS " == *" 1 "* ]]; then
    echo "### 1. nginx (1 worker), 1 thread, 128 connections, ${DUR}s"
    echo
    header
    start_target nginx
    for r in $(seq "$ROUNDS"); do
        row "wrk -t1 -c128 (round $r)" nginx "$(run_wrk "http://127.0.0.1:$PORT/" -t1 -c128)"
        ratio_rows "-t1 -c128 (round $r)" nginx "http://127.0.0.1:$PORT/" -t1 -c128
    done
    stop_target
    ratio
    echo
fi

if [[ " $PARTS " == *" 2 "* ]]; then
    echo "### 2. 16 pipelined requests per write, 1 thread, 128 connections, ${DUR}s"
    echo
    header
    for t in floor pierhead; do
        start_target $t
        for r in $(seq "$ROUNDS"); do
            row "wrk -t1 -c128 -s pipeline16.lua (round $r)" "$t" \
                "$(run_wrk "http://127.0.0.1:$PORT/" -t1 -c128 -s bench/pipeline16.lua)"
            ratio_rows "-t1 -c128 --pipeline 16 (round $r)" "$t" \
                "http://127.0.0.1:$PORT/" -t1 -c128 --pipeline 16
        done
        stop_target
    done
    ratio
    echo
fi

if [[ " $PARTS " == *" 3 "* ]]; then
    echo "### 3. Open loop: the rate held (pierhead serve, 64 connections, ${DUR}s)"
    echo
    echo "| --rate | answers/s | off by | p50 µs | p99 µs | send lag p99 µs | errors |"
    echo "|---|---|---|---|---|---|---|"
    start_target pierhead
    for rate in $RATES; do
        taskset -c 1 $bin bench -q -c64 -d"${DUR}s" --rate "$rate" --json "$OUT/loadgen-rate.json" \
            "http://127.0.0.1:$PORT/" >/dev/null 2>&1
        python3 - "$OUT/loadgen-rate.json" "$rate" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); want = float(sys.argv[2])
got = r["requests_per_s"]
print(f"| {want:.0f} | {got:.1f} | {100 * (got - want) / want:+.2f}% | {r['latency']['p50_us']} | "
      f"{r['latency']['p99_us']} | {r['send_lag']['p99_us']} | {r['errors_total']} |")
PY
    done
    stop_target
    echo
fi

if [[ " $PARTS " == *" 4 "* ]]; then
    echo "### 4. A stall every 100th answer (100 ms), 16 connections, ${DUR}s"
    echo
    echo "| generator | loop | answers/s | mean µs | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs |"
    echo "|---|---|---|---|---|---|---|---|---|"
    start_target stall
    url="http://127.0.0.1:$PORT/"
    taskset -c 1 $bin bench -q -c16 -d"${DUR}s" --rate 2000 --json "$OUT/loadgen-stall-open.json" "$url" >/dev/null 2>&1
    taskset -c 1 $bin bench -q -c16 -d"${DUR}s" --json "$OUT/loadgen-stall-closed.json" "$url" >/dev/null 2>&1
    python3 - "$OUT/loadgen-stall-open.json" "$OUT/loadgen-stall-closed.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))
def line(gen, loop, r, l):
    print(f"| {gen} | {loop} | {r['requests_per_s']:.0f} | {l['mean_us']:.0f} | {l['p50_us']} | {l['p90_us']} | {l['p99_us']} | {l['p99_9_us']} | {l['max_us']} |")
line("pierhead bench --rate 2000", "open, from the intended send", o, o["latency"])
line("pierhead bench --rate 2000", "open, uncorrected (from the actual send)", o, o["uncorrected_latency"])
line("pierhead bench", "closed", c, c["latency"])
PY
    out=$(taskset -c 1 wrk --latency -t1 -c16 -d"${DUR}s" "$url")
    awk '
        function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }
        /^ +50%/ { p50 = us($2) } /^ +90%/ { p90 = us($2) } /^ +99%/ { p99 = us($2) }
        /^ +Latency +[0-9]/ { mean = us($2); max = us($4) } /^Requests\/sec/ { rps = $2 }
        END { printf "| wrk -t1 -c16 | closed | %.0f | %.0f | %.0f | %.0f | %.0f | (not reported) | %.0f |\n", rps, mean, p50, p90, p99, max }' <<<"$out"
    stop_target
fi

if [[ " $PARTS " == *" 5 "* ]]; then
    count=${COUNT:-200000}
    echo
    echo "### 5. The generator's instructions per answer (callgrind), nginx, $count answers"
    echo
    echo "| generator | answers | instructions | per answer |"
    echo "|---|---|---|---|"
    start_target nginx
    cg=$(mktemp -d)
    for args in "-c128" "-c128 --pipeline 16"; do
        for b in "$bin" $base_bin; do
            # shellcheck disable=SC2086 # $args is several flags
            taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$cg/out" \
                "$b" bench -q -t1 $args -n "$count" "http://127.0.0.1:$PORT/" >/dev/null 2>"$cg/log"
            total=$(awk '/^summary:|^totals:/ {print $2; exit}' "$cg/out")
            awk -v g="$b bench $args" -v n="$count" -v t="$total" \
                'BEGIN { printf "| %s | %d | %.0f | %.0f |\n", g, n, t, t / n }'
        done
    done
    rm -rf "$cg"
    stop_target
fi
