#!/usr/bin/env bash
# Step overhead of the Docker executor against two references, on the real engine:
#   floor  = create+start+remove one container and ONE `docker exec` running 40 trivial scripts
#   gantry = DockerExecutor running 2 jobs x 20 trivial steps, sequentially (examples/step-overhead.rs:
#            per step it writes the script, runs it and reads a file-command file, like the runner)
#   naive  = one container, a `docker exec` per step, 2 jobs x 20 steps
# Each is run $ROUNDS times (default 5); the median is reported, then the ratios to the floor.
set -euo pipefail
cd "$(dirname "$0")/../../.."

IMAGE="${IMAGE:-gantry/busybox:latest}"
ROUNDS="${ROUNDS:-5}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target-docker}"

scripts/ensure-docker.sh
scripts/build-images.sh --only=busybox >/dev/null
docker image inspect "$IMAGE" >/dev/null
cargo build -q -p gantry-docker --example step-overhead
BIN="$CARGO_TARGET_DIR/debug/examples/step-overhead"

ms() { date +%s%3N; }
LABEL=(--label io.gantry.managed=true --label io.gantry.run-id=bench)

floor() {
  local t0 c
  t0=$(ms)
  c=$(docker create "${LABEL[@]}" --network host "$IMAGE" sleep 3600)
  docker start "$c" >/dev/null
  docker exec "$c" sh -c 'i=0; while [ $i -lt 40 ]; do sh -c "echo step $i" >/dev/null; i=$((i+1)); done'
  docker rm -f "$c" >/dev/null
  echo $(( $(ms) - t0 ))
}

naive() {
  local t0 c j i
  t0=$(ms)
  for j in 1 2; do
    c=$(docker create "${LABEL[@]}" --network host "$IMAGE" sleep 3600)
    docker start "$c" >/dev/null
    for i in $(seq 20); do docker exec "$c" sh -c "echo step $i" >/dev/null; done
    docker rm -f "$c" >/dev/null
  done
  echo $(( $(ms) - t0 ))
}

gantry() { "$BIN" "$IMAGE" 2 20; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A RESULT
for what in floor gantry naive; do
  RESULT[$what]=$(for _ in $(seq "$ROUNDS"); do "$what"; done | median)
done

printf 'floor  (1 container, 1 exec x 40 scripts): %6d ms\n' "${RESULT[floor]}"
printf 'gantry (2 jobs x 20 steps, agent):         %6d ms   %.2fx floor\n' "${RESULT[gantry]}" \
  "$(ratio "${RESULT[gantry]}" "${RESULT[floor]}")"
printf 'naive  (2 jobs x 20 docker execs):         %6d ms   %.2fx floor\n' "${RESULT[naive]}" \
  "$(ratio "${RESULT[naive]}" "${RESULT[floor]}")"
printf 'gantry vs naive:                                      %.2fx faster\n' \
  "$(ratio "${RESULT[naive]}" "${RESULT[gantry]}")"
