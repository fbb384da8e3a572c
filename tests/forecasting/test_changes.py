"""Deal inspection: what changed from one weekly snapshot to the next, per team, filtered and sorted; and,
before two snapshots exist, from the stage history."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from dealpilot.crm.models import StageHistory
from dealpilot.forecasting import selectors, services
from dealpilot.forecasting.changes import ChangesError, deal_changes
from dealpilot.forecasting.rollup import week_of
from tests.factories import add_stage_change, make_opportunity

from .conftest import score

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_weeks(quarter):
    """A snapshot a week ago, a week of changes, and this week's snapshot."""
    org, deals, period = quarter.org, quarter.deals, quarter.period
    now = timezone.now()
    later = make_opportunity(org.rep_emea, name="next quarter deal", amount=12000, stage="Needs Analysis",
                             close_date=period.next().start + timedelta(days=5))
    score(later, 0.3)
    add_stage_change(deals["manager best"], "Proposal/Price Quote", now - timedelta(days=20))
    services.take_snapshot(now=now - timedelta(days=7))
    d = deals
    d["emea commit"].close_date = period.next().start + timedelta(days=10)
    d["emea commit"].amount = Decimal(18000)
    d["emea best"].is_closed, d["emea best"].is_won, d["emea best"].stage = True, True, "Closed Won"
    d["emea pipe"].is_closed, d["emea pipe"].stage = True, "Closed Lost"
    d["dach commit"].stage = "Needs Analysis"
    d["amer commit"].amount = Decimal(60000)
    for name in ("emea commit", "emea best", "emea pipe", "dach commit", "amer commit"):
        d[name].save()
    score(d["dach commit"], 0.6)
    services.set_category(org.rep_amer, d["amer commit"].pk, "best_case", "Procurement added a step")
    later.close_date = period.start + timedelta(days=25)
    later.save()
    # back a stage and forward again between the snapshots: seen in the stage history
    add_stage_change(d["manager best"], "Needs Analysis", now - timedelta(days=3))
    add_stage_change(d["manager best"], "Proposal/Price Quote", now - timedelta(days=2))
    make_opportunity(org.rep_emea, name="brand new", amount=8000, stage="Prospecting", created_date=timezone.localdate(),
                     close_date=period.end)
    services.take_snapshot(now=now)
    quarter.deals["next quarter deal"] = later
    return quarter


def kinds(result) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in result.rows:
        out.setdefault(r.deal, set()).add(r.kind)
    return out


def test_week_over_week_from_two_snapshots(two_weeks):
    org, period = two_weeks.org, two_weeks.period
    result = deal_changes(org.leader, None)
    assert result.source == "snapshots" and result.week == week_of(timezone.localdate())
    assert result.since == result.week - timedelta(days=7)
    assert kinds(result) == {
        "emea commit": {"pushed", "amount_down"},
        "emea best": {"won"},
        "emea pipe": {"lost"},
        "dach commit": {"stage_back", "probability"},
        "amer commit": {"amount_up", "category"},
        "next quarter deal": {"pulled_in"},
        "manager best": {"stage_back"},
        "brand new": {"new"},
    }
    by = {(r.deal, r.kind): r for r in result.rows}
    assert (by["emea commit", "pushed"].change, by["emea commit", "amount_down"].change) == (-20000, None)
    assert by["emea best", "won"].change == 40000 and by["emea pipe", "lost"].change == -5000
    assert (by["dach commit", "probability"].before, by["dach commit", "probability"].after) == ("80%", "60%")
    assert (by["amer commit", "category"].before, by["amer commit", "category"].after) == ("Commit", "Best case")
    assert by["manager best", "stage_back"].source == "stage history"
    assert by["brand new", "new"].change == 8000
    # the period's open pipeline, step by step, adds up exactly
    bridge = {s["kind"]: s["amount"] for s in result.bridge}
    assert bridge["start"] == 156000 and bridge["end"] == 121000
    assert bridge == {"start": 156000, "won": -40000, "lost": -5000, "pushed": -20000, "new": 8000, "pulled_in": 12000,
                      "amount": 10000, "end": 121000}
    teams = {t["team"]: t for t in result.by_team()}
    assert set(teams) == {"EMEA", "DACH", "Americas"}
    assert (teams["EMEA"]["deals"], teams["EMEA"]["pushed"], teams["EMEA"]["won"], teams["EMEA"]["change"]) == (
        6, 1, 1, -20000 + 40000 - 5000 + 12000 + 8000)  # with the manager's own deal
    assert (teams["DACH"]["stage_back"], teams["Americas"]["category"], teams["Americas"]["change"]) == (1, 1, 10000)
    counts = {c["kind"]: (c["deals"], c["change"]) for c in result.counts()}
    assert counts["pushed"] == (1, -20000) and counts["stage_back"] == (2, None)
    assert period.label == result.period.label


