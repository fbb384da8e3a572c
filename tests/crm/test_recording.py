"""Recording the work in dealpilot: accounts, contacts, deals with line items, logged activities and next
steps, through the services, the pages and the API, with the scope, version and history rules."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from dealpilot.concurrency import StaleWrite
from dealpilot.crm import activities, records
from dealpilot.crm.models import Account, Activity, Contact, LineItem, NextStep, Opportunity, OpportunityContactRole, StageHistory
from dealpilot.crm.services import NotAllowed, NotVisible
from tests.factories import make_product

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def today():
    return timezone.localdate()


# ---- services ----------------------------------------------------------------------------------------


def test_a_rep_creates_an_account_a_contact_and_a_deal_owned_by_themselves(org):
    account = records.create_account(org.rep_dach, name="Zeppelin Werke", industry="Aerospace", employees=800, currency="eur")
    assert (account.owner, account.size, account.currency) == (org.rep_dach, "large", "EUR")
    contact = records.create_contact(org.rep_dach, account_id=account.pk, first_name="Greta", last_name="Graf", title="CFO",
                                     email="greta@zeppelin.example")
    product = make_product(list_price=Decimal("1200"))
    deal = records.create_opportunity(org.rep_dach, name="Fleet analytics", account_id=account.pk, stage="Qualification",
                                      close_date=today() + timedelta(days=60),
                                      line_items=[{"product_id": product.pk, "quantity": 3}])
    assert deal.owner == org.rep_dach and deal.currency == "EUR" and deal.created_date == today()
    assert deal.amount == Decimal("3600.00")  # the lines' total when no amount is given
    assert LineItem.objects.get(opportunity=deal).unit_price == Decimal("1200")
    assert list(StageHistory.objects.filter(opportunity=deal).values_list("stage", "changed_by")) == [("Qualification", org.rep_dach.pk)]
    assert Contact.objects.visible_to(org.rep_dach).filter(pk=contact.pk).exists()
    assert Account.history.filter(id=account.pk).exists()


def test_a_rep_cannot_give_records_to_someone_else_nor_refer_to_records_out_of_reach(org):
    with pytest.raises(ValueError, match="not someone you can give records to"):
        records.create_account(org.rep_dach, name="Elsewhere", owner_id=org.rep_emea.pk)
    with pytest.raises(ValueError, match="account .* not found"):
        records.create_opportunity(org.rep_dach, name="X", account_id=org.accounts["rep_amer"].pk, close_date=today())
    with pytest.raises(ValueError, match="not found"):
        records.create_contact(org.rep_dach, account_id=org.accounts["rep_amer"].pk, last_name="Spy")
    assert not Account.objects.filter(name="Elsewhere").exists() and not Contact.objects.filter(last_name="Spy").exists()
    # a manager hands records on within their team, not outside it
    account = records.create_account(org.manager_emea, name="Team account", owner_id=org.rep_dach.pk)
    assert account.owner == org.rep_dach
    with pytest.raises(ValueError):
        records.create_account(org.manager_emea, name="Other team", owner_id=org.rep_amer.pk)


def test_enablement_authors_record_no_sales_work(org):
    with pytest.raises(NotAllowed):
        records.create_account(org.enablement, name="Nope")
    with pytest.raises(NotAllowed):
        activities.log_activity(org.enablement, kind="call", account_id=org.accounts["rep_dach"].pk)


def test_a_duplicate_account_name_is_refused_unless_confirmed(org):
    existing = org.accounts["rep_dach"]
    with pytest.raises(ValueError, match=f"id {existing.pk}"):
        records.create_account(org.rep_dach, name=f"  {existing.name.upper()} ")
    assert records.create_account(org.rep_dach, name=existing.name, allow_duplicate=True).pk != existing.pk


def test_account_edits_check_the_version_and_refuse_a_parent_loop(org):
    parent = records.create_account(org.rep_dach, name="Holding")
    child = records.create_account(org.rep_dach, name="Subsidiary", parent_id=parent.pk)
    with pytest.raises(ValueError, match="own parent"):
        records.update_account(org.rep_dach, parent.pk, expected_version=parent.version, parent_id=child.pk)
    records.update_account(org.rep_dach, child.pk, expected_version=1, industry="Retail")
    with pytest.raises(StaleWrite):
        records.update_account(org.rep_dach, child.pk, expected_version=1, industry="Energy")
    child.refresh_from_db()
    assert (child.industry, child.version) == ("Retail", 2)
    with pytest.raises(NotVisible):
        records.update_account(org.rep_dach, org.accounts["rep_amer"].pk, expected_version=None, industry="X")


def test_a_closed_deal_is_created_only_with_what_a_close_needs(org):
    account = org.accounts["rep_dach"]
    with pytest.raises(ValueError, match="lost reason"):
        records.create_opportunity(org.rep_dach, name="Gone", account_id=account.pk, stage="Closed Lost", close_date=today())
    deal = records.create_opportunity(org.rep_dach, name="Gone", account_id=account.pk, stage="Closed Lost", close_date=today(),
                                      lost_reason="price", close_comment="Half the price elsewhere")
    assert (deal.is_closed, deal.is_won, deal.lost_reason) == (True, False, "Price")


def test_a_call_is_logged_with_its_contacts_outcome_and_next_step_in_one_write(org):
    deal = org.opportunities["rep_dach"][0]
    contact = org.contacts["rep_dach"]
    call, step = activities.log_activity(org.rep_dach, kind="call", opportunity_id=deal.pk, contact_ids=[contact.pk],
                                         outcome="Meeting booked", notes="Wants a demo for the plant managers",
                                         next_step={"subject": "Send the demo invitation", "due_date": today() + timedelta(days=1)})
    assert (call.activity_date, call.owner, call.logged_by, call.account, call.contact) == (
        today(), org.rep_dach, org.rep_dach, deal.account, contact)
    assert call.subject == f"Call with {contact}" and list(call.contacts.all()) == [contact]
    assert (step.owner, step.opportunity, step.activity, step.status) == (org.rep_dach, deal, call, "open")
    assert Activity.history.filter(id=call.pk).exists()


def test_a_log_refuses_the_future_for_calls_and_contacts_of_another_account(org):
    deal = org.opportunities["rep_dach"][0]
    with pytest.raises(ValueError, match="future"):
        activities.log_activity(org.rep_dach, kind="call", opportunity_id=deal.pk, activity_date=today() + timedelta(days=1))
    meeting, _ = activities.log_activity(org.rep_dach, kind="meeting", opportunity_id=deal.pk,
                                         activity_date=today() + timedelta(days=3))
    assert meeting.activity_date > today()
    other = records.create_contact(org.leader, account_id=org.accounts["rep_emea"].pk, last_name="Elsewhere")
    with pytest.raises(ValueError, match="not a contact of this account"):
        activities.log_activity(org.leader, kind="call", opportunity_id=deal.pk, contact_ids=[other.pk])
    with pytest.raises(NotVisible):
        activities.log_activity(org.rep_dach, kind="call", opportunity_id=org.opportunities["rep_amer"][0].pk)
    assert Activity.objects.count() == 4  # the sample's three and the meeting


def test_next_steps_are_done_cancelled_and_reopened_never_deleted(org):
    deal = org.opportunities["rep_dach"][0]
    step = activities.create_next_step(org.rep_dach, subject="Call the CFO", opportunity_id=deal.pk)
    assert step.due_date > today() and step.due_date.weekday() < 5  # two working days ahead
    activities.update_next_step(org.rep_dach, step.pk, expected_version=1, status="done")
    step.refresh_from_db()
    assert (step.status, step.closed_by, step.version) == ("done", org.rep_dach, 2) and step.closed_at
    with pytest.raises(StaleWrite):
        activities.update_next_step(org.rep_dach, step.pk, expected_version=1, status="cancelled")
    activities.update_next_step(org.rep_dach, step.pk, expected_version=2, status="open")
    step.refresh_from_db()
    assert (step.status, step.closed_at) == ("open", None)
    with pytest.raises(NotVisible):
        activities.update_next_step(org.rep_amer, step.pk, expected_version=None, status="done")
    assert NextStep.history.filter(id=step.pk).count() >= 3


def test_next_steps_leave_with_their_deal_in_the_recycle_bin(org):
    from dealpilot.crm.selectors import next_steps
    from dealpilot.recycle_bin import services as bin_services

    deal = org.opportunities["rep_dach"][0]
    step = activities.create_next_step(org.rep_dach, subject="Follow up", opportunity_id=deal.pk, due_date=today())
    assert list(next_steps(org.rep_dach, when="today")) == [step]
    bin_services.move_to_bin(org.rep_dach, "opportunity", deal.pk)
    assert list(next_steps(org.rep_dach)) == []
    bin_services.restore(org.rep_dach, "opportunity", deal.pk)
    assert list(next_steps(org.manager_emea)) == [step] and list(next_steps(org.rep_amer)) == []


def test_a_note_is_not_a_touch_with_the_buyer(org):
    """A rep's note ("went silent") must not reset the days since the last touch of the deal."""
    from dealpilot.deals.records import load_records

    deal = org.opportunities["rep_dach"][0]
    before = len(load_records([deal.pk])[deal.pk].touches)
    activities.log_activity(org.rep_dach, kind="note", opportunity_id=deal.pk, notes="No answer for two weeks")
    assert len(load_records([deal.pk])[deal.pk].touches) == before


