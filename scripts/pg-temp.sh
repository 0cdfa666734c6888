#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for tests and benchmarks:
#
#   scripts/pg-temp.sh [--template DIR] PORT [-c name=value ...]
#
# initdb in a new temp directory (as the postgres user when run as root: the server refuses to
# run as root), starts the server on 127.0.0.1:PORT with trust authentication for the user
# `postgres`, waits until it accepts connections and prints `ready <bin dir>`. It then runs
# until its stdin closes (the caller exited or closed the pipe), stops the server and removes
# the directory. Extra arguments go to `postgres` (e.g. `-c fsync=off` for tests).
#
# --template DIR keeps a freshly initialised data directory in DIR (created on first use,
# under a lock) and copies it instead of running initdb each time: test processes that each
# need a server start in a fraction of a second.
set -euo pipefail
TEMPLATE=""
if [ "${1:-}" = --template ]; then
  TEMPLATE="$2"
  shift 2
fi
PORT="${1:?usage: pg-temp.sh PORT [postgres options]}"
shift
BIN="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)"
if [ -z "$BIN" ] || [ ! -x "$BIN/postgres" ]; then
  echo "pg-temp: no PostgreSQL server (scripts/ensure-tools.sh installs postgresql)" >&2
  exit 2
fi
DIR="$(mktemp -d /tmp/gantry-pg.XXXXXX)"
PID=""
cleanup() {
  if [ -n "$PID" ]; then
    kill -INT "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' TERM INT HUP
AS_OWNER=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$DIR"
  AS_OWNER=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi
init() {
  if ! "${AS_OWNER[@]}" "$BIN/initdb" -D "$1" -U postgres --auth=trust -E UTF8 \
      --no-sync > "$DIR/initdb.log" 2>&1; then
    cat "$DIR/initdb.log" >&2
    exit 1
  fi
}
if [ -n "$TEMPLATE" ]; then
  mkdir -p "$(dirname "$TEMPLATE")"
  (
    flock 9
    if [ ! -f "$TEMPLATE/PG_VERSION" ]; then
      rm -rf "$TEMPLATE"
      init "$DIR/data"
      cp -a "$DIR/data" "$TEMPLATE.new"
      mv "$TEMPLATE.new" "$TEMPLATE"
    fi
  ) 9> "$TEMPLATE.lock"
  [ -d "$DIR/data" ] || cp -a "$TEMPLATE" "$DIR/data"
else
  init "$DIR/data"
fi
"${AS_OWNER[@]}" "$BIN/postgres" -D "$DIR/data" -p "$PORT" -k "$DIR" \
  -c listen_addresses=127.0.0.1 "$@" > "$DIR/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 400); do
  "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && break
  if ! kill -0 "$PID" 2>/dev/null; then
    cat "$DIR/server.log" >&2
    exit 1
  fi
  sleep 0.05
done
"$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" || { cat "$DIR/server.log" >&2; exit 1; }
echo "ready $BIN"
# Until the caller goes away.
cat > /dev/null
