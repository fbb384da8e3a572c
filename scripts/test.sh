#!/usr/bin/env bash
# Sets up dealpilot with its test tools and runs the whole suite twice: on SQLite and on PostgreSQL.
# PostgreSQL: TEST_POSTGRES_URL (default: the local server, user postgres); each run makes its
# own databases and drops them after. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

PG_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
if ! pg_isready -q -d "$PG_URL/postgres" 2>/dev/null; then
  echo "Starting the local PostgreSQL server..." >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 30); do pg_isready -q -d "$PG_URL/postgres" && break; sleep 1; done
fi

data_dir=$(mktemp -d)
db="dealpilot_ci_$$"
cleanup() {
  rm -rf "$data_dir"
  psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "DROP DATABASE IF EXISTS \"test_$db\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql -q "$PG_URL/postgres" -c "CREATE DATABASE \"$db\"" >/dev/null

export DEALPILOT_REQUIRE_SPARK=1  # the Spark parity tests must run here, not be skipped
# The two runs share nothing (own databases, data folders, free ports), so they run side by side,
# one a core: CI takes the time of the longer run, not of both. DEALPILOT_TEST_SERIAL=1 runs them one
# after the other (a one-core machine, or to read one log as it goes).
pg_log="$data_dir/postgres.log"
run_postgres() {
  DATABASE_URL="$PG_URL/$db" DEALPILOT_DATA_DIR="$data_dir/postgres" .venv/bin/pytest "$@"
}
sqlite_status=0 pg_status=0
if [ "${DEALPILOT_TEST_SERIAL:-0}" = 1 ]; then
  echo "== test suite on SQLite ==" >&2
  env -u DATABASE_URL DEALPILOT_DATA_DIR="$data_dir/sqlite" .venv/bin/pytest "$@" || sqlite_status=$?
  echo "== test suite on PostgreSQL ==" >&2
  run_postgres "$@" || pg_status=$?
else
  echo "== test suites on SQLite (below) and PostgreSQL (its log follows when both are done) ==" >&2
  run_postgres "$@" >"$pg_log" 2>&1 &
  pg_pid=$!
  env -u DATABASE_URL DEALPILOT_DATA_DIR="$data_dir/sqlite" .venv/bin/pytest "$@" || sqlite_status=$?
  wait "$pg_pid" || pg_status=$?
  echo "== test suite on PostgreSQL ==" >&2
  cat "$pg_log"
fi
echo "SQLite run: exit $sqlite_status; PostgreSQL run: exit $pg_status" >&2
[ "$sqlite_status" = 0 ] && [ "$pg_status" = 0 ]