def test_scope_filters_and_sorting(two_weeks):
    org = two_weeks.org
    rep = deal_changes(org.rep_emea, selectors.scope_of(org.rep_emea))
    assert set(kinds(rep)) == {"emea commit", "emea best", "emea pipe", "next quarter deal", "brand new"}
    manager = deal_changes(org.manager_emea, selectors.scope_of(org.manager_emea), team_id=org.teams["dach"].pk)
    assert set(kinds(manager)) == {"dach commit"}
    with pytest.raises(ChangesError):
        deal_changes(org.manager_emea, selectors.scope_of(org.manager_emea), team_id=org.teams["amer"].pk)
    with pytest.raises(ChangesError):
        deal_changes(org.manager_emea, selectors.scope_of(org.manager_emea), owner_id=org.rep_amer.pk)
    only = deal_changes(org.leader, None, kinds=["pushed", "won"])
    assert {r.kind for r in only.rows} == {"pushed", "won"}
    by_change = deal_changes(org.leader, None, sort="-change")
    changes = [r.change for r in by_change.rows]
    assert abs(changes[0]) == 40000 and changes[-1] is None
    by_deal = deal_changes(org.leader, None, sort="deal")
    assert [r.deal.lower() for r in by_deal.rows] == sorted(r.deal.lower() for r in by_deal.rows)
    with pytest.raises(ChangesError):
        deal_changes(org.leader, None, sort="colour")


def test_the_api_and_the_page_show_the_changes(two_weeks):
    from django.test import Client

    org = two_weeks.org
    c = Client()
    c.force_login(org.manager_emea)
    r = c.get(f"/api/forecast/users/{org.manager_emea.pk}/changes", {"kind": ["won", "lost"], "sort": "owner"})
    assert r.status_code == 200
    body = r.json()
    assert body["source"] == "snapshots" and {row["kind"] for row in body["rows"]} == {"won", "lost"}
    assert [row["deal"] for row in body["rows"]] == ["emea best", "emea pipe"]
    page = c.get(f"/forecast/users/{org.manager_emea.pk}/", {"kind": "pushed"}).content.decode()
    assert "Pushed out of the period" in page and "emea commit" in page and "forecast-bridge" in page
    assert 'data-testid="changes-by-team"' not in page  # one team's changes only
    page = c.get(f"/forecast/users/{org.manager_emea.pk}/").content.decode()
    assert 'data-testid="changes-by-team"' in page  # EMEA and DACH
    csv = c.get(f"/forecast/users/{org.manager_emea.pk}/changes.csv", {"kind": "pushed"}).content.decode()
    assert csv.count("\n") == 2 and "-20000" in csv


def test_before_two_snapshots_the_stage_history_tells(quarter):
    org, deals, period = quarter.org, quarter.deals, quarter.period
    week = week_of(timezone.localdate())
    monday = timezone.make_aware(datetime.combine(week, time(0, 30)))
    add_stage_change(deals["dach commit"], "Proposal/Price Quote", monday - timedelta(days=10))
    add_stage_change(deals["dach commit"], "Needs Analysis", monday + timedelta(minutes=30))
    h = add_stage_change(deals["amer commit"], "Proposal/Price Quote", monday - timedelta(days=10), amount=50000)
    StageHistory.objects.filter(pk=h.pk).update(close_date=period.end)
    h = add_stage_change(deals["amer commit"], "Proposal/Price Quote", monday + timedelta(minutes=40), amount=55000)
    StageHistory.objects.filter(pk=h.pk).update(close_date=period.next().start + timedelta(days=3))
    won = make_opportunity(org.rep_emea, name="won this week", amount=7000, status="won", stage="Closed Won",
                           close_date=week + timedelta(days=1))
    add_stage_change(won, "Closed Won", monday + timedelta(hours=1))
    make_opportunity(org.rep_emea, name="made this week", created_date=week, close_date=period.end, amount=3000)
    result = deal_changes(org.leader, None)
    assert result.source == "stage history" and result.since is None and "stage history" in result.notes[0]
    assert kinds(result) == {"dach commit": {"stage_back"}, "amer commit": {"pushed", "amount_up"},
                             "won this week": {"won"}, "made this week": {"new"}}
