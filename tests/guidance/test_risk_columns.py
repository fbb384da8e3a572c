"""Risks where people already look: the opportunity list shows each open deal's win probability (and the
rep's), its change since last week and its number of signals, and sorts by each in the database."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dealpilot.deals.models import WinScore
from dealpilot.deals.scoring import score_open_deals
from dealpilot.forecasting.models import DealSnapshot, SnapshotWeek
from dealpilot.forecasting.rollup import week_of

pytestmark = pytest.mark.django_db


def cells(html: str, testid: str) -> list[str]:
    return [re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in re.findall(rf'data-testid="{testid}"[^>]*>(.*?)</td>', html, re.S)]


def test_the_list_shows_and_sorts_by_probability_change_and_signals(org):
    assert score_open_deals() >= 3
    stored = WinScore.objects.get(opportunity=org.opportunities["rep_amer"][0])
    assert stored.vulnerability_count == len(stored.vulnerabilities) > 0  # the signals of the deal when it was scored
    assert {"code", "title"} <= set(stored.vulnerabilities[0])
    last_week = week_of(timezone.localdate()) - timedelta(days=7)
    SnapshotWeek.objects.create(week=last_week, as_of=last_week, period_start=last_week, period_end=last_week + timedelta(days=90),
                                taken_at=timezone.now())
    dropped = org.opportunities["rep_amer"][0]
    DealSnapshot.objects.create(week=last_week, opportunity=dropped, owner=org.rep_amer, stage=dropped.stage, category="pipeline",
                                probability=stored.probability + 0.3)
    client = Client()
    client.force_login(org.manager_amer)
    html = client.get("/opportunities/", {"status": "open", "sort": "change"}).content.decode()
    assert cells(html, "probability-change")[0] == "-30"  # the biggest drop first
    assert f"{stored.probability * 100:.0f}%" in cells(html, "win-probability")[0] and "rep 60%" in cells(html, "win-probability")[0]
    by_risks = client.get("/opportunities/", {"status": "open", "sort": "risks"}).content.decode()
    counts = [int(c) for c in cells(by_risks, "risk-count")]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0
    assert client.get("/opportunities/", {"sort": "win"}).status_code == 200
    assert client.get("/opportunities/", {"sort": "-nonsense"}).status_code == 200  # an unknown sort falls back to the default


def test_the_team_dashboard_has_a_deals_at_risk_panel(org):
    from tests.factories import make_opportunity

    make_opportunity(org.rep_dach, org.accounts["rep_dach"], name="Late renewal", stage="Negotiation", amount=90000,
                     close_date=timezone.localdate() - timedelta(days=4))
    client = Client()
    client.force_login(org.manager_emea)
    html = client.get("/team/").content.decode()
    panel = html[html.index('data-testid="deals-at-risk"'):]
    panel = panel[:panel.index("</section>")]
    assert "Late renewal" in panel and "Close date passed" in panel
    client.force_login(org.manager_amer)  # another team's deal is not theirs to see
    html = client.get("/team/").content.decode()
    assert "Late renewal" not in html
