#!/usr/bin/env bash
# Every command an attendee needs. Run ./run.sh with no argument for the list.
# The first command that needs Python creates .venv and installs the locked
# versions into it: `run` only what serving needs (requirements.lock), test,
# check, bench and docs the tools too (requirements-dev.lock). Later runs
# install again only when a lock file changes.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PY=$VENV/bin/python
BASE_URL="http://${MARKETSVC_HOST:-127.0.0.1}:${MARKETSVC_PORT:-9090}"
# uv installs the locks in seconds. It comes from PyPI through pip into
# .venv/.uv, unless one is on PATH. When uv cannot be had or cannot install
# (say, behind a package mirror only pip is told about), or when
# MARKETSVC_INSTALLER=pip, pip installs the same locks, hashes checked.
UV_VERSION=0.13.9

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

# find_uv PYTHON: the uv to install with, or nothing when none can be had.
find_uv() {
  if command -v uv >/dev/null 2>&1; then
    command -v uv
  elif [ -x "$VENV/.uv/bin/uv" ] ||
    "$1" -m pip install --quiet --disable-pip-version-check --upgrade --target "$VENV/.uv" \
      "uv==$UV_VERSION" >"$VENV/.uv-install.log" 2>&1; then
    echo "$VENV/.uv/bin/uv"
  fi
}

file_hash() {
  "$PY" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
}

# setup runtime|dev: make .venv hold the versions of requirements.lock, or of
# requirements-dev.lock (which has the same runtime versions, and the tools).
setup() {
  local lock=requirements.lock marker=$VENV/.installed-runtime
  if [ "$1" = dev ]; then
    lock=requirements-dev.lock marker=$VENV/.installed-dev
  fi
  local python=""
  if [ ! -x "$PY" ]; then
    python=$(find_python)
    echo "Creating $VENV with $($python --version)"
    "$python" -m venv --without-pip "$VENV"
  fi
  local wanted
  wanted=$(file_hash "$lock")
  [ "$(cat "$marker" 2>/dev/null)" = "$wanted" ] && return
  echo "Installing $lock into $VENV (once, and again when it changes)"
  case "${MARKETSVC_INSTALLER:-uv}" in
    uv | pip) ;;
    *) echo "run.sh: MARKETSVC_INSTALLER is uv or pip, not '$MARKETSVC_INSTALLER'" >&2 && exit 2 ;;
  esac
  local uv=""
  [ "${MARKETSVC_INSTALLER:-uv}" = pip ] || uv=$(find_uv "${python:-$(find_python)}")
  if [ -z "$uv" ] && [ "${MARKETSVC_INSTALLER:-uv}" != pip ]; then
    echo "run.sh: uv could not be installed (see $VENV/.uv-install.log); installing with pip"
  fi
  if [ -z "$uv" ] || ! "$uv" pip install --quiet --python "$PY" --require-hashes -r "$lock"; then
    [ -n "$uv" ] && echo "run.sh: uv could not install $lock; trying pip"
    "$PY" -m pip --version >/dev/null 2>&1 || "$PY" -m ensurepip --upgrade >/dev/null
    "$PY" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
  fi
  echo "$wanted" >"$marker"
  # The dev lock holds every runtime version too.
  [ "$1" = dev ] && file_hash requirements.lock >"$VENV/.installed-runtime"
  return 0
}

