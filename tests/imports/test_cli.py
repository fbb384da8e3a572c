"""The real `dealpilot` command in a subprocess: exit codes, summary line, status, and kills mid-import."""

import csv
import json
import signal
import subprocess
import sys
import time

import pytest

from tests.exports import small_salesforce_export

DEALPILOT = [sys.executable, "-m", "dealpilot.cli"]


def run(env, *args, timeout=300):
    return subprocess.run([*DEALPILOT, *args], env=env, capture_output=True, text=True, timeout=timeout)


def status(env) -> dict:
    out = run(env, "status", "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_import_then_status(cli_env, tmp_path):
    export = small_salesforce_export(tmp_path / "sf")
    out = run(cli_env, "import", "salesforce", str(export))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "26 rows read, 26 imported, 0 rejected"

    report = status(cli_env)
    assert report["database"].startswith(("sqlite:///", "postgresql://"))
    assert "password" not in report["database"]
    assert {k: report["counts"][k] for k in ("users", "accounts", "contacts", "opportunities", "activities")} == {
        "users": 3, "accounts": 3, "contacts": 4, "opportunities": 3, "activities": 3}

    again = run(cli_env, "import", "salesforce", str(export))
    assert again.returncode == 0 and status(cli_env)["counts"] == report["counts"]


def test_rejected_rows_exit_2_with_the_error_file(cli_env, tmp_path):
    export = small_salesforce_export(tmp_path / "sf")
    path = export / "Opportunity.csv"
    path.write_text(path.read_text().replace('"2024-05-30"', '"not a date"'))
    errors = tmp_path / "errors.csv"

    out = run(cli_env, "import", "salesforce", str(export), "--errors", str(errors))

    assert out.returncode == 2, out.stderr
    # the won opportunity, and the 8 rows that hang off it: line items, history, roles, task, event
    assert out.stdout.strip().splitlines()[-1] == f"26 rows read, 17 imported, 9 rejected; rejected rows in {errors}"
    with errors.open() as f:
        reasons = [(r["file"], r["reason"]) for r in csv.DictReader(f)]
    assert ("Opportunity.csv", "close_date: not a date: 'not a date'") in reasons
    assert {reason for file, reason in reasons if file != "Opportunity.csv"} == {"unknown opportunity 006000000000001AAA"}
    assert len(reasons) == 9
    assert status(cli_env)["counts"]["opportunities"] == 2


def test_strict_imports_nothing(cli_env, tmp_path):
    export = small_salesforce_export(tmp_path / "sf")
    path = export / "Account.csv"
    path.write_text(path.read_text().replace('"1200"', '"many"'))
    out = run(cli_env, "import", "salesforce", str(export), "--strict")
    assert out.returncode == 2
    assert "nothing imported: --strict" in out.stdout
    assert sum(status(cli_env)["counts"].values()) == 0


def test_a_broken_export_is_fatal(cli_env, tmp_path):
    export = small_salesforce_export(tmp_path / "sf")
    (export / "Account.csv").unlink()
    out = run(cli_env, "import", "salesforce", str(export))
    assert out.returncode == 1
    assert "nothing imported" in out.stderr and "missing Account.csv" in out.stderr
    bad_zip = tmp_path / "x.zip"
    bad_zip.write_bytes(b"PK\x03\x04 not really a zip")
    assert run(cli_env, "import", "salesforce", str(bad_zip)).returncode == 1


def _big_export(tmp_path, rows: int):
    export = small_salesforce_export(tmp_path / "big")
    with (export / "Account.csv").open("a") as f:  # written by an earlier step of the same transaction
        f.write('"001000000000099AAA","New Co","","","","","","","","","",""\n')
    with (export / "Opportunity.csv").open("a") as f:
        for i in range(rows):
            f.write(f'"006B{i:014d}","Deal {i}","001000000000001AAA","005000000000003AAA","Prospecting","{1000 + i}","USD",'
                    f'"2024-02-01T10:00:00.000Z","2025-05-30","false","false","Web","","","","","",""\n')
    return export


def _wait_until_importing(proc, limit: float = 120) -> None:
    """Until the command has installed its SIGTERM handler, which it does as the import starts (a
    fixed sleep is not enough on a loaded machine, where start-up alone can take seconds)."""
    mask = 1 << (signal.SIGTERM - 1)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        with open(f"/proc/{proc.pid}/status") as f:
            caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
        if caught & mask:
            return
        time.sleep(0.05)
    raise AssertionError("the import did not start in time")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_kill_in_the_middle_leaves_the_database_as_it_was(cli_env, tmp_path, sig):
    assert run(cli_env, "import", "salesforce", str(small_salesforce_export(tmp_path / "sf"))).returncode == 0
    before = status(cli_env)["counts"]
    export = _big_export(tmp_path, 400_000)

    proc = subprocess.Popen([*DEALPILOT, "import", "salesforce", str(export)], env=cli_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_until_importing(proc)
    time.sleep(1.5)  # well into the files
    assert proc.poll() is None, "the import finished before it could be interrupted: make the export bigger"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)

    assert proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 1), err
    if sig != signal.SIGKILL:
        assert "nothing imported: the database is as it was" in err
    assert status(cli_env)["counts"] == before
