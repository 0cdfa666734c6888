#!/usr/bin/env bash
# Per-step overhead of a JavaScript action through gantry (`node index.js` with inputs and file
# commands: GITHUB_OUTPUT, GITHUB_ENV) against the same node command run with `docker exec` in a
# container of the same image. Both are measured here, in the same run; prints the ratio.
# Usage: scripts/bench-js-action.sh [STEPS]   (needs Docker and gantry/runner:bookworm)
set -euo pipefail
STEPS=${1:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=gantry/runner:bookworm
cargo build -q -p gantry-cli --manifest-path "$ROOT/Cargo.toml"
GANTRY="${CARGO_TARGET_DIR:-$ROOT/target}/debug/gantry"
work=$(mktemp -d /tmp/gantry-bench-js.XXXXXX)
container=""
cleanup() { [ -n "$container" ] && docker rm -f "$container" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/repo/act" "$work/repo/.github/workflows"
cat >"$work/repo/act/action.yml" <<'YML'
name: bench
description: reads an input, writes an output and an env var
inputs:
  who:
    description: who
    default: bench
runs:
  using: node20
  main: index.js
YML
cat >"$work/repo/act/index.js" <<'JS'
const fs = require('fs');
const who = process.env.INPUT_WHO;
fs.appendFileSync(process.env.GITHUB_OUTPUT, `greeting=hello ${who}\n`);
fs.appendFileSync(process.env.GITHUB_ENV, `LAST=${who}\n`);
console.log(`hello ${who}`);
JS
workflow() { # $1 = number of action steps
  printf 'on: push\njobs:\n  bench:\n    runs-on: ubuntu-latest\n    steps:\n'
  for i in $(seq 1 "$1"); do printf '      - uses: ./act\n        with:\n          who: step%s\n' "$i"; done
}
time_run() { # $1 = steps; prints seconds
  workflow "$1" >"$work/repo/.github/workflows/bench.yml"
  local start end
  start=$(date +%s.%N)
  (cd "$work/repo" && "$GANTRY" run --data-dir "$work/data" >/dev/null)
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
time_run 1 >/dev/null # warm up (image cache, first container)
one=$(time_run 1)
many=$(time_run $((STEPS + 1)))
gantry_step=$(awk -v m="$many" -v o="$one" -v n="$STEPS" 'BEGIN { printf "%.4f", (m - o) / n }')

container=$(docker run -d --network none -v "$work/repo/act:/act:ro" "$IMAGE" sleep 600)
docker exec "$container" sh -c 'mkdir -p /tmp/fc && : > /tmp/fc/out && : > /tmp/fc/env'
node=$(docker exec "$container" sh -c 'ls -d /__t/node/20.*/x64/bin/node | sort -V | tail -n 1')
start=$(date +%s.%N)
for i in $(seq 1 "$STEPS"); do
  docker exec -w /tmp -e INPUT_WHO="step$i" -e GITHUB_OUTPUT=/tmp/fc/out -e GITHUB_ENV=/tmp/fc/env \
    "$container" "$node" /act/index.js >/dev/null
done
end=$(date +%s.%N)
exec_step=$(awk -v a="$start" -v b="$end" -v n="$STEPS" 'BEGIN { printf "%.4f", (b - a) / n }')
ratio=$(awk -v g="$gantry_step" -v e="$exec_step" 'BEGIN { printf "%.2f", g / e }')
echo "gantry per JS-action step: ${gantry_step}s (from ${one}s for 1 step, ${many}s for $((STEPS + 1)))"
echo "docker exec per node run:  ${exec_step}s"
echo "ratio: ${ratio}x (target within 1.3x)"
