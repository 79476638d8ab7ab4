#!/usr/bin/env bash
# The test command on a busy machine (documented in RELIABILITY.md, not run in
# CI): HOGS (default 3) busy loops on this 2-core machine for as long as the
# command runs, then the command. A test that only passes on an idle machine is a
# test that breaks CI some day; this is how the timing and ordering races named in
# RELIABILITY.md ("The suite on a busy machine") were found.
# Usage: scripts/test-busy.sh [COMMAND...]   (default: bash scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
HOGS=${HOGS:-3}
hogs=()
trap 'kill "${hogs[@]}" 2>/dev/null || true' EXIT
for _ in $(seq "$HOGS"); do
    (while :; do :; done) &
    hogs+=($!)
done
echo "== $HOGS busy loops (pids ${hogs[*]}); running: ${*:-bash scripts/test.sh}"
if [ $# -eq 0 ]; then set -- bash scripts/test.sh; fi
"$@"
