#!/usr/bin/env bash
# Runs a command with a PostgreSQL server of its own: Debian's postgresql package, a cluster
# made by initdb in a temporary directory and owned by an unprivileged user (PostgreSQL will
# not run as root), listening on a free loopback port, stopped and removed when the command
# ends. The command finds it in KEYDECK_TEST_POSTGRES (postgres://keydeck@127.0.0.1:PORT, no
# database: each test makes its own; KEYDECK_TEST_POSTGRES_DB names one made ready) and
# pg_dump in KEYDECK_TEST_PG_DUMP.
#
# The cluster is for tests only: fsync is off, since a power cut during a test loses nothing
# that matters, and on 2 cores it roughly halves the suite's time. (What Keydeck asks of a
# real server is in the README: synchronous_commit on, the default.)
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is missing: run ./scripts/install-deps.sh (Debian's postgresql package)." >&2; exit 1; }

dir=$(mktemp -d /tmp/keydeck-pg.XXXXXX)
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  owner=postgres
  id "$owner" >/dev/null 2>&1 || owner=nobody
  chown "$owner" "$dir"
  as_owner=(runuser -u "$owner" --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U keydeck --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
  "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }

"$bin/createdb" -h 127.0.0.1 -p "$port" -U keydeck keydeck
export KEYDECK_TEST_POSTGRES="postgres://keydeck@127.0.0.1:$port"
# An empty database made ready, for a program that needs just one (the benchmarks).
export KEYDECK_TEST_POSTGRES_DB="$KEYDECK_TEST_POSTGRES/keydeck"
export KEYDECK_TEST_PG_DUMP="$bin/pg_dump"
"$@"
