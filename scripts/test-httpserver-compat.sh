#!/usr/bin/env bash
# pytest-httpserver's own test suite (1.1.5, from its source distribution:
# scripts/fetch-pytest-httpserver.sh) against pierhead.httpserver, the
# compatibility module: `import pytest_httpserver` is pointed at
# pierhead.httpserver by tests/httpserver_compat/shim, and the fixtures come from
# pierhead.httpserver.pytest_plugin; pytest-httpserver itself is not installed.
# Tests listed in tests/httpserver_compat/excluded.txt are deselected; every other
# test must pass. (Its own conftest skips test_ssl.py and test_release.py unless
# --ssl or --release is given; excluded.txt says why they do not apply.) Part of
# scripts/test.sh, after scripts/test-python.sh (which installs into .venv).
# Usage: scripts/test-httpserver-compat.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
py="$PWD/.venv/bin/python"
cache=$(scripts/fetch-pytest-httpserver.sh "$py")
if "$py" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('pytest_httpserver') is None)"; then
  echo "pytest_httpserver is installed in .venv: its plugin would shadow the one under test" >&2
  exit 1
fi
deselect=()
while read -r id _; do
  [[ -z "$id" || "$id" == \#* ]] && continue
  deselect+=(--deselect "$id")
done < tests/httpserver_compat/excluded.txt
echo "== pytest-httpserver's suite ($cache) against pierhead.httpserver"
cd "$cache"
# What the tests will import is pierhead's, or nothing is measured.
PYTHONPATH="$OLDPWD/tests/httpserver_compat/shim" "$py" -c '
import pytest_httpserver, pytest_httpserver.httpserver as h, werkzeug
assert pytest_httpserver.HTTPServer.__module__ == "pierhead.httpserver.httpserver", pytest_httpserver.HTTPServer
assert h.URIPattern is pytest_httpserver.URIPattern
print("pytest_httpserver is", pytest_httpserver.__name__, "from", pytest_httpserver.__file__)'
shim="$OLDPWD/tests/httpserver_compat/shim"
PYTHONPATH="$shim" "$py" -m pytest -q -p no:cacheprovider \
  -p pierhead.httpserver.pytest_plugin "${deselect[@]}" tests "$@"
# Its two tests of the fixture's address from the environment run only when set.
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PYTEST_HTTPSERVER_HOST=127.0.0.1 PYTEST_HTTPSERVER_PORT=$port PYTHONPATH="$shim" "$py" -m pytest -q \
  -p no:cacheprovider -p pierhead.httpserver.pytest_plugin tests/test_port_changing.py "$@"