def test_line_items_move_an_amount_that_follows_them_and_keep_one_set_by_hand(org):
    product = make_product(list_price=Decimal("100"))
    deal = records.create_opportunity(org.rep_dach, name="Lines", account_id=org.accounts["rep_dach"].pk, close_date=today(),
                                      line_items=[{"product_id": product.pk, "quantity": 2}])
    line = records.add_line_item(org.rep_dach, deal.pk, product_id=product.pk, quantity=1, unit_price="50")
    deal.refresh_from_db()
    assert deal.amount == Decimal("250.00")
    records.remove_line_item(org.rep_dach, deal.pk, line.pk)
    deal.refresh_from_db()
    assert deal.amount == Decimal("200.00")
    hand = records.create_opportunity(org.rep_dach, name="By hand", account_id=org.accounts["rep_dach"].pk, close_date=today(),
                                      amount="9999")
    records.add_line_item(org.rep_dach, hand.pk, product_id=product.pk)
    hand.refresh_from_db()
    assert hand.amount == Decimal("9999.00")


def test_buying_group_roles_take_contacts_of_the_deals_account_only(org):
    deal = org.opportunities["rep_dach"][0]
    contact = records.create_contact(org.rep_dach, opportunity_id=deal.pk, role="economic_buyer", last_name="Buyer")
    assert OpportunityContactRole.objects.get(opportunity=deal, contact=contact).role == "economic_buyer"
    records.set_contact_role(org.rep_dach, deal.pk, contact_id=contact.pk, role="champion", is_primary=True)
    assert OpportunityContactRole.objects.get(opportunity=deal, contact=contact).role == "champion"
    with pytest.raises(ValueError):
        records.set_contact_role(org.rep_dach, deal.pk, contact_id=org.contacts["rep_emea"].pk)
    with pytest.raises(ValueError, match="buying-group role"):
        records.set_contact_role(org.rep_dach, deal.pk, contact_id=contact.pk, role="boss")


