#!/usr/bin/env bash
# The one place that installs what gantry's scripts and tests call, from Debian's packages, when
# it is missing. Every script that runs a tool not in a fresh Debian image calls this first:
#   debootstrap, dpkg-deb, chroot, mount   build-images.sh (the runner image, offline)
#   skopeo                                 the registry tests (a second OCI client)
#   chromium                               the daemon's web page tests
#   node, npm                              npm registry tests, the reference workflow, tool cache
#   git                                    test repositories, run-reference.sh
#   shellcheck, python3                    gantry validate's shell and Python rules and their tests
#   postgres (postgresql)                  the PostgreSQL store's tests
#   curl, jq, tar, xz                      scripts and benchmarks
# Idempotent: a machine that has everything installs nothing.
set -euo pipefail

missing=()
need() { # need COMMAND PACKAGE: install PACKAGE when COMMAND is not found
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || missing+=("$2")
}
need debootstrap debootstrap
need dpkg-deb dpkg
need chroot coreutils
need mount mount
need skopeo skopeo
need chromium chromium
need node nodejs
need npm npm
need git git
need curl curl
need jq jq
need xz xz-utils
need shellcheck shellcheck
need tmux tmux
need setpriv util-linux # the isolation tests run a probe as user nobody
need python3 python3
# PostgreSQL's server binaries live under /usr/lib/postgresql/<major>/bin, not on PATH.
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)

if [ ${#missing[@]} -gt 0 ]; then
  # Sorted and unique: `need` may name one package twice.
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "ensure-tools: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the cluster it creates; the tests start their own servers on loopback.
  if printf '%s\n' "${missing[@]}" | grep -qx postgresql; then
    service postgresql stop >/dev/null 2>&1 || true
  fi
fi
