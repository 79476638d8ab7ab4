#!/usr/bin/env bash
# pierhead's Python package vs pytest-httpserver, side by side in one run:
# start/stop latency, static and Python-handler req/s under wrk, Ctrl-C latency.
# Usage: scripts/bench-python.sh [WRK_SECONDS]. Installs wrk (Debian) if missing
# and both packages into bench/out/venv (pierhead built in release mode by pip).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi
venv=bench/out/venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q "pytest-httpserver>=1.0"
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps ./python
"$venv/bin/python" bench/python_vs_httpserver.py "${1:-5}"
