#!/usr/bin/env bash
# Checks the workspace server against its own OpenAPI document with schemathesis (PyPI): one
# pass with a session token (key management, sign-in), one with an API key and X-Workspace-Id
# (the time-tracking API). Every answer must be a documented status, match its documented
# schema and content type, and none may be a server error. Exits non-zero on any failure.
#
# Usage: scripts/api-conformance.sh PATH-TO-keydeck-server
set -euo pipefail

server_bin=${1:?give the keydeck-server binary}
cache="${KEYDECK_CACHE:-$HOME/.cache/keydeck}"
venv="$cache/venv"
schemathesis_version="4.32.5"

# schemathesis in a virtual environment of its own, installed once per version.
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$schemathesis_version"; then
  echo "Installing schemathesis $schemathesis_version (PyPI) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

scratch=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

# A demo server of its own on a free port.
RUST_LOG=warn "$server_bin" serve --demo --db "$scratch/api.db" --listen 127.0.0.1:0 >"$scratch/server.out" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  url=$(sed -n 's/^Keydeck workspace server on //p' "$scratch/server.out" | head -n 1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$scratch/server.out"; echo "the server did not start" >&2; exit 1; }
api="$url/api/v1"

json() { python3 -c "import json, sys; print(eval(sys.argv[1], {'d': json.load(sys.stdin)}))" "$1"; }
token=$(curl -sf -X POST "$api/sessions" -H 'content-type: application/json' \
  -d '{"email": "owner@example.com", "password": "keydeck-demo"}' | json 'd["token"]')
ws=$(curl -sf "$api/workspaces" -H "authorization: Bearer $token" |
  json '[w["id"] for w in d["workspaces"] if w["plan"] == "business"][0]')
# A key that may do everything and has no rate limit, so the second pass reaches every handler.
key=$(curl -sf -X POST "$api/workspaces/$ws/keys" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"name": "Conformance", "scopes": ["time_entries:read", "time_entries:write", "employees:read", "reports:read", "projects:read", "projects:write"], "expiresInDays": 7, "rateLimit": {"enabled": false, "maxRequests": 100, "windowSeconds": 60}}' |
  json 'd["secret"]')

checks=not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance
# One worker: with two, schemathesis's threads sometimes crash inside CPython 3.11's compiler
# ("SystemError: AST constructor recursion depth mismatch"), a fault of the tool, not the server.
run() {
  "$venv/bin/schemathesis" run "$api/openapi.json" --url "$url" --checks "$checks" \
    --max-examples "${KEYDECK_API_EXAMPLES:-40}" --workers 1 --phases examples,coverage,fuzzing \
    --suppress-health-check all --warnings off --no-color "$@"
}

status=0
echo "== schemathesis: session token (sign-in, workspaces, key management)"
# Not sign-out: it would end the session the pass runs on.
run -H "Authorization: Bearer $token" --exclude-tag API --exclude-path /api/v1/sessions/current || status=1
echo "== schemathesis: API key and X-Workspace-Id (the time-tracking API)"
run -H "Authorization: Bearer $key" -H "X-Workspace-Id: $ws" --include-tag API || status=1
exit $status