# ---- pages --------------------------------------------------------------------------------------------


def test_the_pages_create_an_account_contact_and_deal_then_log_a_call(org):
    rep = client_for(org.rep_dach)
    assert rep.get("/accounts/new/").status_code == 200
    created = rep.post("/accounts/new/", {"name": "Page Works GmbH", "currency": "EUR", "employees": "120"})
    account = Account.objects.get(name="Page Works GmbH")
    assert created.status_code == 302 and created["Location"] == f"/accounts/{account.pk}/"
    page = rep.get(f"/accounts/{account.pk}/").content.decode()
    assert "New opportunity" in page and 'data-testid="log-activity"' in page
    contact_page = rep.post(f"/contacts/new/?account={account.pk}", {"account": account.pk, "last_name": "Kunz", "first_name": "Ida"})
    contact = Contact.objects.get(last_name="Kunz")
    assert contact_page.status_code == 302 and rep.get(f"/contacts/{contact.pk}/").status_code == 200
    deal_page = rep.post(f"/opportunities/new/?account={account.pk}", {
        "name": "Pilot", "account": account.pk, "stage": "Qualification", "close_date": (today() + timedelta(days=30)).isoformat(),
        "amount": "15000", "lines-TOTAL_FORMS": "3", "lines-INITIAL_FORMS": "0"})
    deal = Opportunity.objects.get(name="Pilot")
    assert deal_page.status_code == 302 and (deal.owner, deal.currency) == (org.rep_dach, "EUR")
    logged = rep.post("/activities/log/", {"kind": "call", "opportunity": deal.pk, "account": account.pk, "contacts": [contact.pk],
                                           "outcome": "Connected", "next_step": "Send the pilot plan",
                                           "next": f"/opportunities/{deal.pk}/"})
    assert logged.status_code == 302 and logged["Location"] == f"/opportunities/{deal.pk}/"
    page = rep.get(f"/opportunities/{deal.pk}/").content.decode()
    assert "Send the pilot plan" in page and "Connected" in page
    assert "Send the pilot plan" in rep.get("/next-steps/?when=all").content.decode()


