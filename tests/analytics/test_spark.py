"""Every metric on PySpark (local mode) gives the same rows as on DuckDB: on the Maven dataset and on
the small hand-made team (stage history, activities, targets). Runs where the `spark` extra is
installed (`pip install -e '.[spark]'`, Java 17+); skipped elsewhere, except under scripts/test.sh
(and so CI), which installs both and sets DEALPILOT_REQUIRE_SPARK=1 so a missing engine fails."""

import importlib.util
import os
import shutil
from datetime import date

import pytest

from dealpilot.analytics import metrics as m
from dealpilot.analytics.frames import frames_for

from .test_small_data import MEETING, team  # noqa: F401  (the hand-made team fixture)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.skipif((importlib.util.find_spec("pyspark") is None or shutil.which("java") is None)
                       and not os.environ.get("DEALPILOT_REQUIRE_SPARK"),
                       reason="the spark extra (PySpark and Java) is not installed"),
]


def same_everywhere(duck, spark, meeting: date, as_of: date) -> None:
    for by in (None, "owner", "product", "region"):
        assert m.velocity(duck, by, "month") == m.velocity(spark, by, "month"), by
    assert m.levers(duck, "team", "quarter") == m.levers(spark, "team", "quarter")
    assert m.pipeline_creation(duck) == m.pipeline_creation(spark)
    assert m.diagnosis(duck) == m.diagnosis(spark)
    assert m.meeting_report(duck, meeting) == m.meeting_report(spark, meeting)
    assert m.forecast(duck, as_of, group_by="team") == m.forecast(spark, as_of, group_by="team")


def test_maven_on_spark(maven_db):
    same_everywhere(frames_for(None, "duckdb"), frames_for(None, "spark"), date(2017, 6, 12), date(2017, 8, 15))


def test_small_team_on_spark(team):  # noqa: F811
    user = team["manager"]
    duck, spark = frames_for(user, "duckdb"), frames_for(user, "spark")
    same_everywhere(duck, spark, MEETING, date(2025, 2, 1))
    assert m.meeting_report(spark, MEETING)["pushed_back"]  # the sections are not trivially empty
    assert {r["group"] for r in m.velocity(frames_for(team["bob"], "spark"), "owner")} == {"Bob Rep"}
