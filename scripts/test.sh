#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests over loopback.
# Needs only a Rust toolchain; run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test"
# Some tests open ~2,000 sockets at once; make sure the soft limit allows it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo test --workspace
