#!/usr/bin/env bash
# The whole test suite: starts Docker and builds the offline test images when missing, then runs
# every test in the workspace with nextest (cargo test when nextest is not installed).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-tools.sh
scripts/ensure-docker.sh
scripts/build-images.sh

if cargo nextest --version >/dev/null 2>&1; then
  exec cargo nextest run --workspace --no-fail-fast "$@"
else
  exec cargo test --workspace --no-fail-fast "$@"
fi
