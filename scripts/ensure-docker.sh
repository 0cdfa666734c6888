#!/usr/bin/env bash
# Makes sure a Docker engine answers `docker info`: installs docker.io from Debian's packages and
# starts dockerd in the background when none runs. Idempotent; safe to call from every script.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-docker: installing docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q docker.io >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "ensure-docker: starting dockerd" >&2
  # The machine has no registry access; nothing here may pull. Logs go beside the socket so a
  # failing start can be read afterwards.
  nohup dockerd >/var/log/gantry-dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "ensure-docker: dockerd did not come up; see /var/log/gantry-dockerd.log" >&2
tail -n 20 /var/log/gantry-dockerd.log >&2 || true
exit 1