# lock [UV ARGS]: write both lock files again from the requirements files.
# New releases are taken only when asked: ./run.sh lock --upgrade, or
# ./run.sh lock --upgrade-package fastapi.
lock() {
  setup runtime
  local uv
  uv=$(find_uv "$(find_python)")
  if [ -z "$uv" ]; then
    echo "run.sh: lock needs uv, which could not be installed (see $VENV/.uv-install.log)" >&2
    exit 1
  fi
  local compile=("$uv" pip compile --quiet --universal --python-version 3.11 --generate-hashes
    --custom-compile-command "./run.sh lock")
  "${compile[@]}" "$@" requirements.txt -o requirements.lock
  "${compile[@]}" "$@" requirements-dev.txt -c requirements.lock -o requirements-dev.lock
  echo "Wrote requirements.lock and requirements-dev.lock; ./run.sh installs them on next use"
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

# offers NAME: whether this branch has command or option NAME. ./run.sh steps
# writes the list into .step.toml from what the branch's service defines
# (tools/steps/offers.py); main, with no .step.toml, has everything but the
# exercises' hint and solution. The commands that every branch has (run,
# test, reset, check, ...) are not listed.
offers() {
  if [ ! -f .step.toml ]; then
    [ "$1" != hint ] && [ "$1" != solution ]
    return
  fi
  grep -q "^offers = .*\"$1\"" .step.toml
}

# not_here WHAT [WHY]: refuse WHAT on this branch, saying why.
not_here() {
  if [ ! -f .step.toml ]; then
    echo "run.sh: $1 is for the step branches: ./run.sh steps, then git checkout step-1-getting-started" >&2
    exit 2
  fi
  local branch
  branch=$(sed -n 's/^branch = "\(.*\)"$/\1/p' .step.toml)
  echo "run.sh: $1 does not exist on $branch; ${2:-a later step brings it}." >&2
  echo "./run.sh alone lists what this branch has." >&2
  exit 2
}

# entry NAME TEXT: one line of the command list, when the branch has NAME.
entry() {
  offers "$1" && printf '  %s\n' "$2"
  return 0
}

usage() {
  local pg="" workers="" reload=""
  offers pg && pg=" [--pg [URL]]"
  offers workers && workers=" [--workers N]"
  offers reload && reload=" [--reload]"
  echo "Usage: ./run.sh COMMAND [ARGS]"
  echo
  echo "Set-up and service"
  echo "  run$pg$workers$reload"
  echo "                      serve Marketplace on 127.0.0.1:9090 (creates .venv on first use);"
  offers pg && echo "                      --pg: on PostgreSQL (default URL postgresql+asyncpg://postgres@127.0.0.1:5432/marketdb);"
  offers workers && echo "                      --workers: N worker processes (default MARKETSVC_WORKERS, or 1);"
  offers reload && echo "                      --reload: restart on every change to marketsvc/, for editing while serving"
  cat <<'USAGE'
  test [--quick] [PYTEST ARGS]  ruff (lint, format), then the whole test suite;
                      --quick: SQLite only, without the slow tests (verifying every step branch, ...)
  fmt                 ruff check --fix, then ruff format: what the ruff checks of test ask for
  setup               create .venv and install every locked dependency, run nothing
  lock [--upgrade]    write requirements*.lock again from requirements*.txt
USAGE
  printf '  %-18s  %s\n' "reset$pg" "drop the database's tables and load marketdb.sql again"
  entry seed "$(printf '%-18s  %s' "seed$pg [N] [M]" "add N generated customers and M orders (default 1000 and 5000)")"
  [ -d bench ] && echo "  bench [NAME]        run the benchmarks in bench/ (streaming, fanout, throughput, app_cpu, waiting, writes, research, feed)"
  echo
  echo "Workshop"
  echo "  steps [--force] [--push REMOTE]   build (or refresh) the step branches from main"
  echo "  check [-v] [--watch]  on a step branch: which exercises are done, which are left;"
  echo "                      -v: with pytest's tracebacks; --watch: again on every save"
  entry hint "hint [EXERCISE]     one more level of hint (the idea, what to use, nearly the code)"
  entry solution "solution EXERCISE [--yes]  show the exercise's solution, after asking"
  echo "  docs [--port N]     serve the course on http://127.0.0.1:8000 (or N, or MARKETSVC_DOCS_PORT)"
  echo
  echo "Talk to the running service (in a second terminal)"
  entry customers "customers           GET  /api/customers"
  entry custorders "custorders [ID]     GET  /api/orders/ID                      (default 1)"
  entry ordertotal "ordertotal [ID]     GET  /api/order_total/ID                 (default 1)"
  entry orderstotal 'orderstotal [IDS]   GET  /api/orders_total  {"orders": [...]} (default 1,2,3)'
  entry ordersbet "ordersbet [B] [A]   GET  /api/orders_between_dates/B/A       (orders between A and B)"
  entry neworder "neworder [CUST] [ITEM:QTY ...]  POST /api/add_new_order      (default 1 1:2 3:1)"
  entry cancelorder "cancelorder ID      POST /api/cancel_order/ID                (within 30 minutes of the order)"
  entry stats "stats               GET  /api/stats"
  entry items "items [NAME PRICE [DESCRIPTION]]  GET /api/items, or POST one new item"
  entry events "events [FILTERS]    GET  /api/events/orders?FILTERS         (e.g. customer_id=1&follow=true)"
  entry query "query [SQL]         POST /api/query (needs MARKETSVC_QUERY_TOKEN set for both terminals)"
}

command=${1:-help}
[ $# -gt 0 ] && shift

# Commands that only some branches have: refuse them here with a reason,
# rather than with the service's "invalid choice" or a 404 later.
GATED=" seed hint solution customers custorders ordertotal orderstotal ordersbet neworder stats items events query "
if [[ "$GATED" == *" $command "* ]] && ! offers "$command"; then
  not_here "./run.sh $command"
fi
if [ "$command" = bench ] && [ ! -d bench ]; then
  not_here "./run.sh bench" "the benchmarks are on main"
fi

PG_URL=""
if [ "${1:-}" = --pg ]; then
  case "$command" in
    run | reset | seed) ;;
    *) echo "run.sh: --pg goes with run, reset or seed" >&2 && exit 2 ;;
  esac
  offers pg || not_here "--pg"
  shift
  PG_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/marketdb"
  if [[ "${1:-}" == *://* ]]; then
    PG_URL=$1
    shift
  fi
fi

case "$command" in
  setup) setup dev ;;
  lock) lock "$@" ;;
  run)
    # run [--pg [URL]] [--workers N | --reload]: serve checks N.
    if [ "${1:-}" = --reload ] && [ $# -eq 1 ]; then
      offers reload || not_here "run --reload"
      setup runtime
      [ -n "$PG_URL" ] && use_postgres "$PG_URL"
      # What serve does first (the database made ready), then uvicorn's
      # reloader: it watches marketsvc/ with watchfiles and restarts the
      # service, which serve itself cannot do, on every save.
      "$PY" -m marketsvc init-db
      exec "$PY" -m uvicorn marketsvc.server:app --reload --reload-dir marketsvc \
        --host "${MARKETSVC_HOST:-127.0.0.1}" --port "${MARKETSVC_PORT:-9090}"
    fi
    if ! { [ $# -eq 0 ] || { [ $# -eq 2 ] && [ "$1" = --workers ]; }; }; then
      echo "run.sh: run takes only --pg [URL], --workers N and --reload" >&2
      exit 2
    fi
    [ $# -eq 2 ] && { offers workers || not_here "run --workers"; }
    setup runtime
    [ -n "$PG_URL" ] && use_postgres "$PG_URL"
    exec "$PY" -m marketsvc serve "$@"
    ;;
  test)
    setup dev
    if [ "${1:-}" = --quick ]; then
      shift
      unset MARKETSVC_TEST_DATABASE_URL
      set -- -m "not slow" "$@"
    else
      use_local_postgres
    fi
    lint_ok=true
    "$PY" -m ruff check . || lint_ok=false
    "$PY" -m ruff format --check . || lint_ok=false
    if [ "$lint_ok" = false ]; then
      echo "run.sh: ruff wants changes (above); ./run.sh fmt makes the ones it can. The tests run anyway."
    fi
    status=0
    # One pytest worker per core (pytest-xdist); -n 0 after `test` runs the
    # tests one at a time in this process, as -s wants (--pdb does it itself).
    "$PY" -m pytest -n auto "$@" || status=$?
    if [ "$status" = 0 ] && [ "$lint_ok" = false ]; then
      echo "run.sh: the tests passed, but ruff did not: run ./run.sh fmt, then ./run.sh test" >&2
      status=1
    fi
    exit "$status"
    ;;
  fmt)
    setup dev
    # Fixes first (they may leave lines to reformat), then the formatter.
    status=0
    "$PY" -m ruff check --fix . || status=$?
    "$PY" -m ruff format .
    exit "$status"
    ;;
  reset)
    setup runtime
    [ -n "$PG_URL" ] && use_postgres "$PG_URL"
    exec "$PY" -m marketsvc init-db --reset
    ;;
  seed)
    setup runtime
    [ -n "$PG_URL" ] && use_postgres "$PG_URL"
    exec "$PY" -m marketsvc seed --customers "${1:-1000}" --orders "${2:-5000}"
    ;;
  bench)
    setup dev
    exec "$PY" -m bench "$@"
    ;;
  steps)
    setup runtime
    exec "$PY" -m tools.steps build "$@"
    ;;
  check)
    setup dev
    use_local_postgres
    exec "$PY" -m tools.steps check "$@"
    ;;
  hint | solution)
    setup runtime
    exec "$PY" -m tools.steps "$command" "$@"
    ;;
  docs)
    port=${MARKETSVC_DOCS_PORT:-8000}
    case "${1:-}" in
      --port) port=${2:-} && shift $(($# < 2 ? $# : 2)) ;;
      --port=*) port=${1#--port=} && shift ;;
    esac
    if [ $# -gt 0 ] || ! [[ "$port" =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
      echo "run.sh: docs takes --port N, a port number from 1 to 65535 (or MARKETSVC_DOCS_PORT)" >&2
      exit 2
    fi
    setup dev
    # Material for MkDocs prints an end-of-life notice on every start; the
    # docs reference (Configuration, "./run.sh docs") says what we do about it.
    NO_MKDOCS_2_WARNING=1 exec "$PY" -m mkdocs serve --dev-addr "127.0.0.1:$((10#$port))"
    ;;
  customers) call GET /api/customers ;;
  custorders) call GET "/api/orders/${1:-1}" ;;
  ordertotal) call GET "/api/order_total/${1:-1}" ;;
  cancelorder) call POST "/api/cancel_order/${1:?give the id of the order to cancel}" ;;
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
