#!/usr/bin/env bash
# Fuzzes the HTTP head parser, the chunked decoder, the frame decoder, the route
# matcher, the WebSocket frame codec, reader and inflater, the HTTP/2 frame codec,
# HPACK and server connection
# (fuzz/fuzz_targets/) for SECONDS each (default 10), then replays
# fuzz/regressions/ (inputs that once failed). Stable Rust: cargo-fuzz builds with
# `--sanitizer none` (libFuzzer's coverage instrumentation uses only stable
# codegen flags; AddressSanitizer would need nightly, and the targets are safe
# Rust). Installs cargo-fuzz if missing. Corpora grow in fuzz/corpus/ (ignored).
# Usage: scripts/fuzz.sh [SECONDS]   (RELIABILITY.md: the long run is 600)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH=${1:-10}
command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --locked
cargo fuzz build -s none
for t in http_head chunked frame route ws_frame ws_inbound ws_inflate h2_frame hpack h2_conn; do
  mkdir -p "corpus/$t"
  out=$(cargo fuzz run -s none "$t" "corpus/$t" -- -max_total_time="$SECONDS_EACH" 2>&1) || {
    echo "$out" | tail -30
    echo "fuzz target $t failed" >&2
    exit 1
  }
  echo "$t: $(echo "$out" | grep -E '^Done' | tail -1), corpus $(ls "corpus/$t" | wc -l) inputs"
done
for f in regressions/*; do
  t=$(basename "$f" | cut -d- -f1)
  cargo fuzz run -s none "$t" "$f" >/dev/null 2>&1 || { echo "regression $f fails again" >&2; exit 1; }
done
echo "regressions replayed: $(ls regressions | wc -l)"
