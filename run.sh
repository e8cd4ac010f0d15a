#!/usr/bin/env bash
# Every command an attendee needs. Run ./run.sh with no argument for the list.
# The first command that needs Python creates .venv and installs what the
# requirements files name; later runs reinstall only when those files change.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PY=$VENV/bin/python
BASE_URL="http://${MARKETSVC_HOST:-127.0.0.1}:${MARKETSVC_PORT:-9090}"

find_python() {
  local candidate
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "run.sh: Python 3.11 or newer is needed; found none on PATH" >&2
  exit 1
}

setup() {
  if [ ! -x "$PY" ]; then
    local python
    python=$(find_python)
    echo "Creating $VENV with $($python --version)"
    "$python" -m venv "$VENV"
  fi
  local wanted
  wanted=$(cat requirements*.txt | "$PY" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
  if [ "$(cat "$VENV/.requirements-hash" 2>/dev/null)" != "$wanted" ]; then
    echo "Installing dependencies into $VENV (once, or when requirements change)"
    "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$PY" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    echo "$wanted" >"$VENV/.requirements-hash"
  fi
}

# call METHOD PATH [JSON]: one HTTP request to the running service, printed.
# CALL_HEADER adds a header (for the research route's token).
call() {
  local method=$1 path=$2 body=${3:-}
  echo "$method $path $body" >&2
  if command -v curl >/dev/null 2>&1; then
    local args=(-sS -N -X "$method")
    [ -n "${CALL_HEADER:-}" ] && args+=(-H "$CALL_HEADER")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' -d "$body")
    local status=0
    curl --fail-with-body "${args[@]}" "$BASE_URL$path" || status=$?
    echo
    if [ "$status" = 7 ]; then
      echo "run.sh: nothing answers on $BASE_URL; start the service with ./run.sh run" >&2
    fi
    return "$status"
  else
    "$PY" - "$method" "$BASE_URL$path" "$body" "${CALL_HEADER:-}" <<'PYEOF'
import sys, urllib.error, urllib.request
method, url, body, header = sys.argv[1:]
headers = {"Content-Type": "application/json"}
if header:
    name, _, value = header.partition(": ")
    headers[name] = value
request = urllib.request.Request(url, data=body.encode() or None, method=method, headers=headers)
try:
    with urllib.request.urlopen(request) as response:
        for line in response:
            print(line.decode(), end="", flush=True)
        print()
except urllib.error.HTTPError as error:
    print(error.read().decode())
    sys.exit(22)
except urllib.error.URLError:
    sys.exit(f"run.sh: nothing answers on {url}; start the service with ./run.sh run")
PYEOF
  fi
}

# json_string TEXT: TEXT as a JSON string literal.
json_string() {
  "$PY" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"
}

# --pg [URL] after run, reset or seed: use PostgreSQL instead of the SQLite
# file. The database is created if the server does not have it yet.
use_postgres() {
  export MARKETSVC_DATABASE_URL=$1
  "$PY" -m marketsvc create-db
}

# The tests run on PostgreSQL too when MARKETSVC_TEST_DATABASE_URL names a
# server. If it is unset and a server answers on 127.0.0.1:5432 as user
# postgres, use that one.
use_local_postgres() {
  [ -n "${MARKETSVC_TEST_DATABASE_URL:-}" ] && return
  local url="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
  if "$PY" - 2>/dev/null <<'PYEOF'; then
import asyncio
import asyncpg
async def probe():
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres", timeout=3)
    await conn.close()
asyncio.run(probe())
PYEOF
    export MARKETSVC_TEST_DATABASE_URL=$url
  fi
}

usage() {
  cat <<'USAGE'
Usage: ./run.sh COMMAND [ARGS]

Set-up and service
  run [--pg [URL]] [--workers N]
                      serve Marketplace on 127.0.0.1:9090 (creates .venv on first use);
                      --pg: on PostgreSQL (default URL postgresql+asyncpg://postgres@127.0.0.1:5432/marketdb);
                      --workers: N worker processes (default MARKETSVC_WORKERS, or 1)
  test                ruff (lint, format) and the whole test suite
  setup               create .venv and install the dependencies only
  reset [--pg [URL]]  drop the database's tables and load marketdb.sql again
  seed [--pg [URL]] [N] [M]  add N generated customers and M orders (default 1000 and 5000)
  bench [NAME]        run the benchmarks in bench/ (streaming, fanout, throughput, writes)

Workshop
  steps [--force] [--push REMOTE]   build (or refresh) the step branches from main
  check               on a step branch: which exercises are done, which are left
  docs                serve the course on http://127.0.0.1:8000

Talk to the running service (in a second terminal)
  customers           GET  /api/customers
  custorders [ID]     GET  /api/orders/ID                      (default 1)
  ordertotal [ID]     GET  /api/order_total/ID                 (default 1)
  orderstotal [IDS]   GET  /api/orders_total  {"orders": [...]} (default 1,2,3)
  ordersbet [B] [A]   GET  /api/orders_between_dates/B/A       (orders between A and B)
  neworder [CUST] [ITEM:QTY ...]  POST /api/add_new_order      (default 1 1:2 3:1)
  stats               GET  /api/stats
  items [NAME PRICE [DESCRIPTION]]  GET /api/items, or POST one new item
  events [FILTERS]    GET  /api/events/orders?FILTERS         (e.g. customer_id=1&follow=true)
  query [SQL]         POST /api/query (needs MARKETSVC_QUERY_TOKEN set for both terminals)
USAGE
}

command=${1:-help}
[ $# -gt 0 ] && shift

PG_URL=""
if [ "${1:-}" = --pg ]; then
  case "$command" in
    run | reset | seed) ;;
    *) echo "run.sh: --pg goes with run, reset or seed" >&2 && exit 2 ;;
  esac
  shift
  PG_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/marketdb"
  if [[ "${1:-}" == *://* ]]; then
    PG_URL=$1
    shift
  fi
fi

case "$command" in
  setup) setup ;;
  run)
    # run [--pg [URL]] [--workers N]: serve checks N.
    if ! { [ $# -eq 0 ] || { [ $# -eq 2 ] && [ "$1" = --workers ]; }; }; then
      echo "run.sh: run takes only --pg [URL] and --workers N" >&2
      exit 2
    fi
    setup
    if [ $# -eq 2 ] && ! "$PY" -m marketsvc serve --help 2>/dev/null | grep -q -- --workers; then
      echo "run.sh: the service on this branch runs one worker; --workers comes with the finished service" >&2
      exit 2
    fi
    [ -n "$PG_URL" ] && use_postgres "$PG_URL"
    exec "$PY" -m marketsvc serve "$@"
    ;;
  test)
    setup
    use_local_postgres
    "$PY" -m ruff check .
    "$PY" -m ruff format --check .
    exec "$PY" -m pytest "$@"
    ;;
  reset)
    setup
    [ -n "$PG_URL" ] && use_postgres "$PG_URL"
    exec "$PY" -m marketsvc init-db --reset
    ;;
  seed)
    setup
    [ -n "$PG_URL" ] && use_postgres "$PG_URL"
    exec "$PY" -m marketsvc seed --customers "${1:-1000}" --orders "${2:-5000}"
    ;;
  bench)
    setup
    exec "$PY" -m bench "$@"
    ;;
  steps)
    setup
    exec "$PY" -m tools.steps build "$@"
    ;;
  check)
    setup
    use_local_postgres
    exec "$PY" -m tools.steps check "$@"
    ;;
  docs)
    setup
    exec "$PY" -m mkdocs serve --dev-addr 127.0.0.1:8000
    ;;
  customers) call GET /api/customers ;;
  custorders) call GET "/api/orders/${1:-1}" ;;
  ordertotal) call GET "/api/order_total/${1:-1}" ;;
  orderstotal) call GET /api/orders_total "{\"orders\": [${1:-1,2,3}]}" ;;
  ordersbet) call GET "/api/orders_between_dates/${1:-2024-03-31}/${2:-2024-03-01}" ;;
  neworder)
    customer=${1:-1}
    [ $# -gt 0 ] && shift
    [ $# -eq 0 ] && set -- 1:2 3:1
    lines=()
    for pair in "$@"; do
      if ! [[ "$pair" =~ ^[0-9]+:[0-9]+$ ]]; then
        echo "run.sh: items are ITEM:QUANTITY, such as 3:2; got '$pair'" >&2
        exit 2
      fi
      lines+=("{\"id\": ${pair%%:*}, \"quantity\": ${pair##*:}}")
    done
    items=$(IFS=,; echo "${lines[*]}")
    call POST /api/add_new_order "{\"customer_id\": $customer, \"items\": [$items]}"
    ;;
  stats) call GET /api/stats ;;
  items)
    if [ $# -ge 2 ]; then
      body="{\"name\": $(json_string "$1"), \"price\": $2"
      [ $# -ge 3 ] && body="$body, \"description\": $(json_string "$3")"
      call POST /api/items "$body}"
    else
      call GET /api/items
    fi
    ;;
  events) call GET "/api/events/orders${1:+?$1}" ;;
  query)
    if [ -z "${MARKETSVC_QUERY_TOKEN:-}" ]; then
      echo "run.sh: set MARKETSVC_QUERY_TOKEN, here and for ./run.sh run" >&2
      exit 2
    fi
    CALL_HEADER="Authorization: Bearer $MARKETSVC_QUERY_TOKEN" \
      call POST /api/query "{\"query\": $(json_string "${1:-SELECT * FROM item}")}"
    ;;
  help | -h | --help) usage ;;
  *)
    echo "run.sh: unknown command '$command'" >&2
    usage >&2
    exit 2
    ;;
esac
