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
sys.path.insert(0, str(ROOT / "bench"))

import load  # noqa: E402


def _result(engine: str, p99_ms: float) -> "load.EngineResult":
    def phase(name, kind, ms, rate=None):
        samples = [load.Sample(kind, ms / 1000, None) for _ in range(100)]
        return load.Phase(name, 2.0, samples, client_cpu=0.1, server_cpu=1.0, worker_cpu=[0.6, 0.4], target_rate=rate)

    phases = [phase("ceiling", "health", 5), phase("mix", "opportunity", 80), phase("goal", "opportunity", p99_ms, 100.0)]
    return load.EngineResult(engine, phases, {"opportunities": 3000, "accounts": 300, "people": 30}, 2, engine, 1.0, {})


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert [load.percentile(values, q) for q in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert load.percentile([7.0], 99) == 7.0


def test_the_docs_section_is_replaced_per_engine_and_the_rest_kept(tmp_path):
    args = load.argparse.Namespace(users=50, seconds=2, warmup=1, rate=100.0, new_connections=False)
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n## Import\n\nkept\n")
    load.write_docs(docs, [_result("SQLite", 50), _result("PostgreSQL", 500)], args, "cmd", (1.0, 2.0))
    first = docs.read_text()
    assert "kept" in first and "## Under load" in first
    assert "NOT met (p99 500.0 ms" in first and "met (p99 50.0 ms" in first
    docs.write_text(first.replace("## Under load (bench/load.py)", "## Under load (bench/load.py)\n\nnotes written by hand"))
    load.write_docs(docs, [_result("SQLite", 60)], args, "cmd", (1.0, 2.0))  # one engine again: only its block changes
    second = docs.read_text()
    assert "notes written by hand" in second and "met (p99 60.0 ms" in second and "NOT met (p99 500.0 ms" in second
    assert "met (p99 50.0 ms" not in second and second.count("### SQLite") == 1


def test_errors_are_grouped_by_phase_kind_and_what():
    result = _result("SQLite", 50)
    result.phases[1].samples += [load.Sample("api_comment", 0.01, "HTTP 403", f"POST /api/x/{i}") for i in range(3)]
    assert result.errors() == {"mix, API write: plan comment: HTTP 403 (e.g. POST /api/x/0)": 3}


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
