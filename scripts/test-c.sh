#!/usr/bin/env bash
# The C side: builds libpierhead (scripts/build-c.sh), checks the header compiles
# as C++, then compiles tests/c/test_pierhead.c and examples/c/*.c with
# -Wall -Wextra -Wpedantic -Werror against the committed header and runs the tests:
# linked dynamically under AddressSanitizer + UBSan, statically under the same,
# and once under valgrind (--error-exitcode=1 --leak-check=full); tests/c/test_tls.c
# (an OpenSSL client of a TLS server) and tests/c/test_ws_routes.c (a raw RFC 6455
# client of WebSocket routes) under ASan + UBSan. Starts a
# redis-server on a free loopback port for the backplane test, and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(scripts/build-c.sh | tail -1)
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
out=target/c/bin
mkdir -p "$out"
CFLAGS=(-std=c11 -Wall -Wextra -Wpedantic -Werror -g)
SAN=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
cflags=$(pkg-config --cflags pierhead)

# The backplane test needs a Redis: one on a free loopback port for this run.
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --loglevel warning >/dev/null &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null || true' EXIT
for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break
    sleep 0.05
done
export PIERHEAD_TEST_REDIS_PORT=$redis_port
libs=$(pkg-config --libs pierhead)

echo "== header compiles as C++"
# Enum constants go to the int32_t parameters as they are, in C++ too.
echo '#include "pierhead.h"
int main() {
    pierhead_config *cfg = nullptr;
    if (pierhead_config_new(&cfg) != PIERHEAD_RESULT_OK) return 1;
    pierhead_result r = pierhead_config_set_protocol(cfg, PIERHEAD_PROTOCOL_FRAME);
    pierhead_result bad = pierhead_config_set_protocol(cfg, 99);
    pierhead_config_free(cfg);
    return pierhead_version() == PIERHEAD_VERSION_NUMBER && r == PIERHEAD_RESULT_OK &&
        bad == PIERHEAD_RESULT_INVALID_PARAMETER ? 0 : 1;
}' >"$out/cxx.cpp"
g++ -std=c++17 -Wall -Wextra -Wpedantic -Werror $cflags "$out/cxx.cpp" $libs -o "$out/cxx"
LD_LIBRARY_PATH=$prefix/lib "$out/cxx"

echo "== examples compile"
for ex in examples/c/*.c; do
    extra=()
    [ "$(basename "$ex")" = https.c ] && extra=(-lssl -lcrypto)
    gcc "${CFLAGS[@]}" $cflags "$ex" $libs "${extra[@]}" -o "$out/$(basename "$ex" .c)"
done

echo "== tests: dynamic, ASan + UBSan"
gcc "${CFLAGS[@]}" "${SAN[@]}" $cflags tests/c/test_pierhead.c $libs -o "$out/test_dynamic"
# Leaks are checked by valgrind below (LeakSanitizer cannot see through the
# detached-thread teardown of the Rust runtime reliably).
ASAN_OPTIONS=detect_leaks=0 LD_LIBRARY_PATH=$prefix/lib "$out/test_dynamic"

echo "== tests: static, ASan + UBSan"
gcc "${CFLAGS[@]}" "${SAN[@]}" $cflags tests/c/test_pierhead.c "$prefix/lib/libpierhead.a" \
    -lpthread -ldl -lm -o "$out/test_static"
ASAN_OPTIONS=detect_leaks=0 "$out/test_static"

echo "== TLS test: an OpenSSL client (libssl-dev), dynamic, ASan + UBSan"
gcc "${CFLAGS[@]}" "${SAN[@]}" $cflags tests/c/test_tls.c $libs -lssl -lcrypto -o "$out/test_tls"
ASAN_OPTIONS=detect_leaks=0 LD_LIBRARY_PATH=$prefix/lib "$out/test_tls"

echo "== WebSocket routes: a raw RFC 6455 client, dynamic, ASan + UBSan"
gcc "${CFLAGS[@]}" "${SAN[@]}" $cflags tests/c/test_ws_routes.c $libs -lpthread -o "$out/test_ws_routes"
ASAN_OPTIONS=detect_leaks=0 LD_LIBRARY_PATH=$prefix/lib "$out/test_ws_routes"

echo "== host signals: SIGPIPE at its default, SIGPROF every 1 ms, under load (ASan + UBSan)"
gcc "${CFLAGS[@]}" "${SAN[@]}" $cflags tests/c/test_signals.c $libs -lpthread -o "$out/test_signals"
ASAN_OPTIONS=detect_leaks=0 LD_LIBRARY_PATH=$prefix/lib "$out/test_signals"

echo "== tests: valgrind"
gcc "${CFLAGS[@]}" $cflags tests/c/test_pierhead.c $libs -o "$out/test_plain"
LD_LIBRARY_PATH=$prefix/lib valgrind -q --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite "$out/test_plain"
