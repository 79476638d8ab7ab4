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
"$venv/bin/python" -m pip install -q "werkzeug>=2.0" "pytest>=8" requests
"$venv/bin/python" bench/python_vs_httpserver.py "${1:-5}"

# pytest-httpserver's own suite, against itself and against pierhead.httpserver
# (its plugin off, imports pointed at pierhead by the shim): wall time of each.
src=$(scripts/fetch-pytest-httpserver.sh "$venv/bin/python")
py="$PWD/$venv/bin/python"
shim="$PWD/tests/httpserver_compat/shim"
TIMEFORMAT="wall %R s"
echo
echo "pytest-httpserver 1.1.5's suite against pytest-httpserver:"
(cd "$src" && time "$py" -m pytest -q -p no:cacheprovider tests 2>&1 | tail -1)
echo "the same suite against pierhead.httpserver:"
(cd "$src" && time PYTHONPATH="$shim" "$py" -m pytest -q -p no:cacheprovider -p no:pytest_httpserver \
  -p pierhead.httpserver.pytest_plugin tests 2>&1 | tail -1)
