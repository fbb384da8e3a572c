"""People and influence map (profiles, influence lines, gaps, relationships and lapse alerts) and
the white-space map (computed from deals, set by hand, account leads that become opportunities)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from dealpilot.crm.models import Opportunity
from dealpilot.planning import selectors, services
from dealpilot.planning.models import AccountLead, ContactProfile, Influence
from tests.factories import (
    add_contact_role,
    add_line_item,
    make_activity,
    make_contact,
    make_opportunity,
    make_plan_unit,
    make_product,
)

from .test_priorities import SEES

pytestmark = pytest.mark.django_db


def test_people_map_gaps_roles_and_lapses(org):
    account = org.accounts["rep_dach"]
    today = timezone.localdate()
    data = selectors.people_map(account)
    # the sample account: one contact, no decision maker, its only activity today
    assert data["gaps"] == ["Only one contact", "No decision maker known"]
    boss = make_contact(account, first_name="Berta", last_name="Boss", title="CFO")
    left = make_contact(account, first_name="Lars", last_name="Left", has_left=True)
    org.contacts["rep_dach"].reports_to = boss
    org.contacts["rep_dach"].save()
    services.update_profile(org.rep_dach, account.pk, boss.pk, decision_role="economic_buyer", power="high", attitude="supporter")
    services.update_profile(org.rep_dach, account.pk, left.pk, key_person=True)
    make_activity(org.rep_dach, contact=boss, activity_date=today - timedelta(days=120), direction="inbound")
    data = selectors.people_map(account)
    assert data["gaps"] == ["Key contact Lars Left has left"]
    by_name = {p["name"]: p for p in data["people"]}
    assert by_name["Berta Boss"]["decision_role"] == "economic_buyer" and by_name["Berta Boss"]["lapsed"]
    assert by_name["Berta Boss"]["client_initiated_share"] == 1.0
    assert by_name["Chris rep_dach contact"]["reports_to_id"] == boss.pk
    assert data["alerts"] == ["No contact with Berta Boss (Economic buyer) for 120 days"]
    # a role on a deal counts when the team has not set one
    add_contact_role(org.opportunities["rep_dach"][0], org.contacts["rep_dach"], "decision_maker")
    assert {p["name"]: p["role_from"] for p in selectors.people_map(account)["people"]}["Chris rep_dach contact"] == "deals"


def test_people_page_and_edits_per_role(client, org):
    account = org.accounts["rep_emea"]
    other = make_contact(account, first_name="Olga", last_name="Other")
    contact = org.contacts["rep_emea"]
    for viewer in list(SEES) + ["enablement"]:
        client.force_login(org.user(viewer))
        sees = viewer in SEES and "rep_emea" in SEES[viewer]
        assert client.get(reverse("planning:people", args=[account.pk])).status_code == (200 if sees else 404)
        response = client.post(reverse("planning:people_edit", args=[account.pk]),
                               {"op": "profile", "contact": contact.pk, "power": "high", "attitude": "champion"})
        assert response.status_code == (302 if sees else 404)
    client.force_login(org.rep_emea)
    assert ContactProfile.objects.get(contact=contact).attitude == "champion"
    url = reverse("planning:people_edit", args=[account.pk])
    assert client.post(url, {"op": "add_influence", "source": contact.pk, "target": other.pk, "note": "old friends"}).status_code == 302
    assert client.post(url, {"op": "add_influence", "source": contact.pk, "target": contact.pk}).status_code == 400
    assert client.post(url, {"op": "profile", "contact": contact.pk, "power": "enormous"}).status_code == 400
    # a contact of another account is not there
    assert client.post(url, {"op": "profile", "contact": org.contacts["rep_dach"].pk, "power": "high"}).status_code == 404
    page = client.get(reverse("planning:people", args=[account.pk]))
    assert page.status_code == 200 and b"old friends" in page.content
    figure = page.context["chart"].figure
    assert figure["layout"]["annotations"]  # the influence arrow
    influence = Influence.objects.get()
    assert client.post(url, {"op": "remove_influence", "influence": influence.pk}).status_code == 302
    assert not Influence.objects.exists()


def test_white_space_computed_from_deals_and_set_by_hand(org):
    account, rep = org.accounts["rep_amer"], org.rep_amer
    ops, it = make_plan_unit(account, "Operations"), make_plan_unit(account, "IT")
    platform, analytics = make_product("Platform"), make_product("Analytics")
    ops_contact = make_contact(account, plan_unit=ops)
    won = make_opportunity(rep, account, status="won", close_date=timezone.localdate())
    add_line_item(won, platform)
    add_contact_role(won, ops_contact, is_primary=True)
    pursuit = make_opportunity(rep, account)
    add_line_item(pursuit, analytics)
    add_contact_role(pursuit, ops_contact)
    grid = {(c["unit_id"], c["product_id"]): c["status"] for r in selectors.white_space(account)["rows"] for c in r["cells"]}
    assert grid[(ops.pk, platform.pk)] == "sold"
    assert grid[(ops.pk, analytics.pk)] == "in_pursuit"
    assert grid[(it.pk, platform.pk)] == "white_space"
    services.set_cell(rep, account.pk, it.pk, platform.pk, "not_applicable")
    grid = {(c["unit_id"], c["product_id"]): c for r in selectors.white_space(account)["rows"] for c in r["cells"]}
    assert grid[(it.pk, platform.pk)]["status"] == "not_applicable" and grid[(it.pk, platform.pk)]["manual"]
    services.set_cell(rep, account.pk, it.pk, platform.pk, "")
    assert {(c["unit_id"], c["product_id"]): c["status"] for r in selectors.white_space(account)["rows"]
            for c in r["cells"]}[(it.pk, platform.pk)] == "white_space"
    with pytest.raises(ValueError):
        services.set_cell(rep, account.pk, it.pk, platform.pk, "maybe")
    with pytest.raises(services.NotVisible):
        services.set_cell(org.rep_dach, account.pk, it.pk, platform.pk, "sold")


def test_a_white_space_click_makes_a_lead_that_becomes_an_opportunity(client, org):
    account = org.accounts["rep_amer"]
    it = make_plan_unit(account, "IT")
    it_contact = make_contact(account, plan_unit=it)
    product = make_product("Analytics")
    client.force_login(org.rep_amer)
    url = reverse("planning:white_space_edit", args=[account.pk])
    page = client.get(reverse("planning:white_space", args=[account.pk]))
    assert f'data-testid="lead-{it.pk}-{product.pk}"'.encode() in page.content
    assert client.post(url, {"op": "create_lead", "unit": it.pk, "product": product.pk}).status_code == 302
    lead = AccountLead.objects.get()
    assert (lead.title, lead.plan_unit, lead.created_by) == ("Analytics · IT", it, org.rep_amer)
    assert client.post(url, {"op": "convert_lead", "lead": lead.pk, "amount": "abc"}).status_code == 400
    assert Opportunity.objects.filter(name="Analytics · IT").count() == 0
    response = client.post(url, {"op": "convert_lead", "lead": lead.pk, "amount": "30000", "close_date": "2030-03-31"})
    opportunity = Opportunity.objects.get(name="Analytics · IT")
    assert response.status_code == 302 and response["Location"] == reverse("crm:opportunity_detail", args=[opportunity.pk])
    assert (opportunity.owner, opportunity.account, opportunity.amount, opportunity.stage) == (org.rep_amer, account, Decimal(30000), "Prospecting")
    assert list(opportunity.line_items.values_list("product_id", flat=True)) == [product.pk]
    assert selectors.opportunity_units(account.pk)[opportunity.pk] == it.pk
    lead.refresh_from_db()
    assert (lead.status, lead.opportunity) == ("converted", opportunity)
    assert client.post(url, {"op": "convert_lead", "lead": lead.pk}).status_code == 400  # once only
    grid = {(c["unit_id"], c["product_id"]): c["status"] for r in selectors.white_space(account)["rows"] for c in r["cells"]}
    assert grid[(it.pk, product.pk)] == "in_pursuit"
    assert it_contact.opportunity_roles.count() == 1
    # someone who cannot see the account cannot see or convert its leads
    client.force_login(org.rep_dach)
    assert client.get(reverse("planning:white_space", args=[account.pk])).status_code == 404
    with pytest.raises(services.NotVisible):
        services.convert_lead(org.rep_dach, lead.pk)


def test_people_and_white_space_api(client, org):
    account = org.accounts["rep_emea"]
    unit = make_plan_unit(account, "Finance")
    product = make_product("Forecasting")
    contact = org.contacts["rep_emea"]
    other = make_contact(account, first_name="Ola")
    for viewer in list(SEES) + ["enablement"]:
        client.force_login(org.user(viewer))
        wanted = 200 if viewer in SEES and "rep_emea" in SEES[viewer] else 404
        assert client.get(f"/api/planning/accounts/{account.pk}/people").status_code == wanted
        assert client.get(f"/api/planning/accounts/{account.pk}/white-space").status_code == wanted
        assert client.put(f"/api/planning/accounts/{account.pk}/people/{contact.pk}", data={"power": "high"},
                          content_type="application/json").status_code == wanted
    client.force_login(org.rep_emea)
    body = client.post(f"/api/planning/accounts/{account.pk}/influences", data={"source_id": other.pk, "target_id": contact.pk},
                       content_type="application/json").json()
    assert [(i["source_id"], i["target_id"]) for i in body["influences"]] == [(other.pk, contact.pk)]
    assert client.post(f"/api/planning/accounts/{account.pk}/influences", data={"source_id": other.pk, "target_id": 999999},
                       content_type="application/json").status_code == 404
    assert client.put(f"/api/planning/accounts/{account.pk}/people/{contact.pk}", data={"decision_role": "king"},
                      content_type="application/json").status_code == 400
    body = client.put(f"/api/planning/accounts/{account.pk}/white-space",
                      data={"plan_unit_id": unit.pk, "product_id": product.pk, "status": "potential"},
                      content_type="application/json").json()
    cell = next(c for r in body["rows"] for c in r["cells"] if c["product_id"] == product.pk)
    assert (cell["status"], cell["manual"]) == ("potential", True)
    body = client.post(f"/api/planning/accounts/{account.pk}/leads", data={"plan_unit_id": unit.pk, "product_id": product.pk},
                       content_type="application/json").json()
    lead_id = body["leads"][0]["id"]
    client.force_login(org.rep_dach)
    assert client.post(f"/api/planning/leads/{lead_id}/convert", data={}, content_type="application/json").status_code == 404
    client.force_login(org.rep_emea)
    body = client.post(f"/api/planning/leads/{lead_id}/convert", data={"amount": "1000"}, content_type="application/json").json()
    assert Opportunity.objects.get(pk=body["opportunity_id"]).owner == org.rep_emea
    assert body["lead"]["status"] == "converted"
