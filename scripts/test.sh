#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property and integration tests
# over loopback, interop with real clients (curl, wrk, Python http.client and
# urllib3), and the C library's tests (scripts/test-c.sh: ASan/UBSan, static and
# dynamic linking, valgrind, the header as C++) and the Python package's (a real
# pip install, stubtest, pytest: scripts/test-python.sh). Installs what it needs:
# curl, wrk, pkg-config, valgrind, redis-server (the backplane tests start their
# own on free loopback ports), iproute2 (as root, a backplane test puts each
# server on a host of its own: network namespaces), chromium (the load
# generator's HTML report is opened in it), openssl and libssl-dev (TLS tests'
# client certificates and C client) from Debian if missing; urllib3,
# pytest, mypy, prometheus_client and pillow into a local venv (.venv).
# Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

need_debian=()
command -v curl >/dev/null || need_debian+=(curl)
command -v wrk >/dev/null || need_debian+=(wrk)
command -v pkg-config >/dev/null || need_debian+=(pkg-config)
command -v valgrind >/dev/null || need_debian+=(valgrind)
command -v g++ >/dev/null || need_debian+=(g++)
command -v redis-server >/dev/null || need_debian+=(redis-server)
command -v ip >/dev/null || need_debian+=(iproute2)
command -v chromium >/dev/null || need_debian+=(chromium)
command -v openssl >/dev/null || need_debian+=(openssl)
[ -f /usr/include/openssl/ssl.h ] || need_debian+=(libssl-dev)
if ((${#need_debian[@]})); then
    echo "== installing ${need_debian[*]} (Debian packages)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_debian[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    python3 -m venv .venv
fi
if ! .venv/bin/python -c "import urllib3" 2>/dev/null; then
    .venv/bin/python -m pip install -q urllib3
fi
export PIERHEAD_TEST_PYTHON="$PWD/.venv/bin/python"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

echo "== module import cycles (scripts/check-module-cycles.py; allow-list scripts/module-cycles.allow)"
python3 scripts/check-module-cycles.py --self-test
python3 scripts/check-module-cycles.py

echo "== cargo test"
# Some tests open ~2,000 sockets at once; make sure the soft limit allows it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo test --workspace

echo "== reliability suite (reliability/: its own workspace)"
cargo fmt --manifest-path reliability/Cargo.toml -- --check
for features in "" tiny-buffers; do
    cargo clippy --manifest-path reliability/Cargo.toml --release --all-targets \
        --features "$features" -- -D warnings
done
# Floods, slow peers, descriptor exhaustion, stop and fork on the engine as shipped;
# then cross-talk, backplane and resets on the tiny-buffers build.
cargo test --manifest-path reliability/Cargo.toml --release
cargo test --manifest-path reliability/Cargo.toml --release --features tiny-buffers

echo "== fuzzing, bounded (scripts/fuzz.sh 10)"
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
scripts/fuzz.sh 10

echo "== C library (scripts/test-c.sh)"
scripts/test-c.sh

echo "== Python package (scripts/test-python.sh)"
scripts/test-python.sh

echo "== pytest-httpserver's own suite against pierhead.httpserver (scripts/test-httpserver-compat.sh)"
scripts/test-httpserver-compat.sh
