"""The CRM JSON API: what each role sees, 404 for what they may not, 401 for anonymous callers."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from dealpilot.crm.models import ContactRole
from tests.factories import (
    add_contact_role,
    add_line_item,
    add_stage_change,
    make_contact,
    make_opportunity,
    make_product,
    make_user,
)

pytestmark = pytest.mark.django_db

BASE = "/api/crm"
VIEWERS = ["leader", "admin", "manager_emea", "manager_amer", "rep_emea", "rep_dach", "rep_amer", "enablement"]
LISTS = ["accounts", "contacts", "opportunities", "activities"]


def get_json(client, url, expect=200, **params):
    response = client.get(url, params)
    assert response.status_code == expect, (url, response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def all_ids(client, kind, **params):
    body = get_json(client, f"{BASE}/{kind}", page_size=500, **params)
    assert body["count"] == len(body["items"])
    return {item["id"] for item in body["items"]}


@pytest.mark.parametrize("path", [f"{BASE}/{kind}" for kind in LISTS] + [f"{BASE}/{kind}/1" for kind in LISTS])
def test_anonymous_callers_get_401(client, org, path):
    body = get_json(client, path, expect=401)
    assert body == {"detail": "Unauthorized"}


def test_the_health_check_needs_no_login(client):
    assert get_json(client, "/api/health") == {"status": "ok"}


@pytest.mark.parametrize("viewer", VIEWERS)
def test_opportunity_list_and_details_follow_the_role_hierarchy(client, org, viewer):
    client.force_login(org.user(viewer))
    visible = org.visible_opportunity_ids(viewer)
    assert all_ids(client, "opportunities") == visible
    for pk in org.all_opportunity_ids():
        if pk in visible:
            assert get_json(client, f"{BASE}/opportunities/{pk}")["id"] == pk
        else:
            assert get_json(client, f"{BASE}/opportunities/{pk}", expect=404) == {"detail": f"Opportunity {pk} not found"}


@pytest.mark.parametrize("viewer,expected", [
    ("leader", {"rep_emea", "rep_dach", "rep_amer"}),
    ("manager_emea", {"rep_emea", "rep_dach"}),
    ("manager_amer", {"rep_amer", "rep_emea"}),  # rep_amer sells into rep_emea's account
    ("rep_dach", {"rep_dach"}),
    ("enablement", set()),
])
def test_accounts_contacts_and_activities_follow_the_role_hierarchy(client, org, viewer, expected):
    client.force_login(org.user(viewer))
    assert all_ids(client, "accounts") == {org.accounts[n].pk for n in expected}
    assert all_ids(client, "contacts") == {org.contacts[n].pk for n in expected}
    scope = org.SCOPES[viewer]  # activities: those of the people in scope, not of every visible account
    assert all_ids(client, "activities") == {org.activities[n].pk for n in expected if scope is None or n in scope}
    for name, account in org.accounts.items():
        status = 200 if name in expected else 404
        get_json(client, f"{BASE}/accounts/{account.pk}", expect=status)
        get_json(client, f"{BASE}/contacts/{org.contacts[name].pk}", expect=status)


def test_invisible_and_missing_ids_look_the_same(client, org):
    client.force_login(org.rep_dach)
    hidden = org.opportunities["rep_amer"][0].pk
    assert get_json(client, f"{BASE}/opportunities/{hidden}", expect=404) == {"detail": f"Opportunity {hidden} not found"}
    assert get_json(client, f"{BASE}/opportunities/999999", expect=404) == {"detail": "Opportunity 999999 not found"}
    assert get_json(client, f"{BASE}/activities/{org.activities['rep_amer'].pk}", expect=404)["detail"].startswith("Activity")


def test_opportunity_detail_has_contact_roles_line_items_and_stage_history(client, org):
    rep = org.rep_emea
    opp = org.opportunities["rep_emea"][0]
    contact = org.contacts["rep_emea"]
    add_contact_role(opp, contact, ContactRole.DECISION_MAKER, is_primary=True)
    add_line_item(opp, make_product("Platform", code="PLT"), quantity=2, unit_price="12500.50")
    today = timezone.localdate()
    add_stage_change(opp, "Qualification", today - timedelta(days=20), probability=20, amount=40000)
    add_stage_change(opp, "Proposal", today - timedelta(days=5), probability=60, amount=50000)

    client.force_login(rep)
    body = get_json(client, f"{BASE}/opportunities/{opp.pk}")
    assert (body["name"], body["status"], body["stage"], body["currency"]) == ("rep_emea open deal", "open", "Proposal", "USD")
    assert Decimal(body["amount"]) == Decimal("50000")
    assert body["account"] == {"id": org.accounts["rep_emea"].pk, "name": "rep_emea account"}
    assert body["owner"]["username"] == "rep_emea" and body["owner"]["role"] == "rep"
    assert body["contact_roles"] == [{"id": opp.contact_roles.get().pk, "contact_id": contact.pk, "contact_name": str(contact),
                                      "title": "", "role": "decision_maker", "role_detail": "", "is_primary": True}]
    [line] = body["line_items"]
    assert (line["product_name"], line["product_code"], Decimal(line["quantity"]), Decimal(line["total_price"])) == (
        "Platform", "PLT", Decimal(2), Decimal("25001.00"))
    assert [(s["stage"], s["days_in_stage"], s["current"]) for s in body["stage_history"]] == [
        ("Qualification", 15, False), ("Proposal", 5, True)]


def test_account_detail(client, org):
    client.force_login(org.leader)
    account = org.accounts["rep_emea"]
    body = get_json(client, f"{BASE}/accounts/{account.pk}")
    assert (body["name"], body["region"], body["country"], body["owner"]["username"]) == ("rep_emea account", "EMEA", "France", "rep_emea")
    assert (body["contact_count"], body["opportunity_count"], body["parent"], body["subsidiaries"]) == (1, 4, None, [])


def test_list_filters_and_pagination(client, org):
    client.force_login(org.leader)
    body = get_json(client, f"{BASE}/opportunities", status="won")
    assert {o["name"] for o in body["items"]} == {"rep_emea won deal", "rep_dach won deal", "rep_amer won deal"}
    body = get_json(client, f"{BASE}/opportunities", q="cross-sell")
    assert [o["name"] for o in body["items"]] == ["rep_amer cross-sell"]
    body = get_json(client, f"{BASE}/opportunities", owner=org.rep_dach.pk, sort="amount")
    assert [o["name"] for o in body["items"]] == ["rep_dach open deal", "rep_dach won deal"]

    page1 = get_json(client, f"{BASE}/opportunities", page_size=4, sort="name")
    page3 = get_json(client, f"{BASE}/opportunities", page_size=4, sort="name", page=3)
    assert page1["count"] == page3["count"] == 9
    assert len(page1["items"]) == 4 and len(page3["items"]) == 1

    body = get_json(client, f"{BASE}/accounts", region="Americas")
    assert [(a["name"], a["open_opportunities"], Decimal(a["pipeline"])) for a in body["items"]] == [
        ("rep_amer account", 1, Decimal("50000"))]
    body = get_json(client, f"{BASE}/contacts", account=org.accounts["rep_dach"].pk)
    assert [c["id"] for c in body["items"]] == [org.contacts["rep_dach"].pk]
    body = get_json(client, f"{BASE}/activities", opportunity=org.opportunities["rep_amer"][0].pk)
    assert [a["subject"] for a in body["items"]] == ["rep_amer discovery call"]


def test_bad_filter_values_are_rejected_with_422(client, org):
    client.force_login(org.leader)
    get_json(client, f"{BASE}/opportunities", expect=422, sort="DROP TABLE")
    get_json(client, f"{BASE}/opportunities", expect=422, close_from="not-a-date")
    get_json(client, f"{BASE}/opportunities", expect=422, status="maybe")
    get_json(client, f"{BASE}/accounts", expect=422, owner="someone")


def test_a_rep_cannot_widen_their_view_with_filters(client, org):
    client.force_login(org.rep_dach)
    assert get_json(client, f"{BASE}/opportunities", owner=org.rep_amer.pk)["count"] == 0
    assert get_json(client, f"{BASE}/contacts", account=org.accounts["rep_amer"].pk)["count"] == 0
    assert get_json(client, f"{BASE}/activities", owner=org.rep_amer.pk)["count"] == 0


def test_contact_fields(client, db):
    rep = make_user()
    boss = make_contact(None, first_name="Ana", last_name="Boss", owner=rep)
    person = make_contact(None, first_name="Ben", last_name="Worker", title="Engineer", reports_to=boss, owner=rep, email="ben@x.example")
    make_opportunity(rep)
    client.force_login(rep)
    body = get_json(client, f"{BASE}/contacts/{person.pk}")
    assert body == {"id": person.pk, "crm_id": None, "account_id": None, "plan_unit_id": None, "plan_unit_name": None,
                    "first_name": "Ben", "last_name": "Worker", "title": "Engineer", "email": "ben@x.example", "phone": "",
                    "reports_to_id": boss.pk, "owner_id": rep.pk, "has_left": False}
