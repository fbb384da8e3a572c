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
status=0
echo "== test suite on SQLite ==" >&2
env -u DATABASE_URL DEALPILOT_DATA_DIR="$data_dir/sqlite" .venv/bin/pytest "$@" || status=$?
echo "== test suite on PostgreSQL ==" >&2
DATABASE_URL="$PG_URL/$db" DEALPILOT_DATA_DIR="$data_dir/postgres" .venv/bin/pytest "$@" || status=$?
exit $status
