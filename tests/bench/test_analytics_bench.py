"""The analytics benchmark's own code at a tiny scale (the timed run is bench/analytics_bench.py, not a
test): its loader writes the app's tables, its pandas baseline gives dealpilot's velocity rows, and the
script runs end to end."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import analytics_bench as bench  # noqa: E402
import analytics_data as data  # noqa: E402
import analytics_pandas as baseline  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SCALE = 0.0005


@pytest.mark.django_db
def test_pandas_baseline_gives_dealpilots_velocity_rows():
    from dealpilot.analytics.frames import frames_for
    from dealpilot.crm.models import Activity, Opportunity, StageHistory

    written = data.load(data.generate(SCALE, seed=3))
    assert written["crm_opportunity"] == Opportunity.objects.count() == 500
    assert written["crm_activity"] == Activity.objects.count() == 5000
    assert 3 * 500 <= StageHistory.objects.count() <= 6 * 500

    f = frames_for(None)
    ours = bench.dashboard(f)
    connection.ensure_connection()
    theirs = bench.pandas_dashboard(baseline.read_tables(connection.connection))
    assert ours["velocity"], "no closed deals in the window"
    assert bench.same_velocity(ours["velocity"], theirs["velocity"])
    # the other metrics are the same work: spot checks that they saw the same records
    assert len(ours["meeting"]["new"]) == len(theirs["meeting"]["new"])
    assert len(ours["forecast"]) == len(theirs["forecast"])
    assert [r["rep"] for r in ours["diagnosis"]] == list(theirs["diagnosis"].rep)


def test_the_script_runs_end_to_end(tmp_path):
    """On SQLite (a file under tmp_path): load, floor, cold and warm dashboards, pandas, the velocity check."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "analytics_bench.py"), "--scale", str(SCALE), "--skip", "postgres",
                           "--repeat", "1", "--warm", "1", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| dealpilot, DuckDB engine | SQLite |" in proc.stdout
    assert "pandas on SQLite: yes" in proc.stdout
