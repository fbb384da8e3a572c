"""The read paths behind the CRM pages and API: filters, sorting, sums and what each role sees."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from dealpilot.crm import selectors
from dealpilot.crm.models import Account
from tests.factories import (
    add_stage_change,
    aware,
    make_account,
    make_activity,
    make_contact,
    make_opportunity,
    make_plan_unit,
    make_user,
)

pytestmark = pytest.mark.django_db

VIEWERS = ["leader", "admin", "manager_emea", "manager_amer", "rep_emea", "rep_dach", "rep_amer", "enablement"]


@pytest.mark.parametrize("viewer", VIEWERS)
def test_opportunity_list_follows_the_role_hierarchy(org, viewer):
    ids = set(selectors.opportunity_list(org.user(viewer)).values_list("pk", flat=True))
    assert ids == org.visible_opportunity_ids(viewer)


def test_the_hierarchy_in_numbers(org):
    """Spelled out once, so a change in the sample organisation cannot make the test vacuous."""
    count = {v: selectors.opportunity_list(org.user(v)).count() for v in VIEWERS}
    assert count == {"leader": 9, "admin": 9, "manager_emea": 5, "manager_amer": 3, "rep_emea": 2, "rep_dach": 2, "rep_amer": 3,
                     "enablement": 0}


def test_a_rep_sees_the_accounts_they_own_or_sell_into(org):
    names = set(selectors.account_list(org.rep_amer).values_list("name", flat=True))
    assert names == {"rep_amer account", "rep_emea account"}  # rep_amer has a cross-sell on rep_emea's account
    assert set(selectors.account_list(org.rep_dach).values_list("name", flat=True)) == {"rep_dach account"}
    assert not selectors.account_list(org.enablement).exists()


def test_account_open_counts_and_pipeline_count_only_what_the_viewer_may_see(org):
    emea_account = org.accounts["rep_emea"]
    # open on rep_emea's account: rep_emea 50,000; manager_emea 5,000; rep_amer 7,000
    for viewer, (n, pipeline) in {
        "leader": (3, Decimal("62000")),
        "rep_emea": (1, Decimal("50000")),
        "manager_emea": (2, Decimal("55000")),
        "rep_amer": (1, Decimal("7000")),
    }.items():
        row = selectors.account_list(org.user(viewer)).get(pk=emea_account.pk)
        assert (row.open_opportunities, row.pipeline) == (n, pipeline), viewer


def test_pipeline_never_adds_up_different_currencies(db):
    rep = make_user()
    account = make_account(rep, currency="EUR")
    make_opportunity(rep, account, amount=1000, currency="EUR")
    make_opportunity(rep, account, amount=500, currency="USD")
    make_opportunity(rep, account, amount=999, currency="EUR", status="won")  # closed: not pipeline
    row = selectors.account_list(rep).get()
    assert (row.open_opportunities, row.pipeline, row.open_other_currency) == (2, Decimal("1000"), 1)

    totals = selectors.opportunity_totals(selectors.opportunity_list(rep))
    assert totals.count == 3
    assert [(t.currency, t.count, t.amount) for t in totals.by_currency] == [("EUR", 2, Decimal("1999")), ("USD", 1, Decimal("500"))]


def test_an_account_without_open_deals_has_zero_pipeline(db):
    rep = make_user()
    make_account(rep)
    row = selectors.account_list(rep).get()
    assert (row.open_opportunities, row.pipeline) == (0, Decimal("0"))


def test_account_filters_and_sorts(db):
    rep = make_user()
    make_account(rep, name="Zeta Corp", industry="Retail", region="APAC")
    beta = make_account(rep, name="Beta GmbH", industry="Software", region="EMEA")
    alpha = make_account(rep, name="Alpha Inc", industry="Software", region="Americas")
    make_opportunity(rep, beta, amount=900)
    make_opportunity(rep, alpha, amount=100)

    names = lambda **kw: list(selectors.account_list(rep, **kw).values_list("name", flat=True))  # noqa: E731
    assert names() == ["Alpha Inc", "Beta GmbH", "Zeta Corp"]
    assert names(sort="-name") == ["Zeta Corp", "Beta GmbH", "Alpha Inc"]
    assert names(sort="pipeline") == ["Beta GmbH", "Alpha Inc", "Zeta Corp"]
    assert names(sort="no-such-sort") == ["Alpha Inc", "Beta GmbH", "Zeta Corp"]
    assert names(industry="Software") == ["Alpha Inc", "Beta GmbH"]
    assert names(region="APAC") == ["Zeta Corp"]
    assert names(q="  gmbh ") == ["Beta GmbH"]

    other = make_user()
    make_account(other, name="Other's account")
    assert names(owner=other.pk) == []  # filtering cannot widen what the caller sees


def test_account_facets_offer_only_visible_values(org):
    facets = selectors.account_facets(org.rep_dach)
    assert facets["regions"] == ["EMEA"] and facets["industries"] == ["Manufacturing"]
    assert list(facets["owners"]) == [org.rep_dach]
    assert set(selectors.account_facets(org.leader)["owners"]) == set(org.reps)


def test_opportunity_filters(db):
    rep = make_user()
    acme = make_account(rep, name="Acme")
    today = timezone.localdate()
    early = make_opportunity(rep, acme, name="Early", stage="Proposal", close_date=today + timedelta(days=5))
    late = make_opportunity(rep, None, name="Late", stage="Qualification", close_date=today + timedelta(days=50), amount=None)
    won = make_opportunity(rep, acme, name="Won", stage="Closed Won", status="won", close_date=today - timedelta(days=3))
    lost = make_opportunity(rep, acme, name="Lost", stage="Closed Lost", status="lost", close_date=today - timedelta(days=30))

    def ids(**kw):
        return [o.pk for o in selectors.opportunity_list(rep, **kw)]

    assert ids() == [lost.pk, won.pk, early.pk, late.pk]  # by close date
    assert ids(status="open") == [early.pk, late.pk]
    assert ids(status="won") == [won.pk]
    assert ids(status="lost") == [lost.pk]
    assert ids(stage="Proposal") == [early.pk]
    assert ids(close_from=today - timedelta(days=3), close_to=today + timedelta(days=5)) == [won.pk, early.pk]
    assert ids(q="acme") == [lost.pk, won.pk, early.pk]  # matches the account name too
    assert ids(account=acme.pk, status="open") == [early.pk]
    assert ids(sort="amount")[-1] == late.pk  # no amount sorts last on every database


def test_opportunity_facets_order_stages_along_the_funnel(db):
    rep = make_user()
    make_opportunity(rep, stage="Negotiation", probability=80)
    make_opportunity(rep, stage="Prospecting", probability=10)
    make_opportunity(rep, stage="Proposal", probability=60)
    make_opportunity(rep, stage="Custom stage")  # no probability: last
    assert selectors.opportunity_facets(rep)["stages"] == ["Prospecting", "Proposal", "Negotiation", "Custom stage"]


def test_account_detail_shows_only_visible_relatives_and_deals(org):
    holding = make_account(org.rep_amer, name="Holding owned by rep_amer")
    emea_account = org.accounts["rep_emea"]
    Account.objects.filter(pk=emea_account.pk).update(parent=holding)
    emea_account.refresh_from_db()
    make_account(org.rep_dach, name="Subsidiary owned by rep_dach", parent=emea_account)
    unit = make_plan_unit(emea_account, "Operations")
    make_contact(emea_account, last_name="Unit person", plan_unit=unit)

    seen_by_rep = selectors.account_detail(org.rep_emea, emea_account)
    assert seen_by_rep.parent is None and seen_by_rep.subsidiaries == []
    assert {o.name for o in seen_by_rep.opportunities} == {"rep_emea open deal", "rep_emea won deal"}
    assert [(u.name, u.n_contacts) for u in seen_by_rep.plan_units] == [("Operations", 1)]
    assert seen_by_rep.open_totals.by_currency[0].amount == Decimal("50000")

    seen_by_leader = selectors.account_detail(org.leader, emea_account)
    assert seen_by_leader.parent == holding
    assert [s.name for s in seen_by_leader.subsidiaries] == ["Subsidiary owned by rep_dach"]
    assert len(seen_by_leader.opportunities) == 4
    assert seen_by_leader.won_totals.count == 1


def test_stage_timeline_counts_days_in_each_stage(db):
    rep = make_user()
    today = timezone.localdate()
    opp = make_opportunity(rep, stage="Proposal")
    add_stage_change(opp, "Qualification", today - timedelta(days=30), probability=20)
    add_stage_change(opp, "Proposal", today - timedelta(days=12), probability=60)
    steps = selectors.opportunity_detail(rep, opp).timeline
    assert [(s.stage, s.days, s.current) for s in steps] == [("Qualification", 18, False), ("Proposal", 12, True)]

    closed = make_opportunity(rep, stage="Closed Won", status="won", close_date=today - timedelta(days=2))
    add_stage_change(closed, "Negotiation", aware(today - timedelta(days=9)))
    add_stage_change(closed, "Closed Won", aware(today - timedelta(days=2)))
    steps = selectors.opportunity_detail(rep, closed).timeline
    assert [(s.stage, s.days, s.current) for s in steps] == [("Negotiation", 7, False), ("Closed Won", 0, False)]


def test_activity_list_filters(org):
    extra = make_activity(org.rep_emea, kind="email", account=org.accounts["rep_emea"], subject="Sent the proposal")
    emea = org.rep_emea
    assert {a.pk for a in selectors.activity_list(emea)} == {org.activities["rep_emea"].pk, extra.pk}
    assert [a.pk for a in selectors.activity_list(emea, kind="email")] == [extra.pk]
    assert [a.pk for a in selectors.activity_list(emea, opportunity=org.opportunities["rep_emea"][0].pk)] == [org.activities["rep_emea"].pk]
    assert not selectors.activity_list(org.enablement).exists()
