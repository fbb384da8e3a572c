"""The roll-up, the calls and the categories on the hand-worked quarter of conftest.py."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from dealpilot.concurrency import StaleWrite
from dealpilot.forecasting import selectors, services
from dealpilot.forecasting.models import CategoryChange, ForecastCall
from dealpilot.forecasting.services import ForecastError, NotVisible

pytestmark = pytest.mark.django_db


def forecast(user, q):
    return selectors.person_forecast(user, q.period)


def test_a_reps_forecast_hand_computed(quarter):
    f = forecast(quarter.org.rep_emea, quarter)
    m = f.model
    # open deals: 20,000 x 0.5 + 40,000 x 0.25 + 5,000 x 0.1 = 20,500; with 10,000 won
    assert (m.won, m.won_deals, m.open_deals) == (10000.0, 1, 3)
    assert m.expected == 30500.0
    # the eight outcomes of the three open deals: P(0)=.3375, P(<=5k)=.375, P(<=20k)=.7125, ..., P(<=60k)=.9875
    assert (m.p10, m.p50, m.p90) == (10000.0, 30000.0, 70000.0)
    assert m.outcome.method == "exact"
    assert (f.derived.commit, f.derived.best_case, f.derived.pipeline) == (30000, 70000, 75000)
    assert f.unit.target == 60000
    # the existing stage-weighted forecast: won + open x 0.75 (Proposal/Price Quote)
    assert f.unit.stage_weighted == 10000 + 65000 * 0.75
    assert f.rows == [] and f.call is None and f.version == 1


def test_a_managers_rollup_hand_computed(quarter):
    org = quarter.org
    f = forecast(org.manager_emea, quarter)
    # their own deals first, then EMEA's rep, then DACH's (a team without a manager of its own)
    assert [r.label for r in f.rows] == ["Emil Manager (own deals)", "Erik Rep", "Dora Rep"]
    assert f.model.expected == 10000 + 20500 + 24000 + 5000
    assert (f.derived.commit, f.derived.best_case, f.derived.pipeline) == (60000, 110000, 115000)
    assert f.unit.target == 100000
    assert f.unit.stage_weighted == 10000 + (65000 + 30000 + 10000) * 0.75
    assert sum(len(r.deals) for r in f.rows) == len(f.deals) == 6


def test_the_leaders_rollup_covers_everything_once(quarter):
    org = quarter.org
    f = forecast(org.leader, quarter)
    assert [r.label for r in f.rows] == ["Emil Manager", "Amy Manager", "No owner"]
    assert [r.has_team for r in f.rows] == [True, True, False]
    assert f.model.expected == pytest.approx(59500 + 30000 + 200)
    assert (f.derived.commit, f.derived.best_case) == (110000, 160000)
    assert f.unit.target == 150000
    assert sum(len(r.deals) for r in f.rows) == len(f.deals) == 8
    emea = f.rows[0]
    assert [c.label for c in emea.children] == ["Erik Rep", "Dora Rep"]


def test_calls_overrides_and_the_team_call(quarter):
    org, period = quarter.org, quarter.period
    call = services.submit_call(org.rep_emea, org.rep_emea.pk, period)  # what the categories imply: no note needed
    assert (call.kind, call.commit, call.best_case, call.seq) == ("call", 30000, 70000, 1)
    assert (call.model_expected, call.model_p10, call.model_p90, call.target) == (30500, 10000, 70000, 60000)
    with pytest.raises(ForecastError, match="say why in a note"):
        services.submit_call(org.rep_emea, org.rep_emea.pk, period, commit=35000)
    with pytest.raises(ForecastError, match="cannot exceed best case"):
        services.submit_call(org.rep_emea, org.rep_emea.pk, period, commit=80000, best_case=70000, note="x")
    services.submit_call(org.rep_dach, org.rep_dach.pk, period, commit=28000, best_case=30000, note="Legal may slip")
    # the manager overrides Erik's call; a note is required
    with pytest.raises(ForecastError, match="overriding"):
        services.submit_call(org.manager_emea, org.rep_emea.pk, period, commit=25000, best_case=60000)
    override = services.submit_call(org.manager_emea, org.rep_emea.pk, period, commit=25000, best_case=60000,
                                    note="Best case deal has no signed budget")
    assert (override.kind, override.seq, override.submitted_by) == ("override", 2, org.manager_emea)
    # Erik submits again: kept, but the override stands in the roll-up
    services.submit_call(org.rep_emea, org.rep_emea.pk, period, commit=32000, best_case=70000, note="Got the PO date")
    rep = forecast(org.rep_emea, quarter)
    assert rep.calls.own.commit == 32000 and rep.call.commit == 25000 and rep.calls.changed_after_override
    f = forecast(org.manager_emea, quarter)
    # own deals (best case 10,000) + Dora's call + the override of Erik's
    assert (f.derived.commit, f.derived.best_case) == (25000 + 28000, 10000 + 30000 + 60000)
    team = services.submit_call(org.manager_emea, org.manager_emea.pk, period)
    assert (team.kind, team.commit, team.best_case) == ("call", 53000, 100000)
    # the leader's roll-up takes the manager's team call
    leader = forecast(org.leader, quarter)
    emea = next(r for r in leader.rows if r.person == org.manager_emea)
    assert emea.call.commit == 53000 and leader.derived.commit == 53000 + 50000
    services.submit_call(org.leader, org.manager_emea.pk, period, commit=50000, best_case=95000, note="Haircut on DACH")
    assert forecast(org.leader, quarter).derived.commit == 50000 + 50000
    services.submit_call(org.leader, org.leader.pk, period, commit=100000, best_case=150000, note="Org call")
    # nothing is overwritten: every submission is a row
    assert ForecastCall.objects.count() == 7
    assert [c.seq for c in selectors.call_history(org.rep_emea, period)] == [3, 2, 1]


def test_who_may_submit_and_override(quarter):
    org, period = quarter.org, quarter.period
    refused = [("rep_amer", "rep_emea"), ("rep_emea", "manager_emea"), ("rep_emea", "rep_dach"), ("manager_amer", "rep_emea"),
               ("manager_emea", "rep_amer"), ("manager_emea", "leader"), ("manager_emea", "manager_amer"),
               ("enablement", "rep_emea"), ("rep_emea", "enablement"), ("leader", "admin"), ("admin", "admin")]
    for actor, person in refused:
        with pytest.raises(NotVisible):
            services.submit_call(org.user(actor), org.user(person).pk, period, commit=1, best_case=1, note="n")
    allowed = [("manager_emea", "rep_dach"), ("leader", "rep_amer"), ("admin", "manager_amer"), ("leader", "leader")]
    for actor, person in allowed:
        services.submit_call(org.user(actor), org.user(person).pk, period, commit=1, best_case=1, note="n")
    assert ForecastCall.objects.count() == len(allowed)
    org.rep_emea.is_active = False
    org.rep_emea.save()
    with pytest.raises(NotVisible):
        services.submit_call(org.rep_emea, org.rep_emea.pk, period)


def test_periods_a_call_may_take(quarter):
    org, period = quarter.org, quarter.period
    with pytest.raises(ForecastError, match="ended on"):
        services.submit_call(org.rep_emea, org.rep_emea.pk, period.previous())
    with pytest.raises(ForecastError, match="two years ahead"):
        far = period
        for _ in range(10):
            far = far.next()
        services.submit_call(org.rep_emea, org.rep_emea.pk, far)
    nxt = services.submit_call(org.rep_emea, org.rep_emea.pk, period.next())
    assert nxt.period_start == period.next().start and nxt.seq == 1  # a version per period
    for bad in (Decimal("-1"), Decimal("0.001"), Decimal("1e15")):
        with pytest.raises(ForecastError):
            services.submit_call(org.rep_emea, org.rep_emea.pk, period, commit=bad, best_case=Decimal(10**6), note="x")
    with pytest.raises(ForecastError, match="longer than 500"):
        services.submit_call(org.rep_emea, org.rep_emea.pk, period, commit=1, best_case=1, note="x" * 501)


def test_a_stale_call_is_refused_and_writes_nothing(quarter):
    org, period = quarter.org, quarter.period
    services.submit_call(org.rep_emea, org.rep_emea.pk, period, expected_version=1)
    services.submit_call(org.manager_emea, org.rep_emea.pk, period, commit=1, best_case=2, note="n", expected_version=2)
    with pytest.raises(StaleWrite) as caught:  # Erik loaded version 2, before his manager's override
        services.submit_call(org.rep_emea, org.rep_emea.pk, period, commit=5, best_case=6, note="n", expected_version=2)
    assert caught.value.current_version == 3 and "Emil Manager" in caught.value.message
    assert ForecastCall.objects.count() == 2


def test_categories_default_from_the_crm_and_who_may_set_them(quarter):
    org, deals = quarter.org, quarter.deals
    rows = {d.name: d for d in forecast(org.leader, quarter).deals}
    assert {n: r.category for n, r in rows.items()} == {
        "emea won": "closed", "emea commit": "commit", "emea best": "best_case", "emea pipe": "pipeline",
        "dach commit": "commit", "manager best": "best_case", "amer commit": "commit", "unowned deal": "pipeline"}
    change = services.set_category(org.rep_emea, deals["emea pipe"].pk, "commit")
    assert (change.seq, change.previous, change.is_override, change.note) == (1, "pipeline", False, "")
    with pytest.raises(ForecastError, match="say why"):
        services.set_category(org.manager_emea, deals["emea best"].pk, "commit")
    change = services.set_category(org.manager_emea, deals["emea best"].pk, "commit", "CFO confirmed the budget")
    assert change.is_override and change.changed_by == org.manager_emea
    for actor, deal in (("rep_amer", "emea commit"), ("rep_emea", "dach commit"), ("manager_amer", "emea commit"),
                        ("manager_emea", "amer commit"), ("enablement", "emea commit"), ("rep_emea", "unowned deal"),
                        ("manager_emea", "unowned deal")):
        with pytest.raises(NotVisible):
            services.set_category(org.user(actor), deals[deal].pk, "omitted", "n")
    with pytest.raises(ForecastError, match="closed is not chosen"):
        services.set_category(org.rep_emea, deals["emea commit"].pk, "closed")
    with pytest.raises(ForecastError, match="is won"):
        services.set_category(org.rep_emea, deals["emea won"].pk, "commit")
    with pytest.raises(ForecastError, match="not a forecast category"):
        services.set_category(org.rep_emea, deals["emea commit"].pk, "upside")
    services.set_category(org.leader, deals["unowned deal"].pk, "omitted", "Owner left; nobody works it")
    f = forecast(org.rep_emea, quarter)
    assert (f.derived.commit, f.derived.best_case) == (10000 + 20000 + 40000 + 5000, 75000)
    row = next(d for d in f.deals if d.name == "emea best")
    assert (row.category, row.category_is_override, row.category_set_by, row.category_version) == (
        "commit", True, "Emil Manager", 2)
    with pytest.raises(StaleWrite):
        services.set_category(org.rep_emea, deals["emea best"].pk, "pipeline", expected_version=1)
    assert CategoryChange.objects.count() == 3


def test_a_deal_in_the_recycle_bin_leaves_the_forecast(quarter):
    from dealpilot.recycle_bin.services import move_to_bin

    org = quarter.org
    move_to_bin(org.rep_emea, "opportunity", quarter.deals["emea best"].pk)
    f = forecast(org.rep_emea, quarter)
    assert f.model.open_deals == 2 and f.model.expected == 10000 + 10000 + 500
    with pytest.raises(NotVisible):
        services.set_category(org.rep_emea, quarter.deals["emea best"].pk, "commit")


def test_open_deals_without_a_stored_score_are_scored_when_read(quarter):
    from dealpilot.deals.models import WinScore

    WinScore.objects.filter(opportunity=quarter.deals["emea pipe"]).delete()
    f = forecast(quarter.org.rep_emea, quarter)
    row = next(d for d in f.deals if d.name == "emea pipe")
    assert 0 < row.probability < 1 and row.probability_method.endswith("scored now")
    assert f.model.methods == {"model": 2, "scored now": 1}
    assert not WinScore.objects.filter(opportunity=quarter.deals["emea pipe"]).exists()  # a read writes nothing


def test_snapshot_once_a_week(quarter):
    from dealpilot.forecasting.models import DealSnapshot, ForecastSnapshot, SnapshotWeek

    org = quarter.org
    services.submit_call(org.rep_emea, org.rep_emea.pk, quarter.period)
    first = services.take_snapshot()
    assert first.taken and first.people == 6  # leader, two managers, three reps
    again = services.take_snapshot(now=timezone.now() + timedelta(seconds=5))
    assert not again.taken and "taken already" in again.summary()
    assert SnapshotWeek.objects.count() == 1
    erik = ForecastSnapshot.objects.get(person=org.rep_emea)
    assert (erik.call_commit, erik.model_expected, erik.model_p10, erik.model_p90, erik.target) == (
        30000, 30500, 10000, 70000, 60000)
    snap = DealSnapshot.objects.get(opportunity=quarter.deals["emea best"])
    assert (snap.category, snap.probability, snap.amount) == ("best_case", 0.25, 40000)
    # next week: a new snapshot, the first one kept as it was
    services.take_snapshot(now=timezone.now() + timedelta(days=7))
    assert SnapshotWeek.objects.count() == 2 and ForecastSnapshot.objects.filter(person=org.rep_emea).count() == 2