def test_bad_input_on_the_pages_is_a_form_error_and_writes_nothing(org):
    rep = client_for(org.rep_dach)
    assert rep.post("/accounts/new/", {"name": "", "currency": "EUR"}).status_code == 400
    assert rep.post("/accounts/new/", {"name": "X" * 256, "currency": "EUR"}).status_code == 400
    assert rep.post("/accounts/new/", {"name": "Bad money", "currency": "EURO"}).status_code == 400
    assert not Account.objects.filter(name="Bad money").exists()
    other = org.accounts["rep_amer"]
    assert rep.get(f"/opportunities/new/?account={other.pk}").status_code == 404
    assert rep.get(f"/accounts/{other.pk}/edit/").status_code == 404
    assert rep.get(f"/contacts/{org.contacts['rep_amer'].pk}/").status_code == 404
    logged = rep.post("/activities/log/", {"kind": "call", "opportunity": org.opportunities["rep_amer"][0].pk})
    assert logged.status_code == 404
    assert client_for(org.enablement).get("/accounts/new/").status_code == 403
    assert Activity.objects.count() == 3


def test_a_stale_account_edit_is_refused_with_the_current_version(org):
    account = org.accounts["rep_dach"]
    rep = client_for(org.rep_dach)
    form = {"name": account.name, "currency": "USD", "industry": "Retail", "version": 1}
    assert rep.post(f"/accounts/{account.pk}/edit/", form).status_code == 302
    stale = rep.post(f"/accounts/{account.pk}/edit/", {**form, "industry": "Energy"})
    assert stale.status_code == 409 and "changed this account" in stale.content.decode()
    account.refresh_from_db()
    assert account.industry == "Retail"


def test_a_deal_is_closed_lost_from_its_page_only_with_a_reason(org):
    deal = org.opportunities["rep_dach"][0]
    rep = client_for(org.rep_dach)
    form = {"outcome": "lost", "stage": "Closed Lost", "version": deal.version, "close_date": today().isoformat()}
    refused = rep.post(f"/opportunities/{deal.pk}/close/", form, follow=True)
    assert "needs a lost reason" in refused.content.decode()
    deal.refresh_from_db()
    assert not deal.is_closed
    rep.post(f"/opportunities/{deal.pk}/close/", {**form, "lost_reason": "Lost to a competitor", "competitor": "Acme",
                                                  "close_comment": "Acme bundled it"})
    deal.refresh_from_db()
    assert (deal.is_closed, deal.is_won, deal.lost_reason, deal.competitor) == (True, False, "Lost to a competitor", "Acme")


