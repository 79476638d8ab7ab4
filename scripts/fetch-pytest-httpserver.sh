#!/usr/bin/env bash
# Unpacks pytest-httpserver 1.1.5's source distribution (its test suite) into
# target/pytest-httpserver-1.1.5 once, without its package source (so that only
# what the caller puts on the path is imported). Prints the directory.
# Usage: scripts/fetch-pytest-httpserver.sh PYTHON
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.1.5
dir="$PWD/target/pytest-httpserver-$VERSION"
if [ ! -d "$dir/tests" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  "$1" -m pip download -q --no-binary :all: --no-deps -d "$dir" "pytest_httpserver==$VERSION" >&2
  tar -xzf "$dir/pytest_httpserver-$VERSION.tar.gz" -C "$dir" --strip-components=1
  rm -rf "$dir/pytest_httpserver"
fi
echo "$dir"
