#!/usr/bin/env bash
# Benchmarks gantry's registry against the reference distribution registry (Debian's
# `docker-registry`), both on loopback ports with temp storage:
#   1. docker push / pull of a ~200 MB image made of random-data layers (built offline);
#   2. skopeo copy of the same image as an uncompressed OCI layout (registry-bound: no gzip);
#   3. npm install of a package with 50 versions (apt has no reference npm registry; the ratio
#      is against installing the same tarball from a local file).
# Prints wall-clock seconds and gantry/reference ratios (below 1 means gantry is faster).
# Needs docker, skopeo, node/npm, bc; installs docker-registry from apt when missing.
set -euo pipefail
cd "$(dirname "$0")/../../.."

SIZE_MB=${SIZE_MB:-200}
LAYERS=${LAYERS:-4}
GANTRY_PORT=${GANTRY_PORT:-5901}
REF_PORT=${REF_PORT:-5902}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-pkg}

if ! command -v docker-registry >/dev/null 2>&1; then
  echo "bench: installing docker-registry" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-registry >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-registry >/dev/null; }
fi

WORK=$(mktemp -d /tmp/gantry-bench.XXXXXX)
PIDS=()
IMAGES=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  for img in "${IMAGES[@]}"; do docker rmi --force "$img" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Our crate at opt-level 2 (the dev profile already optimises dependencies); no workspace-wide
# release build on a shared 2-core machine.
echo "bench: building the serve example" >&2
cargo build -q -p gantry-packages --example serve --config 'profile.dev.package.gantry-packages.opt-level=2'
SERVE="$CARGO_TARGET_DIR/debug/examples/serve"

"$SERVE" "127.0.0.1:$GANTRY_PORT" "$WORK/gantry-data" "$WORK/token" >"$WORK/gantry.log" 2>&1 &
PIDS+=($!)
cat >"$WORK/registry.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/ref-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REF_PORT
YAML
docker-registry serve "$WORK/registry.yml" >"$WORK/ref.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  if [[ -s "$WORK/token" ]] && curl -sf -o /dev/null "http://127.0.0.1:$REF_PORT/v2/"; then break; fi
  sleep 0.2
done
TOKEN=$(cat "$WORK/token")

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }

# --- the image: LAYERS layers of random data, SIZE_MB in total ---
echo "bench: building a ${SIZE_MB} MB image" >&2
mkdir -p "$WORK/ctx"
per=$((SIZE_MB / LAYERS))
{
  echo "FROM scratch"
  for i in $(seq 1 "$LAYERS"); do
    head -c "${per}M" /dev/urandom >"$WORK/ctx/r$i"
    echo "COPY r$i /r$i"
  done
} >"$WORK/ctx/Dockerfile"
SRC="gantry-bench/random:$$"
DOCKER_BUILDKIT=0 docker build -q -t "$SRC" "$WORK/ctx" >/dev/null 2>&1
IMAGES+=("$SRC")
skopeo --insecure-policy copy -q "docker-daemon:$SRC" "oci:$WORK/layout:bench" >/dev/null

export DOCKER_CONFIG="$WORK/docker-config"
mkdir -p "$DOCKER_CONFIG"
echo "$TOKEN" | docker login "127.0.0.1:$GANTRY_PORT" -u bench --password-stdin >/dev/null 2>&1

docker_round() { # $1 = host:port; prints "push pull"
  local ref="$1/bench/random:$$"
  docker tag "$SRC" "$ref"
  local t; t=$(now)
  docker push -q "$ref" >/dev/null
  local push; push=$(elapsed "$t")
  # Remove every local reference so the pull really downloads and extracts.
  docker rmi "$ref" "$SRC" >/dev/null
  t=$(now)
  docker pull -q "$ref" >/dev/null
  local pull; pull=$(elapsed "$t")
  docker tag "$ref" "$SRC"
  docker rmi "$ref" >/dev/null
  echo "$push $pull"
}

