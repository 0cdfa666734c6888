#!/usr/bin/env bash
# The whole test suite: installs the clients the tests drive, starts Docker and builds the offline
# test images when missing, then runs every test in the workspace with nextest (cargo test when
# nextest is not installed). Afterwards it reports anything labelled by gantry that a test left
# behind (only a test that failed mid-way should ever do that) and removes it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-tools.sh
scripts/ensure-docker.sh
scripts/build-images.sh

# The daemon's crash and cluster tests start the `daemon` example as a process: build it first
# (nextest does not rebuild binaries that tests only start).
cargo build -q -p gantry-daemon --examples

status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@" || status=$?
else
  cargo test --workspace --no-fail-fast "$@" || status=$?
fi

left=$(docker ps -aq --filter label=io.gantry.managed=true)
if [ -n "$left" ]; then
  echo "test: $(echo "$left" | wc -l) container(s) labelled io.gantry.managed were left behind; removing" >&2
  docker rm -f $left >/dev/null || true
fi
nets=$(docker network ls -q --filter label=io.gantry.managed=true)
[ -z "$nets" ] || docker network rm $nets >/dev/null || true
vols=$(docker volume ls -q --filter label=io.gantry.managed=true)
[ -z "$vols" ] || docker volume rm $vols >/dev/null || true

exit "$status"
