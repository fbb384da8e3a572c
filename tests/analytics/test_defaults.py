"""Default windows: open deals carry expected close dates in the future, so the diagnosis window and the
forecast's current period end at the latest *closed* deal, never after today."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from dealpilot.analytics import metrics as m
from dealpilot.analytics.frames import frames_for
from tests.factories import make_account, make_opportunity, make_team, make_user

pytestmark = pytest.mark.django_db


def test_defaults_end_at_the_latest_closed_deal_not_at_an_open_deals_expected_close():
    team = make_team("Solo")
    rep = make_user(team=team, username="solo.rep")
    account = make_account(rep)
    closed_on = date(2025, 3, 14)
    for i in range(12):  # enough closed deals to be judged
        make_opportunity(rep, account, stage="Closed Won" if i % 2 else "Closed Lost", status="won" if i % 2 else "lost",
                         created_date=closed_on - timedelta(days=60), close_date=closed_on - timedelta(days=i))
    make_opportunity(rep, account, stage="Proposal", created_date=closed_on, close_date=timezone.localdate() + timedelta(days=400))

    f = frames_for(None)
    assert m.latest_date(f, "close_date") == timezone.localdate()  # an open deal's future date, capped at today
    assert m.latest_date(f, "close_date", closed_only=True) == closed_on

    [row] = m.diagnosis(f)
    assert row["closed"] == 12 and row["win_rate"] == 0.5  # the window holds the closed deals
    assert {r["period"] for r in m.forecast(f) if r["current"]} == {"2025-Q1"}  # the quarter of the last closed deal
