"""The load test's script, run for a moment (the measured run is bench/load.py, not a test): a small demo
organisation, the server started the production way, a few users through the login form, every phase
and request kind, no errors, the report's numbers and its section of the docs, and nothing left behind.
On the database the suite runs on (SQLite, or PostgreSQL when DATABASE_URL says so)."""

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_load_script_runs_briefly_without_errors(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update(TMPDIR=str(tmp_path), LOAD_PROFILE_REQUESTS="0", PYTHONPATH=str(ROOT / "src"))
    url = os.environ.get("DATABASE_URL", "")
    engine = ["--engine", "sqlite"]
    if url.startswith("postgres"):
        db = f"dp_load_smoke_{uuid.uuid4().hex[:8]}"
        engine = ["--engine", "postgres", "--postgres-url", url.rsplit("/", 1)[0] + "/" + db]
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nother sections stay\n")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), *engine, "--users", "4", "--seconds", "1",
                           "--warmup", "0", "--rate", "10", "--scale", "0.02", "--people", "4", "--write-docs", str(docs)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "- **errors**: none" in out
    number = r"[\d,]+(?:\.\d)?"
    for label in ("GET /api/health (ceiling)", "opportunity page", "API: list opportunities", "API: opportunity detail",
                  "API write: plan comment", "API write: qualification", "all of the mix"):
        assert re.search(rf"\| {re.escape(label)} \| {number} \| {number} \| {number} \| {number} \| {number} \| 0 \|", out), label
    assert "team dashboard page" in out  # one of the four people is a manager
    assert re.search(r"\*\*goal\*\* .*: (met|NOT met) \(p99 [\d.]+ ms", out)
    assert re.search(r"of the health endpoint's [\d,]+/s", out)
    text = docs.read_text()
    assert "other sections stay" in text and "<!-- load.py start -->" in text and "## Under load" in text
    assert text.count("| open loop, fixed rate | opportunity page |") == 1
    assert not list(tmp_path.glob("dealpilot-load-*")), "the temporary data folder was left behind"
    if url.startswith("postgres"):
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres") as conn:
            left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone()
        assert left is None, "the load test's database was not dropped"
