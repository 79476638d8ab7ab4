#!/usr/bin/env bash
# Memory and Python-handler rate, previous build vs this one, side by side in one
# run: bench/memory.py (RSS of the CLI with a 50 MiB file route, with a client that
# pipelines 20 requests for it and never reads, and of a Python server taking 100
# uploads of 5 MiB) and bench/handler_rate.py (wrk through a Python handler, the
# two builds alternating, 3 rounds each).
# Usage: scripts/bench-memory.sh [WRK_SECONDS]. Env: BASELINE=<git rev> (default
# 0692c93, the build before issue 10). Builds into bench/out.
set -euo pipefail
cd "$(dirname "$0")/.."
BASELINE=${BASELINE:-0692c93}
OUT=bench/out
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
cargo build --release -q -p pierhead-cli
src="$OUT/memory-baseline-src"
if [ ! -x "$OUT/memory-baseline/bin/pierhead" ] || [ ! -x "$OUT/venv-baseline/bin/python" ]; then
  rm -rf "$src"; git worktree prune
  git worktree add -f --detach "$src" "$BASELINE" >/dev/null 2>&1
  cargo build --release -q -p pierhead-cli --manifest-path "$src/Cargo.toml" --target-dir "$OUT/memory-baseline-target"
  mkdir -p "$OUT/memory-baseline/bin"
  cp "$OUT/memory-baseline-target/release/pierhead" "$OUT/memory-baseline/bin/"
  [ -x "$OUT/venv-baseline/bin/python" ] || python3 -m venv "$OUT/venv-baseline"
  "$OUT/venv-baseline/bin/python" -m pip install -q --force-reinstall --no-deps "$src/python"
  git worktree remove --force "$src"
fi
[ -x "$OUT/venv/bin/python" ] || python3 -m venv "$OUT/venv"
"$OUT/venv/bin/python" -m pip install -q --force-reinstall --no-deps ./python
python3 bench/memory.py "$OUT/memory-baseline/bin/pierhead" ./target/release/pierhead \
  "$OUT/venv-baseline/bin/python" "$OUT/venv/bin/python"
echo
echo "| round | previous build (req/s) | this build (req/s) |"
echo "|---|---|---|"
for round in 1 2 3; do
  a=$("$OUT/venv-baseline/bin/python" bench/handler_rate.py "${1:-5}")
  b=$("$OUT/venv/bin/python" bench/handler_rate.py "${1:-5}")
  echo "| $round | $a | $b |"
done
