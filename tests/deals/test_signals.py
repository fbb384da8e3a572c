"""Vulnerabilities (each with evidence and a suggested action) and buying-group coverage, computed
from real records; thresholds from the sales leader's settings; a fixed number of queries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dealpilot.crm.models import ContactRole
from dealpilot.deals.knowledge import ensure_defaults
from dealpilot.deals.models import SignalSettings
from dealpilot.deals.records import contact_names, current_state, load_records
from dealpilot.deals.signals import coverage, stage_norms, vulnerabilities
from tests.factories import add_contact_role, add_stage_change, make_account, make_activity, make_contact, make_opportunity, make_user

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def signals_of(opp, settings=None):
    records = load_records([opp.pk])
    contact_names(records)
    state = current_state(records[opp.pk])
    return {v.code: v for v in vulnerabilities(state, settings or SignalSettings.current(), stage_norms())}, state


@pytest.fixture
def deal():
    rep = make_user(username="rep_gk")
    account = make_account(rep)
    opp = make_opportunity(rep, account, stage="Proposal", created_date=TODAY - timedelta(days=50))
    sally = make_contact(account, first_name="Sally", last_name="Mid", title="Procurement Manager")
    steve = make_contact(account, first_name="Steve", last_name="Boss", title="CFO")
    add_contact_role(opp, sally, ContactRole.INFLUENCER, is_primary=True)
    add_contact_role(opp, steve, ContactRole.DECISION_MAKER)
    return {"rep": rep, "account": account, "opp": opp, "sally": sally, "steve": steve}


def follow_ups(deal, n, start=20):
    for i in range(n):
        make_activity(deal["rep"], kind="call", opportunity=deal["opp"], contact=deal["sally"], direction="outbound",
                      activity_date=TODAY - timedelta(days=start - 3 * i))


def test_gatekeeper_stall_after_five_follow_ups_without_the_decision_maker(deal):
    follow_ups(deal, 5)
    found, _ = signals_of(deal["opp"])
    stall = found["gatekeeper_stall"]
    assert "5 follow-ups with Sally Mid" in stall.evidence and "no contact with a decision maker" in stall.evidence
    assert "who decides" in stall.action and "recommend us" in stall.action and "directly" in stall.action
    # the decision maker is known but nobody met them
    assert "Steve Boss" in found["no_decision_maker_access"].evidence


def test_no_stall_below_the_threshold_or_once_the_decision_maker_is_reached(deal):
    follow_ups(deal, 3)
    found, _ = signals_of(deal["opp"])
    assert "gatekeeper_stall" not in found
    # the leader lowers the threshold: three follow-ups are a stall now
    settings = SignalSettings.current()
    settings.gatekeeper_followups = 3
    settings.save()
    assert "gatekeeper_stall" in signals_of(deal["opp"])[0]
    # a meeting with the decision maker after the follow-ups started ends the stall
    make_activity(deal["rep"], kind="meeting", opportunity=deal["opp"], contact=deal["steve"], activity_date=TODAY - timedelta(days=2))
    found, _ = signals_of(deal["opp"])
    assert "gatekeeper_stall" not in found and "no_decision_maker_access" not in found


def test_single_threaded_and_no_decision_maker_identified():
    rep = make_user()
    account = make_account(rep)
    opp = make_opportunity(rep, account, stage="Qualification")
    only = make_contact(account, first_name="Una", last_name="Only")
    add_contact_role(opp, only, ContactRole.CHAMPION)
    make_activity(rep, opportunity=opp, contact=only, activity_date=TODAY - timedelta(days=1))
    found, _ = signals_of(opp)
    assert "1 contact engaged (Una Only)" in found["single_threaded"].evidence
    assert "No contact on this deal has a decision-maker" in found["no_decision_maker_access"].evidence
    assert "no_activity" not in found


def test_no_activity_in_n_days_is_configurable(deal):
    make_activity(deal["rep"], opportunity=deal["opp"], contact=deal["steve"], activity_date=TODAY - timedelta(days=30))
    found, _ = signals_of(deal["opp"])
    assert "No activity for 30 days" in found["no_activity"].evidence
    settings = SignalSettings.current()
    settings.no_activity_days = 45
    assert "no_activity" not in signals_of(deal["opp"], settings)[0]


def test_close_date_slipped_and_moved_back_from_stage_history(deal):
    opp = deal["opp"]
    start = TODAY - timedelta(days=50)
    for i, (stage, prob, close) in enumerate([("Qualification", 20, 30), ("Proposal", 60, 45), ("Negotiation", 80, 70),
                                              ("Proposal", 60, 90)]):
        h = add_stage_change(opp, stage, start + timedelta(days=5 * i), probability=prob)
        h.close_date = start + timedelta(days=close)
        h.save()
    found, state = signals_of(opp)
    assert "pushed 3 times" in found["close_date_slipped"].evidence
    assert "Moved back from Negotiation to Proposal" in found["moved_back"].evidence
    assert state.stage == "Proposal"


def test_stage_age_beyond_the_team_norm(deal):
    rep = deal["rep"]
    # the organisation's deals leave Proposal after 10 days
    for _ in range(3):
        other = make_opportunity(rep, deal["account"], stage="Negotiation")
        add_stage_change(other, "Proposal", TODAY - timedelta(days=40), probability=60)
        add_stage_change(other, "Negotiation", TODAY - timedelta(days=30), probability=80)
    add_stage_change(deal["opp"], "Proposal", TODAY - timedelta(days=26), probability=60)
    found, _ = signals_of(deal["opp"])
    assert "26 days in Proposal" in found["stage_age"].evidence and "after 10 days" in found["stage_age"].evidence
    settings = SignalSettings.current()
    settings.stage_age_factor = 3.0  # 30 days allowed
    assert "stage_age" not in signals_of(deal["opp"], settings)[0]


def test_buying_group_coverage_known_and_engaged(deal):
    user = make_contact(deal["account"], first_name="Uma", last_name="User")
    add_contact_role(deal["opp"], user, ContactRole.USER)
    make_activity(deal["rep"], opportunity=deal["opp"], contact=deal["sally"])
    _, state = signals_of(deal["opp"])
    groups = {g.code: g for g in coverage(state).groups}
    assert groups["decision_maker"].known == ["Steve Boss"] and groups["decision_maker"].engaged == []
    assert groups["influencer"].engaged == ["Sally Mid"]
    assert groups["user"].known == ["Uma User"] and groups["champion"].known == []
    cov = coverage(state)
    assert (cov.known_core, cov.engaged_core, cov.core_total) == (3, 1, 4)


def test_records_load_in_a_fixed_number_of_queries(deal, django_assert_max_num_queries):
    ensure_defaults()
    rep, account = deal["rep"], deal["account"]
    ids = []
    for i in range(25):
        opp = make_opportunity(rep, account)
        add_stage_change(opp, "Qualification", TODAY - timedelta(days=10))
        add_contact_role(opp, deal["sally"])
        make_activity(rep, opportunity=opp, contact=deal["sally"])
        ids.append(opp.pk)
    with django_assert_max_num_queries(7):
        records = load_records(ids)
    assert len(records) == 25 and all(len(r.touches) == 1 and len(r.steps) == 1 for r in records.values())
