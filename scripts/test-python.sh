#!/usr/bin/env bash
# The Python package's tests, against a real `pip install ./python` into .venv
# (maturin comes through the build backend): the type stubs checked against the
# built module (mypy stubtest) and the package type-checked (mypy --strict), then
# the pytest suite in tests/python over loopback (with the `pierhead` binary built
# from this checkout, which `python -m pierhead` is compared with). Part of
# scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
py="$PWD/.venv/bin/python"
"$py" -m pip install -q --upgrade "pip>=23" >/dev/null
"$py" -m pip install -q "pytest>=8" "pytest-xdist>=3" "mypy>=1.10" "urllib3>=2" "prometheus_client>=0.20" "pillow>=10" "requests>=2.31" "httpx>=0.27" "httpx-sse>=0.4" "werkzeug>=2.0" "websockets>=12" "websocket-client>=1.7" "aiohttp>=3.9"

# Node's ws (Debian node-ws, with nodejs): the WebSocket reference server and
# client of tests/python/ws_peers/ (test_ws_conformance.py, test_ws_clients.py).
if ! command -v node >/dev/null || [ ! -d /usr/share/nodejs/ws ]; then
    echo "== installing node-ws (Debian package)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs node-ws >/dev/null
fi

echo "== cargo build -p pierhead-cli (the binary python -m pierhead is compared with)"
cargo build -q -p pierhead-cli
export PIERHEAD_BIN="$PWD/target/debug/pierhead"

echo "== pip install ./python"
"$py" -m pip install -q --force-reinstall --no-deps ./python

echo "== stubs: mypy stubtest, mypy --strict"
# From another directory, so the installed package is what is checked.
(cd /tmp && "$py" -m mypy.stubtest pierhead && "$py" -m mypy --strict --no-incremental -p pierhead)

echo "== pytest tests/python"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
"$py" -m pytest -q -p no:cacheprovider tests/python
