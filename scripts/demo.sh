#!/usr/bin/env bash
# Sets up dealpilot and runs the demo organisation on the embedded database (SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/dealpilot demo "$@"