def test_pages_with_several_forms_give_each_field_its_own_id(org):
    """Labels, keyboard focus and browser tests find a field by its id: the edit form, the log panel and the
    two close forms on one page once all rendered `id_stage`."""
    import re
    from collections import Counter

    deal = org.opportunities["rep_dach"][0]
    rep = client_for(org.rep_dach)
    contact = records.create_contact(org.rep_dach, account_id=deal.account_id, last_name="Ids")
    for url in (f"/opportunities/{deal.pk}/", f"/accounts/{deal.account_id}/", f"/contacts/{contact.pk}/", "/next-steps/"):
        page = rep.get(url)
        assert page.status_code == 200, url
        ids = Counter(re.findall(r'\sid="([^"]+)"', page.content.decode()))
        assert [i for i, n in ids.items() if n > 1] == [], url


def test_the_opportunity_list_shows_each_deals_next_step(org):
    deal = org.opportunities["rep_dach"][0]
    activities.create_next_step(org.rep_dach, subject="Overdue follow-up", opportunity_id=deal.pk, due_date=today() - timedelta(days=2))
    page = client_for(org.rep_dach).get("/opportunities/").content.decode()
    assert "Overdue follow-up" in page and 'class="overdue"' in page


# ---- API ------------------------------------------------------------------------------------------------


