"""`dealpilot report` through the real command-line parser (typer), on the Maven dataset."""

import csv
import io
import json

import pytest
from django.db import connection
from typer.testing import CliRunner

from dealpilot.analytics.metrics import VELOCITY_COLUMNS
from dealpilot.cli import app

from .hand import Maven

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def run(*args):
    return CliRunner().invoke(app, ["report", *args])


def test_velocity_as_json_csv_and_table(maven_db):
    out = run("velocity", "--group-by", "team", "--period", "quarter", "--format", "json")
    assert out.exit_code == 0, out.output
    document = json.loads(out.stdout)
    rows = document["rows"]  # one object with the rows, like every list of the CLI
    assert document["report"] == "velocity" and document["count"] == len(rows)
    assert rows and all(tuple(r) == VELOCITY_COLUMNS for r in rows)
    want = Maven(maven_db).velocity("team")
    assert [(r["group"], r["period"], r["opportunities"], r["won"]) for r in rows] == [
        (r["group"], r["period"], r["opportunities"], r["won"]) for r in want]

    out = run("velocity", "--period", "year", "--from", "2017-01-01", "--to", "2017-12-31", "--format", "csv")
    assert out.exit_code == 0, out.output
    table = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["period"] for r in table] == ["2017"] and table[0]["group"] == "all"

    out = run("diagnosis", "--as", "anna.snelling")
    assert out.exit_code == 0, out.output
    assert "Anna Snelling" in out.stdout and "Boris Faz" not in out.stdout


def test_every_report_runs_and_bad_arguments_exit_2(maven_db):
    for name in ("levers", "pipeline-creation", "meeting", "forecast"):
        out = run(name, "--format", "json")
        assert out.exit_code == 0, (name, out.output)
        assert json.loads(out.stdout)
    for args, message in [(("speed",), "unknown report"), (("velocity", "--group-by", "colour"), "--group-by"),
                          (("velocity", "--as", "nobody"), "no user"), (("velocity", "--engine", "oracle"), "unknown engine"),
                          (("velocity", "--format", "xml"), "--format")]:
        out = run(*args)
        assert out.exit_code == 2 and message in out.output, (args, out.output)


def test_engine_postgres(maven_db):
    out = run("velocity", "--engine", "postgres", "--format", "json")
    if connection.vendor == "postgresql":
        assert out.exit_code == 0, out.output
        assert json.loads(out.stdout) == json.loads(run("velocity", "--format", "json").stdout)
    else:
        assert out.exit_code == 2 and "PostgreSQL" in out.output