skopeo_round() { # $1 = host:port, $2 = creds or ""; prints "push pull"
  local dest="docker://$1/bench/oci:$$"
  local dcreds=() screds=()
  if [[ -n "$2" ]]; then dcreds=(--dest-creds "$2"); screds=(--src-creds "$2"); fi
  local t; t=$(now)
  skopeo --insecure-policy copy -q --dest-tls-verify=false "${dcreds[@]}" "oci:$WORK/layout:bench" "$dest" >/dev/null
  local push; push=$(elapsed "$t")
  rm -rf "$WORK/out"
  t=$(now)
  skopeo --insecure-policy copy -q --src-tls-verify=false "${screds[@]}" "$dest" "oci:$WORK/out:bench" >/dev/null
  local pull; pull=$(elapsed "$t")
  echo "$push $pull"
}

echo "bench: docker push/pull" >&2
read -r g_push g_pull < <(docker_round "127.0.0.1:$GANTRY_PORT")
read -r r_push r_pull < <(docker_round "127.0.0.1:$REF_PORT")
echo "bench: skopeo copy" >&2
read -r gs_push gs_pull < <(skopeo_round "127.0.0.1:$GANTRY_PORT" "bench:$TOKEN")
read -r rs_push rs_pull < <(skopeo_round "127.0.0.1:$REF_PORT" "")

# --- npm: a package with 50 versions, published through the registry protocol ---
echo "bench: npm" >&2
mkdir -p "$WORK/npm"
node - "$WORK/npm" "http://127.0.0.1:$GANTRY_PORT" "$TOKEN" <<'JS'
const [dir, registry, token] = process.argv.slice(2);
const fs = require('fs'), path = require('path'), crypto = require('crypto'), cp = require('child_process');
(async () => {
  for (let minor = 0; minor < 50; minor++) {
    const version = `1.${minor}.0`;
    const pkg = path.join(dir, `build-${version}`, 'package');
    fs.mkdirSync(pkg, { recursive: true });
    const manifest = { name: '@bench/many', version, main: 'index.js' };
    fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify(manifest));
    fs.writeFileSync(path.join(pkg, 'index.js'), `module.exports = '${version}';\n`);
    const tgz = cp.execFileSync('tar', ['-czf', '-', 'package'], { cwd: path.dirname(pkg) });
    const file = `many-${version}.tgz`;
    fs.writeFileSync(path.join(dir, file), tgz);
    const integrity = 'sha512-' + crypto.createHash('sha512').update(tgz).digest('base64');
    const doc = { _id: manifest.name, name: manifest.name, 'dist-tags': { latest: version },
      versions: { [version]: { ...manifest, dist: { integrity, tarball: `${registry}/@bench/many/-/${file}` } } },
      _attachments: { [file]: { content_type: 'application/octet-stream', data: tgz.toString('base64'), length: tgz.length } } };
    const res = await fetch(`${registry}/@bench%2fmany`, { method: 'PUT', body: JSON.stringify(doc),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`publish ${version}: ${res.status} ${await res.text()}`);
  }
})().catch((e) => { console.error(e); process.exit(1); });
JS
npm_install() { # $1 = what to install; prints seconds with a cold cache
  local d; d=$(mktemp -d "$WORK/npm/install.XXXXXX")
  echo '{"name":"consumer","version":"1.0.0","private":true}' >"$d/package.json"
  printf '@bench:registry=http://127.0.0.1:%s/\n//127.0.0.1:%s/:_authToken=%s\n' "$GANTRY_PORT" "$GANTRY_PORT" "$TOKEN" >"$d/.npmrc"
  local t; t=$(now)
  (cd "$d" && npm install --no-audit --no-fund --cache "$d/cache" --userconfig "$d/.npmrc" "$1" >/dev/null 2>&1)
  elapsed "$t"
}
npm_registry=$(npm_install "@bench/many@^1")
npm_file=$(npm_install "$WORK/npm/many-1.49.0.tgz")

printf '\n%-38s %9s %9s %7s\n' "operation (${SIZE_MB} MB, ${LAYERS} layers)" "gantry s" "ref s" "ratio"
row() { printf '%-38s %9.2f %9.2f %7s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
row "docker push" "$g_push" "$r_push"
row "docker pull" "$g_pull" "$r_pull"
row "skopeo copy in (uncompressed)" "$gs_push" "$rs_push"
row "skopeo copy out (uncompressed)" "$gs_pull" "$rs_pull"
row "npm install 50-version pkg (vs file)" "$npm_registry" "$npm_file"
