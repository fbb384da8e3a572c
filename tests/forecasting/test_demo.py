"""The demo's forecast: two weeks of the rhythm for the first demo manager's team, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dealpilot.demo.loader import demo_org
from dealpilot.forecasting import demo, selectors
from dealpilot.forecasting.changes import deal_changes
from dealpilot.forecasting.models import CategoryChange, ForecastCall, ForecastSnapshot, SnapshotWeek
from dealpilot.forecasting.rollup import week_of
from tests.factories import add_stage_change

pytestmark = pytest.mark.django_db


def test_two_weeks_of_calls_snapshots_and_changes(quarter):
    org, deals = quarter.org, quarter.deals
    today = timezone.localdate()
    # what the stage history says about last week: 'dach commit' was a step further then
    add_stage_change(deals["dach commit"], "Negotiation/Review", today - timedelta(days=20))
    add_stage_change(deals["dach commit"], "Proposal/Price Quote", today - timedelta(days=2))
    demo.seed_team(org.manager_emea, today=today, data_day=today)
    weeks = list(SnapshotWeek.objects.order_by("week").values_list("week", flat=True))
    assert weeks == [week_of(today) - timedelta(days=7), week_of(today)]
    assert ForecastSnapshot.objects.filter(week=weeks[0]).count() == ForecastSnapshot.objects.filter(week=weeks[1]).count() == 6
    # last week's calls and this week's; the second rep adjusted their call and the manager overrode it
    kinds = set(ForecastCall.objects.values_list("person__username", "kind", "week"))
    assert {("rep_emea", "call", weeks[0]), ("rep_dach", "call", weeks[0]), ("manager_emea", "call", weeks[0]),
            ("rep_emea", "call", weeks[1]), ("rep_dach", "call", weeks[1]), ("rep_dach", "override", weeks[1]),
            ("manager_emea", "call", weeks[1]), ("leader", "call", weeks[1])} == kinds
    assert CategoryChange.objects.filter(is_override=True).exists()
    f = selectors.person_forecast(org.manager_emea, quarter.period)
    assert f.call is not None and f.calls.own.submitted_by == org.manager_emea
    changes = deal_changes(org.manager_emea, selectors.scope_of(org.manager_emea))
    assert changes.source == "snapshots"
    assert ("dach commit", "stage_back") in {(r.deal, r.kind) for r in changes.rows}
    assert ("emea best", "category") in {(r.deal, r.kind) for r in changes.rows}
    last = ForecastSnapshot.objects.get(week=weeks[0], person=org.rep_emea)
    assert last.call is not None and last.model_p10 <= last.model_p50 <= last.model_p90 and last.model_expected > 0


def test_seed_demo_finds_the_first_demo_manager_and_runs_once(quarter):
    org = quarter.org
    org.manager_emea.crm_id = demo_org().managers[0].id
    org.manager_emea.save()
    demo.seed_demo()
    counts = (ForecastCall.objects.count(), SnapshotWeek.objects.count(), CategoryChange.objects.count())
    assert counts[0] > 0 and counts[1] == 2
    demo.seed_demo()
    assert (ForecastCall.objects.count(), SnapshotWeek.objects.count(), CategoryChange.objects.count()) == counts
