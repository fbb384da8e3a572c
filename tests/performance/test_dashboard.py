"""The team dashboard page and its CSV downloads: who may open it, that a manager sees only their
team subtree in every section, that the downloads hold the report rows for the page's filters, and
that bad filters are explained, never a 500."""

import json
import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils import timezone

from dealpilot.analytics.report import TEAM_REPORTS, render, report_rows
from dealpilot.crm.models import SalesTarget, User
from dealpilot.performance import selectors
from tests.factories import build_showcase_org

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

DASHBOARD = reverse("performance:dashboard")
EMEA = ("Sofia Marino", "Jonas Berg")
AMERICAS = ("Marcus Hale", "Priya Raman")
SECTIONS = ("attention", "velocity", "pipeline-creation", "diagnosis", "forecast", "meeting")


@pytest.fixture
def showcase(db):
    """The showcase organisation (Henrik Lund manages EMEA: Sofia and Jonas; Dana Brooks the
    Americas: Marcus and Priya), with a quarterly target for every rep."""
    data = build_showcase_org()
    today = timezone.localdate()
    start = selectors.periods_back(selectors.m.period_start(today, "quarter"), "quarter", 0)
    end = selectors.m.next_period_start(start, "quarter") - timedelta(days=1)
    for rep in User.objects.filter(role="rep"):
        SalesTarget.objects.create(owner=rep, period_start=start, period_end=end, amount=Decimal("150000"))
    data["manager"] = User.objects.get(username="henrik.mgr")
    return data


def section(html: str, name: str) -> str:
    """The HTML of one dashboard section (up to the next section)."""
    start = html.index(f'data-testid="{name}"')
    end = html.find("<section", start)
    return html[start:] if end < 0 else html[start:end]


def login(client, username: str):
    client.force_login(User.objects.get(username=username))


