"""Field history: an edit through the API or a page records who changed which field when, and the
record's History panel and `/history` route show it, newest first, to whoever may see the record
(404 to anyone else)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from dealpilot.crm.models import Opportunity
from dealpilot.crm.services import create_api_token
from dealpilot.enablement.models import ContentModule
from dealpilot.history.diffs import HISTORY_LIMIT, field_history
from dealpilot.planning import services as planning
from dealpilot.recycle_bin import services as bin_services

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_plan_edit_through_the_api_records_who_what_and_when(org):
    account = org.accounts["rep_emea"]
    created = client_for(org.rep_emea).post(f"/api/planning/accounts/{account.pk}/plan", {"title": "Grow EMEA"},
                                            content_type="application/json")
    assert created.status_code == 201, created.content
    before = timezone.now()

    answer = client_for(org.manager_emea).patch(f"/api/planning/accounts/{account.pk}/plan",
                                                {"title": "Grow EMEA and DACH", "pipeline_goal": "250000"},
                                                content_type="application/json")
    assert answer.status_code == 200, answer.content

    body = client_for(org.rep_emea).get(f"/api/planning/accounts/{account.pk}/plan/field-history").json()
    newest = body["entries"][0]
    assert (newest["user"], newest["user_id"], newest["action"]) == ("Emil Manager", org.manager_emea.pk, "changed")
    assert {(c["field"], c["old"], c["new"]) for c in newest["changes"]} == {
        ("title", "Grow EMEA", "Grow EMEA and DACH"), ("pipeline_goal", "—", "250000.00")}
    assert newest["at"] >= before.isoformat()[:19]
    assert body["entries"][-1]["action"] == "created" and body["entries"][-1]["user"] == "Erik Rep"
    assert body["limit"] == HISTORY_LIMIT and "Imports" in body["note"]

    page = client_for(org.rep_emea).get(f"/planning/accounts/{account.pk}/plan/").content.decode()
    assert 'data-testid="field-history"' in page
    assert "Grow EMEA and DACH" in page and "Emil Manager" in page and "listed under Imports" in page


def test_history_is_only_for_those_who_may_see_the_record(org):
    account = org.accounts["rep_emea"]
    planning.create_plan(org.rep_emea, account.pk, title="Grow EMEA")
    deal = org.opportunities["rep_emea"][0]
    for viewer in ("rep_dach", "rep_amer", "manager_amer", "enablement"):
        assert client_for(org.user(viewer)).get(f"/api/crm/opportunities/{deal.pk}/history").status_code == 404, viewer
    # rep_amer sells into rep_emea's account, so rep_amer and their manager see it, its contacts and its plan
    for viewer in ("rep_dach", "enablement"):
        client = client_for(org.user(viewer))
        assert client.get(f"/api/crm/contacts/{org.contacts['rep_emea'].pk}/history").status_code == 404, viewer
        assert client.get(f"/api/planning/accounts/{account.pk}/plan/field-history").status_code == 404, viewer
        assert client.get(f"/api/crm/accounts/{account.pk}/history").status_code == 404, viewer
    assert client_for(org.rep_amer).get(f"/api/planning/accounts/{account.pk}/plan/field-history").status_code == 200
    assert client_for(org.rep_amer).get(f"/api/crm/accounts/{org.accounts['rep_dach'].pk}/history").status_code == 404
    for viewer in ("rep_emea", "manager_emea", "leader", "admin"):
        assert client_for(org.user(viewer)).get(f"/api/crm/opportunities/{deal.pk}/history").status_code == 200, viewer
    assert Client().get(f"/api/crm/opportunities/{deal.pk}/history").status_code == 401


def test_a_record_from_an_import_gets_a_baseline_so_the_first_change_shows_the_old_value(org):
    # imports write in bulk (no history per row), like bulk_create
    [deal] = Opportunity.objects.bulk_create([Opportunity(name="Imported deal", owner=org.rep_emea, stage="Proposal",
                                                          amount=Decimal("1000"))])
    assert field_history(deal) == []
    deal.amount, deal.stage = Decimal("1500"), "Negotiation"
    deal._history_user = org.rep_emea  # as the opportunity edit API will, through the request
    deal.save()

    entries = client_for(org.rep_emea).get(f"/api/crm/opportunities/{deal.pk}/history").json()["entries"]
    assert [e["action"] for e in entries] == ["changed", "as it was before the first recorded change"]
    assert {(c["field"], c["old"], c["new"]) for c in entries[0]["changes"]} == {
        ("amount", "1000.00", "1500.00"), ("stage", "Proposal", "Negotiation")}
    assert entries[1]["user"] == "" and entries[1]["changes"] == []


def test_deleting_and_restoring_are_in_the_history_with_who_did_it(org):
    deal = org.opportunities["rep_emea"][0]
    assert client_for(org.rep_emea).delete(f"/api/crm/opportunities/{deal.pk}").status_code == 200
    assert client_for(org.manager_emea).post(f"/api/recycle-bin/opportunity/{deal.pk}/restore").status_code == 200

    entries = client_for(org.rep_emea).get(f"/api/crm/opportunities/{deal.pk}/history").json()["entries"]
    assert [(e["action"], e["user"]) for e in entries[:2]] == [
        ("restored from the recycle bin", "Emil Manager"), ("moved to the recycle bin", "Erik Rep")]
    assert entries[-1]["action"] == "created"
    page = client_for(org.rep_emea).get(f"/opportunities/{deal.pk}/").content.decode()
    assert "Moved to the recycle bin" in page and "Restored from the recycle bin" in page


def test_a_content_edit_by_api_token_records_the_tokens_user(org):
    module = ContentModule.objects.create(title="Battlecard", kind="battlecard", status="published", owner=org.enablement,
                                          published_at=timezone.now())
    _, token = create_api_token(org.enablement, "script")
    answer = Client().patch(f"/api/enablement/modules/{module.pk}", {"summary": "Beat the incumbent"},
                            content_type="application/json", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.content

    entries = client_for(org.rep_emea).get(f"/api/enablement/modules/{module.pk}/history").json()["entries"]
    assert entries[0]["user"] == "Eve Enablement"
    assert [(c["field"], c["old"], c["new"]) for c in entries[0]["changes"]] == [("summary", "—", "Beat the incumbent")]
    page = client_for(org.rep_emea).get(f"/enablement/modules/{module.pk}/").content.decode()
    assert "Beat the incumbent" in page and 'data-testid="field-history"' in page
    draft = ContentModule.objects.create(title="Draft", kind="battlecard", status="draft", owner=org.enablement)
    assert client_for(org.rep_emea).get(f"/api/enablement/modules/{draft.pk}/history").status_code == 404


def test_the_history_shows_the_last_changes_newest_first(org):
    deal = org.opportunities["rep_emea"][0]
    for i in range(HISTORY_LIMIT + 5):
        deal.amount = Decimal(1000 + i)
        deal.save()
    entries = client_for(org.leader).get(f"/api/crm/opportunities/{deal.pk}/history").json()["entries"]
    assert len(entries) == HISTORY_LIMIT
    assert entries[0]["changes"] == [{"field": "amount", "label": "Amount", "old": f"{1000 + HISTORY_LIMIT + 3}.00",
                                      "new": f"{1000 + HISTORY_LIMIT + 4}.00"}]
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)


def test_the_account_page_shows_its_history_panel(org):
    account = org.accounts["rep_emea"]
    account.industry = "Energy"
    account.save()
    page = client_for(org.rep_emea).get(f"/accounts/{account.pk}/").content.decode()
    assert 'data-testid="field-history"' in page and "Manufacturing" in page and "Energy" in page