def test_the_api_records_the_same_work(org):
    api = client_for(org.rep_dach)
    account = api.post("/api/crm/accounts", {"name": "API Works", "currency": "chf"}, content_type="application/json")
    assert account.status_code == 201 and account.json()["currency"] == "CHF" and account["ETag"] == '"1"'
    account_id = account.json()["id"]
    contact = api.post("/api/crm/contacts", {"account_id": account_id, "last_name": "Meier"}, content_type="application/json")
    assert contact.status_code == 201
    product = make_product(list_price=Decimal("10"))
    deal = api.post("/api/crm/opportunities", {"name": "API deal", "account_id": account_id, "close_date": str(today()),
                                               "stage": "Qualification",
                                               "line_items": [{"product_id": product.pk, "quantity": "5"}]},
                    content_type="application/json")
    assert deal.status_code == 201 and Decimal(deal.json()["amount"]) == Decimal("50")
    deal_id = deal.json()["id"]
    role = api.put(f"/api/crm/opportunities/{deal_id}/contact-roles", {"contact_id": contact.json()["id"], "role": "champion"},
                   content_type="application/json")
    assert role.status_code == 200 and role.json()["contact_roles"][0]["role"] == "champion"
    logged = api.post("/api/crm/activities", {"kind": "call", "opportunity_id": deal_id, "contact_ids": [contact.json()["id"]],
                                              "outcome": "Connected", "next_step": {"subject": "Send pricing"}},
                      content_type="application/json")
    assert logged.status_code == 201 and logged.json()["next_step"]["subject"] == "Send pricing"
    step_id = logged.json()["next_step"]["id"]
    listed = api.get("/api/crm/next-steps", {"opportunity": deal_id}).json()
    assert [s["id"] for s in listed["items"]] == [step_id]
    done = api.patch(f"/api/crm/next-steps/{step_id}", {"status": "done"}, content_type="application/json", HTTP_IF_MATCH='"1"')
    assert done.status_code == 200 and done.json()["status"] == "done"
    stale = api.patch(f"/api/crm/next-steps/{step_id}", {"status": "open"}, content_type="application/json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 409
    patched = api.patch(f"/api/crm/activities/{logged.json()['id']}", {"notes": "Budget in Q3"}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["notes"] == "Budget in Q3"

    # through a stage with its exit checklist, then closed lost with a reason
    moved = api.patch(f"/api/crm/opportunities/{deal_id}", {"stage": "Needs Analysis"}, content_type="application/json")
    assert moved.status_code == 400 and "Give a reason" in moved.json()["detail"]
    checklist = api.get(f"/api/deals/opportunities/{deal_id}/exit-criteria").json()
    assert checklist["stage"] == "Qualification" and not all(c["done"] for c in checklist["criteria"])
    moved = api.patch(f"/api/crm/opportunities/{deal_id}", {"stage": "Needs Analysis", "stage_reason": "Budget confirmed by phone"},
                      content_type="application/json")
    assert moved.status_code == 200 and moved.json()["stage"] == "Needs Analysis"
    lost = api.patch(f"/api/crm/opportunities/{deal_id}", {"stage": "Closed Lost", "lost_reason": "No budget"},
                     content_type="application/json")
    assert lost.status_code == 400 and "comment" in lost.json()["detail"]
    lost = api.patch(f"/api/crm/opportunities/{deal_id}", {"stage": "Closed Lost", "lost_reason": "No budget",
                                                           "close_comment": "Frozen until next year"}, content_type="application/json",
                     HTTP_IF_MATCH=moved["ETag"])
    assert lost.status_code == 200 and (lost.json()["status"], lost.json()["lost_reason"]) == ("lost", "No budget")


def test_closing_won_from_an_early_stage_needs_a_reason_for_the_open_criteria(org):
    deal = records.create_opportunity(org.rep_dach, name="Fast win", account_id=org.accounts["rep_dach"].pk,
                                      stage="Qualification", amount="1000", close_date=today() + timedelta(days=5))
    rep = client_for(org.rep_dach)
    form = {"outcome": "won", "stage": "Closed Won", "version": deal.version, "amount": "1000", "close_date": today().isoformat()}
    assert "Give a reason" in rep.post(f"/opportunities/{deal.pk}/close/", form, follow=True).content.decode()
    deal.refresh_from_db()
    assert not deal.is_closed
    rep.post(f"/opportunities/{deal.pk}/close/", {**form, "stage_reason": "Signed on the spot at the trade fair"})
    deal.refresh_from_db()
    assert (deal.is_closed, deal.is_won) == (True, True)


@pytest.mark.parametrize("path, body, status", [
    ("/api/crm/accounts", {"name": "X", "owner_id": 10**6}, 400),
    ("/api/crm/accounts", {"name": "X", "is_staff": True}, 422),
    ("/api/crm/accounts", {"name": ""}, 422),
    ("/api/crm/contacts", {"last_name": "Y"}, 400),
    ("/api/crm/opportunities", {"name": "Z", "close_date": "2026-01-01", "line_items": [{"product_id": 10**9}]}, 400),
    ("/api/crm/activities", {"kind": "call"}, 400),
    ("/api/crm/activities", {"kind": "lunch", "account_id": 1}, 422),
    ("/api/crm/next-steps", {"subject": "x"}, 400),
])
def test_the_api_refuses_bad_writes_with_a_4xx_and_writes_nothing(org, path, body, status):
    counts = (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count(), Activity.objects.count(),
              NextStep.objects.count())
    answer = client_for(org.rep_dach).post(path, body, content_type="application/json")
    assert answer.status_code == status, answer.content
    assert counts == (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count(), Activity.objects.count(),
                      NextStep.objects.count())


def test_the_api_answers_404_for_deals_out_of_reach_and_403_for_enablement(org):
    other = org.opportunities["rep_amer"][0]
    rep = client_for(org.rep_dach)
    assert rep.post(f"/api/crm/opportunities/{other.pk}/line-items", {"product_id": make_product().pk},
                    content_type="application/json").status_code == 404
    assert rep.post("/api/crm/activities", {"kind": "call", "opportunity_id": other.pk},
                    content_type="application/json").status_code == 404
    assert client_for(org.enablement).post("/api/crm/accounts", {"name": "E"}, content_type="application/json").status_code == 403


def test_a_logged_activity_is_corrected_on_its_page(org):
    activity = org.activities["rep_dach"]
    rep = client_for(org.rep_dach)
    assert rep.get(f"/activities/{activity.pk}/edit/").status_code == 200
    saved = rep.post(f"/activities/{activity.pk}/edit/", {"kind": "meeting", "activity_date": activity.activity_date.isoformat(),
                                                          "subject": "Discovery meeting", "outcome": "Next step agreed",
                                                          "contacts": [org.contacts["rep_dach"].pk], "version": 1})
    assert saved.status_code == 302
    activity.refresh_from_db()
    assert (activity.kind, activity.outcome, activity.version) == ("meeting", "Next step agreed", 2)
    assert rep.post(f"/activities/{activity.pk}/edit/", {"kind": "call", "activity_date": activity.activity_date.isoformat(),
                                                         "version": 1}).status_code == 409
    assert client_for(org.rep_amer).get(f"/activities/{activity.pk}/edit/").status_code == 404