# ---- who may open it ---------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(client, showcase):
    for url in (DASHBOARD, reverse("performance:csv", args=["velocity"])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


@pytest.mark.parametrize("viewer", ["rep_emea", "enablement"])
def test_reps_and_enablement_get_404(client, org, viewer):
    client.force_login(org.user(viewer))
    assert client.get(DASHBOARD).status_code == 404
    for name in TEAM_REPORTS:
        assert client.get(reverse("performance:csv", args=[name])).status_code == 404
    nav = client.get(reverse("crm:opportunity_list")).content.decode()
    assert f'href="{DASHBOARD}"' not in nav  # and the nav does not offer it


@pytest.mark.parametrize("viewer", ["leader", "admin", "manager_emea", "manager_amer"])
def test_managers_leaders_and_admins_open_it_from_the_nav(client, org, viewer):
    client.force_login(org.user(viewer))
    nav = client.get(reverse("crm:opportunity_list")).content.decode()
    assert f'href="{DASHBOARD}"' in nav
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    for name in SECTIONS:
        assert f'data-testid="{name}"' in html
    assert "plotly" in html and "web/charts.js" in html


def test_a_manager_sees_only_their_subtree_in_every_section(client, showcase):
    login(client, "henrik.mgr")
    for query in ("", "?group_by=owner"):
        html = client.get(DASHBOARD + query).content.decode()
        for name in SECTIONS:
            part = section(html, name)
            for other in AMERICAS:
                assert other not in part, (name, other)
        for name in ("attention", "pipeline-creation", "diagnosis", "meeting"):
            for rep in EMEA:
                assert rep in section(html, name), (name, rep)
    by_rep = client.get(DASHBOARD + "?group_by=owner").content.decode()
    assert all(rep in section(by_rep, "velocity") for rep in ("Sofia Marino",))  # Sofia closed deals in the window


def test_a_leader_sees_every_rep(client, showcase):
    login(client, "claire.leader")
    html = client.get(DASHBOARD).content.decode()
    for name in ("pipeline-creation", "diagnosis", "meeting"):
        for rep in EMEA + AMERICAS:
            assert rep in section(html, name), (name, rep)
    forecast = section(html, "forecast")
    assert all(rep in forecast for rep in EMEA + AMERICAS)  # every rep has a target this quarter


# ---- what the sections show ------------------------------------------------------------------------


def chart_figure(html: str, chart_id: str) -> dict:
    found = re.search(rf'<script id="{chart_id}-[0-9a-f]{{6}}-figure" type="application/json">(.*?)</script>', html, re.S)
    assert found, chart_id
    return json.loads(found.group(1))


def test_every_chart_has_its_numbers_and_a_csv_link(client, showcase):
    login(client, "claire.leader")
    html = client.get(DASHBOARD).content.decode()
    charts = re.findall(r'<figure class="chart" data-chart="([\w-]+)-[0-9a-f]{6}">', html)
    assert {"chart-velocity", "chart-levers", "chart-creation", "chart-diagnosis", "chart-forecast", "chart-coverage"} <= set(charts)
    for chart_id in charts:
        figure = html[html.index(f'data-chart="{chart_id}-'):]
        figure = figure[:figure.index("</figure>")]
        assert '<details class="chart-numbers">' in figure, chart_id
        assert re.search(r'class="chart-csv" href="/team/csv/[\w-]+/\?', figure), chart_id
        assert chart_figure(html, chart_id)["data"], chart_id


def test_the_sections_draw_the_metric_rows(client, showcase):
    manager = showcase["manager"]
    client.force_login(manager)
    html = client.get(DASHBOARD + "?more_deals=20&win_points=5&shorter_cycle=7&goal=900000").content.decode()
    d = selectors.team_dashboard(manager, {"more_deals": 20.0, "win_points": 5.0, "shorter_cycle": 7.0, "goal": 900000})
    w = d.window
    velocity = report_rows("velocity", **w.report_params("velocity"), as_user=manager.username)
    trend = chart_figure(html, "chart-velocity")["data"]
    assert [p for p in trend[0]["x"]] == [r["period"] for r in velocity]
    assert trend[0]["y"] == [r["velocity"] for r in velocity]
    # the heat-map: one row per rep, one column per ISO week, the counts of the report
    creation = report_rows("pipeline-creation", **w.report_params("pipeline-creation"), as_user=manager.username)
    heat = chart_figure(html, "chart-creation")["data"][0]
    assert sorted(heat["y"]) == sorted({r["rep"] for r in creation})
    cells = {(rep, week): z for rep, row in zip(heat["y"], heat["z"]) for week, z in zip(heat["x"], row)}
    assert cells == {(r["rep"], r["week"]): r["created"] for r in creation}
    # the diagnosis table: each rep with the report's verdict and sentence
    diagnosis = report_rows("diagnosis", **w.report_params("diagnosis"), as_user=manager.username)
    table = section(html, "diagnosis")
    for r in diagnosis:
        assert r["rep"] in table and r["verdict"] in table
        assert r["reason"].replace("'", "&#x27;") in table
    # the what-if: each lever alone, in its own unit: 20% more deals, 10% bigger (the default), 5 points of win
    # rate, a week off the cycle; each changes velocity by its own effect
    base = next(r for r in velocity if r["period"] == d.what_if_period)
    expected = {"opportunities": base["velocity"] * 1.2, "avg_deal_value": base["velocity"] * 1.1,
                "win_rate": base["velocity"] * min(1.0, base["win_rate"] + 0.05) / base["win_rate"],  # 100% at most
                "cycle_days": base["velocity"] * base["cycle_days"] / (base["cycle_days"] - 7)}
    assert {r["lever"]: r["what_if_velocity"] for r in d.what_ifs} == pytest.approx(expected)
    for r in d.what_ifs:
        assert f"{r['what_if_velocity']:,.0f}" in section(html, "velocity")
    # the goal seek: each lever alone to reach 900,000 a period
    goal = 900000 / (365.25 / 12 if d.window.period == "month" else 365.25 / 4 if d.window.period == "quarter" else 365.25)
    needed = {r["lever"]: r["needed"] for r in d.goal_seeks}
    assert needed["opportunities"] == pytest.approx(base["opportunities"] * goal / base["velocity"])
    assert needed["cycle_days"] == pytest.approx(base["cycle_days"] * base["velocity"] / goal)
    assert 'data-testid="goal-seek"' in html
    # the meeting: every deal links to its opportunity page
    meeting = report_rows("meeting", **w.report_params("meeting"), as_user=manager.username)
    links = set(map(int, re.findall(r'href="/opportunities/(\d+)/"', section(html, "meeting"))))
    assert links == {r["id"] for r in meeting}


def test_the_waterfall_splits_the_change_between_the_last_full_periods(client, db):
    from datetime import date

    from tests.factories import make_opportunity, make_team, make_user

    team = make_team("Nordics")
    manager = make_user("manager", team=team, username="nina")
    rep = make_user("rep", team=team, username="rolf")
    # Q1 and Q2 of 2025 closed; the data ends mid-Q3 (Q3 still running)
    for created, closed, amount, won in [(date(2025, 1, 2), date(2025, 2, 1), 1000, True), (date(2025, 1, 5), date(2025, 3, 1), 500, False),
                                         (date(2025, 4, 1), date(2025, 4, 21), 3000, True), (date(2025, 4, 2), date(2025, 5, 2), 2000, True),
                                         (date(2025, 7, 1), date(2025, 7, 20), 800, True)]:
        make_opportunity(rep, None, status="won" if won else "lost", amount=amount, created_date=created, close_date=closed,
                         stage="Closed Won" if won else "Closed Lost")
    client.force_login(manager)
    html = client.get(DASHBOARD).content.decode()
    d = selectors.team_dashboard(manager, {})
    assert d.window.end == date(2025, 7, 20) and d.lever_pair.skipped_partial == "2025-Q3"
    assert (d.lever_pair.from_period, d.lever_pair.to_period) == ("2025-Q1", "2025-Q2")
    waterfall = chart_figure(html, "chart-waterfall")["data"][0]
    row = d.lever_pair.rows[0]
    assert waterfall["type"] == "waterfall"
    assert waterfall["y"][0] == row["velocity_before"] and waterfall["y"][-1] == row["velocity_after"]
    assert sum(waterfall["y"][1:-1]) == pytest.approx(row["velocity_after"] - row["velocity_before"])
    assert "What moved velocity from 2025-Q1 to 2025-Q2" in html
    assert "2025-Q3 is still running" in html


def test_an_organisation_without_deals_gets_an_empty_dashboard(client, org):
    from dealpilot.crm.models import Opportunity

    Opportunity.objects.all().delete()
    client.force_login(org.leader)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    assert b"No deals closed between" in response.content


# ---- filters -----------------------------------------------------------------------------------------


def test_defaults_are_eight_quarters_up_to_the_latest_data(client, showcase):
    manager = showcase["manager"]
    client.force_login(manager)
    html = client.get(DASHBOARD).content.decode()
    w = selectors.team_dashboard(manager, {}).window
    assert w.period == "quarter" and w.end == selectors.latest_day(manager)
    assert w.start == selectors.periods_back(selectors.m.period_start(w.end, "quarter"), "quarter", 7)
    assert f'value="{w.start.isoformat()}"' in html and f'value="{w.end.isoformat()}"' in html  # shown in the form


def test_filters_change_every_section_and_the_downloads(client, showcase):
    login(client, "claire.leader")
    today = timezone.localdate()
    start = (today - timedelta(days=200)).isoformat()
    html = client.get(DASHBOARD, {"period": "month", "from": start, "to": today.isoformat(), "group_by": "owner"}).content.decode()
    trend = chart_figure(html, "chart-velocity")["data"]
    assert {t["name"] for t in trend} <= set(EMEA + AMERICAS) and len(trend) > 1
    assert all(re.fullmatch(r"\d{4}-\d\d", p) for t in trend for p in t["x"])  # months
    for href in re.findall(r'href="(/team/csv/[\w-]+/\?[^"]+)"', html):
        q = parse_qs(urlparse(href.replace("&amp;", "&")).query)
        assert q["period"] == ["month"] and q["from"] == [start] and q["group_by"] == ["owner"]


@pytest.mark.parametrize("query,field", [
    ({"period": "week"}, "period"), ({"from": "2025-13-01"}, "from"), ({"to": "yesterday"}, "to"),
    ({"group_by": "planet"}, "group_by"), ({"more_deals": "lots"}, "more_deals"), ({"win_points": "250"}, "win_points"),
    ({"goal": "-5"}, "goal"),
    ({"from": "2025-06-01", "to": "2025-01-01"}, "from"),
])
def test_bad_filters_are_explained_and_the_defaults_used(client, showcase, query, field):
    login(client, "henrik.mgr")
    response = client.get(DASHBOARD, query)
    assert response.status_code == 200
    assert b'class="field-errors"' in response.content
    csv = client.get(reverse("performance:csv", args=["velocity"]), query)
    assert csv.status_code == 400 and field.encode() in csv.content


def test_an_unknown_csv_is_404(client, showcase):
    login(client, "henrik.mgr")
    assert client.get(reverse("performance:csv", args=["magic"])).status_code == 404


def test_htmx_requests_get_the_dashboard_without_the_page_around_it(client, showcase):
    login(client, "henrik.mgr")
    response = client.get(DASHBOARD, {"period": "year"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and 'id="dashboard-filters"' in html
    assert "HX-Request" in response["Vary"]
    full = client.get(DASHBOARD).content.decode()
    assert "<html" in full and 'hx-get="/team/"' in full


# ---- CSV downloads -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEAM_REPORTS)
def test_each_csv_holds_the_report_rows_for_the_page_filters(client, showcase, name):
    manager = showcase["manager"]
    client.force_login(manager)
    html = client.get(DASHBOARD).content.decode()
    hrefs = {h.replace("&amp;", "&") for h in re.findall(rf'href="(/team/csv/{name}/\?[^"]+)"', html)}
    assert hrefs, f"no download of {name} on the page"
    w = selectors.team_dashboard(manager, {}).window
    expected = render(report_rows(name, **w.report_params(name), as_user=manager.username), "csv")
    for href in hrefs:
        response = client.get(href)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"].startswith(f'attachment; filename="{name}-')
        assert response.content.decode() == expected
    for other in AMERICAS:
        assert other not in expected


def test_a_csv_without_filters_uses_the_page_defaults(client, showcase):
    login(client, "henrik.mgr")
    bare = client.get(reverse("performance:csv", args=["diagnosis"])).content
    html = client.get(DASHBOARD).content.decode()
    href = re.search(r'href="(/team/csv/diagnosis/\?[^"]+)"', html).group(1).replace("&amp;", "&")
    assert bare == client.get(href).content and bare.startswith(b"rep,team,")
