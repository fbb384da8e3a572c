"""GET /api/performance/{metric}: the rows of `dealpilot report {metric} --format json` for the
caller's own scope; enablement 404, anonymous 401, bad parameters a clear 4xx."""

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from dealpilot.analytics.report import TEAM_REPORTS, render, report_rows
from dealpilot.crm.models import SalesTarget, User
from tests.factories import add_stage_change, build_showcase_org, make_opportunity

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
BASE = "/api/performance"


@pytest.fixture
def showcase(db):
    data = build_showcase_org()
    today = timezone.localdate()
    for rep in User.objects.filter(role="rep"):
        SalesTarget.objects.create(owner=rep, period_start=today.replace(day=1), period_end=today.replace(day=1) + timedelta(days=20),
                                   amount=Decimal("90000"))
    # a deal pushed back a stage this week, so the meeting has all four sections
    sofia = User.objects.get(username="sofia.rep")
    deal = make_opportunity(sofia, None, name="pushed back", stage="Qualification", amount=1000,
                            created_date=today - timedelta(days=60), close_date=today + timedelta(days=30))
    add_stage_change(deal, "Proposal", today - timedelta(days=20), probability=60)
    add_stage_change(deal, "Qualification", today - timedelta(days=2), probability=20)
    return data


def normalise(rows: list[dict]) -> list[dict]:
    """Moments written as ISO text compare as moments (pydantic says Z where isoformat says +00:00)."""
    out = []
    for row in rows:
        fixed = {}
        for k, v in row.items():
            if isinstance(v, str) and len(v) > 10 and v[4] == "-" and "T" in v:
                v = datetime.fromisoformat(v.replace("Z", "+00:00"))
            fixed[k] = v
        out.append(fixed)
    return out


def expected(name: str, username: str, **params) -> list[dict]:
    return normalise(json.loads(render(report_rows(name, as_user=username, **params), "json")))


@pytest.mark.parametrize("username", ["claire.leader", "henrik.mgr", "sofia.rep"])
@pytest.mark.parametrize("name", TEAM_REPORTS)
def test_rows_equal_the_report_for_the_callers_scope(client, showcase, username, name):
    client.force_login(User.objects.get(username=username))
    response = client.get(f"{BASE}/{name}")
    assert response.status_code == 200, response.content
    assert normalise(response.json()) == expected(name, username)


@pytest.mark.parametrize("name", TEAM_REPORTS)
def test_the_query_parameters_are_the_reports(client, showcase, name):
    client.force_login(User.objects.get(username="henrik.mgr"))
    today = timezone.localdate()
    start, end = today - timedelta(days=400), today
    params = {"group_by": "team" if name == "forecast" else "owner", "period": "month", "from": start.isoformat(),
              "to": end.isoformat(), "engine": "duckdb"}
    response = client.get(f"{BASE}/{name}", params)
    assert response.status_code == 200, response.content
    assert normalise(response.json()) == expected(name, "henrik.mgr", group_by=params["group_by"], period="month", start=start,
                                                  end=end)


def test_velocity_rows_carry_exactly_the_documented_columns(client, showcase):
    client.force_login(User.objects.get(username="claire.leader"))
    rows = client.get(f"{BASE}/velocity", {"group_by": "owner"}).json()
    assert rows and all(list(r) == ["group", "period", "opportunities", "won", "win_rate", "avg_deal_value", "cycle_days",
                                    "velocity"] for r in rows)
    names = {r["group"] for r in rows}
    assert names <= {"Sofia Marino", "Jonas Berg", "Marcus Hale", "Priya Raman"} and len(names) > 1


def test_a_manager_and_a_rep_see_only_their_scope(client, showcase):
    client.force_login(User.objects.get(username="henrik.mgr"))
    reps = {r["rep"] for r in client.get(f"{BASE}/diagnosis").json()}
    assert reps == {"Sofia Marino", "Jonas Berg"}
    client.force_login(User.objects.get(username="sofia.rep"))
    assert {r["group"] for r in client.get(f"{BASE}/velocity", {"group_by": "owner"}).json()} == {"Sofia Marino"}
    assert {r["owner"] for r in client.get(f"{BASE}/meeting").json()} <= {"Sofia Marino"}


def test_meeting_rows_carry_only_their_sections_columns(client, showcase):
    today = timezone.localdate()
    make_opportunity(User.objects.get(username="jonas.rep"), None, name="brand new", created_date=today - timedelta(days=1))
    client.force_login(User.objects.get(username="claire.leader"))
    rows = client.get(f"{BASE}/meeting", {"to": (today + timedelta(days=1)).isoformat()}).json()
    sections = {r["section"] for r in rows}
    assert "pushed_back" in sections and "new" in sections
    for r in rows:
        assert ("from_stage" in r) is (r["section"] == "pushed_back")
        assert ("why" in r) is (r["section"] == "slipped")


def test_enablement_gets_404_and_anonymous_401(client, org):
    for name in TEAM_REPORTS:
        assert client.get(f"{BASE}/{name}").status_code == 401
    client.force_login(org.enablement)
    for name in TEAM_REPORTS:
        response = client.get(f"{BASE}/{name}")
        assert response.status_code == 404 and response.json() == {"detail": "Not found"}


@pytest.mark.parametrize("params,status,words", [
    ({"period": "week"}, 422, "period"),
    ({"group_by": "planet"}, 422, "group_by"),
    ({"from": "2025-02-30"}, 422, "from"),
    ({"to": "soon"}, 422, "to"),
    ({"engine": "excel"}, 422, "engine"),
    ({"from": "2025-06-01", "to": "2025-01-01"}, 422, "`from` must be on or before `to`"),
])
def test_bad_parameters_get_a_clear_4xx(client, org, params, status, words):
    client.force_login(org.leader)
    response = client.get(f"{BASE}/velocity", params)
    assert response.status_code == status
    assert words in json.dumps(response.json())


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the postgres engine runs there")
def test_an_engine_that_cannot_run_here_is_400(client, org):
    client.force_login(org.leader)
    response = client.get(f"{BASE}/velocity", {"engine": "postgres"})
    assert response.status_code == 400 and "PostgreSQL" in response.json()["detail"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs the app on PostgreSQL")
def test_the_postgres_engine_gives_the_same_rows(client, showcase):
    client.force_login(User.objects.get(username="henrik.mgr"))
    for name in TEAM_REPORTS:
        duck = client.get(f"{BASE}/{name}").json()
        pg = client.get(f"{BASE}/{name}", {"engine": "postgres"}).json()
        assert normalise(pg) == normalise(duck), name


def test_the_openapi_schema_types_every_metric(client, org):
    client.force_login(org.leader)
    schema = client.get("/api/openapi.json").json()
    for name in TEAM_REPORTS:
        operation = schema["paths"][f"{BASE}/{name}"]["get"]
        params = {p["name"] for p in operation["parameters"]}
        assert {"group_by", "period", "from", "to", "engine"} <= params
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"]
        assert ref.startswith("#/components/schemas/")
    velocity = schema["components"]["schemas"]["VelocityRow"]
    assert list(velocity["properties"]) == ["group", "period", "opportunities", "won", "win_rate", "avg_deal_value",
                                            "cycle_days", "velocity"]
