#!/usr/bin/env bash
# Sets up dealpilot on a fresh machine: a virtual environment in .venv with dealpilot installed.
# Usage: scripts/setup.sh [--test]   (--test also installs the test tools, the benchmarks' extras, PySpark with Java, and Debian's chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${1:-}" = "--test" ]; then
  # the suite runs every metric on the three analytics engines: PySpark (the spark extra) needs Java 17+;
  # the bench extra: tests/bench runs the load test's script for a moment
  .venv/bin/python -m pip install --quiet -e ".[test,spark,bench]"
  if ! command -v java >/dev/null; then
    echo "Installing Java for the Spark engine's tests..." >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  fi
  if [ ! -x /usr/bin/chromium ]; then
    echo "Installing Debian's chromium for the browser tests..." >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
else
  .venv/bin/python -m pip install --quiet -e .
fi
