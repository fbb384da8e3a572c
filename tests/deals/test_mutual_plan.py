"""The mutual action plan of a deal: steps both sides agree (owner on either side, due date, done),
slippage (overdue, days late, how far the end moved), edited from the deal page and the API by
whoever may edit the deal, and exported as PDF and XLSX for the buyer without internal data."""

import io
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dealpilot.deals import services
from dealpilot.deals.models import MutualPlan, MutualPlanStep
from dealpilot.deals.selectors import mutual_plan_of
from tests.factories import make_account, make_contact

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def post(client, url, body, if_match=None):
    headers = {"If-Match": if_match} if if_match else {}
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def patch(client, url, body, if_match=None):
    headers = {"If-Match": if_match} if if_match else {}
    return client.patch(url, json.dumps(body), content_type="application/json", headers=headers)


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def deal(org):
    return org.opportunities["rep_emea"][0]


@pytest.fixture
def steps_url(deal):
    return f"/api/deals/opportunities/{deal.pk}/mutual-plan/steps"


def test_steps_on_both_sides_with_slippage_over_the_api(client, org, deal, steps_url):
    client.force_login(org.rep_emea)
    empty = client.get(f"/api/deals/opportunities/{deal.pk}/mutual-plan")
    assert empty.status_code == 200 and empty.json()["steps"] == [] and empty.json()["version"] == 1 and empty["ETag"] == '"1"'
    buyer = org.contacts["rep_emea"]
    first = post(client, steps_url, {"title": "Security review", "side": "buyer", "buyer_id": buyer.pk,
                                     "due_date": str(TODAY - timedelta(days=3))}, if_match='"1"')
    assert first.status_code == 201, first.content
    assert first.json()["version"] == 2 and first["ETag"] == '"2"'
    post(client, steps_url, {"title": "Pilot report", "side": "seller", "seller_id": org.rep_emea.pk,
                             "due_date": str(TODAY + timedelta(days=10)), "internal_note": "Keep the price talk out of it"})
    post(client, steps_url, {"title": "Board decision", "side": "buyer", "owner_name": "The board",
                             "due_date": str(TODAY + timedelta(days=30)), "position": 1})
    plan = client.get(f"/api/deals/opportunities/{deal.pk}/mutual-plan").json()
    assert (plan["first_end"], plan["end_moved_days"]) == (str(TODAY + timedelta(days=30)), 0)  # drafted today: the baseline
    MutualPlan.objects.filter(opportunity=deal).update(created_at=timezone.now() - timedelta(days=2))  # shared two days ago
    assert [(s["position"], s["title"], s["side"], s["owner"]) for s in plan["steps"]] == [
        (1, "Board decision", "buyer", "The board"), (2, "Security review", "buyer", str(buyer)),
        (3, "Pilot report", "seller", "Erik Rep")]
    review = plan["steps"][1]
    assert (review["overdue"], review["days_late"], review["done"]) == (True, 3, False)
    assert (plan["steps_overdue"], plan["end"]) == (1, str(TODAY + timedelta(days=30)))

    # done (late), moved, renamed; the first agreed date stays
    done = patch(client, f"/api/deals/plan-steps/{review['id']}", {"done": True})
    assert done.status_code == 200
    review = next(s for s in done.json()["steps"] if s["title"] == "Security review")
    assert (review["done"], review["overdue"], review["days_late"], review["done_by"]) == (True, False, 3, "Erik Rep")
    board = plan["steps"][0]
    moved = patch(client, f"/api/deals/plan-steps/{board['id']}", {"due_date": str(TODAY + timedelta(days=45)), "position": 3,
                                                                      "title": "Board decision (Q3 meeting)"}).json()
    board = moved["steps"][2]
    assert (board["title"], board["moved_days"], board["first_due"]) == ("Board decision (Q3 meeting)", 15,
                                                                         str(TODAY + timedelta(days=30)))
    assert moved["end_moved_days"] == 15 and moved["first_end"] == str(TODAY + timedelta(days=30)) and moved["steps_done"] == 1
    # switching the side drops the other side's person
    switched = patch(client, f"/api/deals/plan-steps/{moved['steps'][0]['id']}", {"side": "seller", "seller_id": org.rep_emea.pk})
    assert switched.json()["steps"][0]["buyer_id"] is None and switched.json()["steps"][0]["owner"] == "Erik Rep"
    # reopened, deleted
    assert patch(client, f"/api/deals/plan-steps/{review['id']}", {"done": False}).json()["steps_done"] == 0
    gone = client.delete(f"/api/deals/plan-steps/{review['id']}")
    assert gone.status_code == 200 and [s["position"] for s in gone.json()["steps"]] == [1, 2]


def test_slippage_as_of_a_day(org, deal):
    step = services.add_plan_step(org.rep_emea, deal, {"title": "Legal review", "side": "buyer", "owner_name": "Legal",
                                                       "due_date": TODAY - timedelta(days=5)})
    view = mutual_plan_of(deal, today=TODAY)
    assert (view.steps[0].overdue, view.steps[0].days_late, view.overdue) == (True, 5, 1)
    assert mutual_plan_of(deal, today=TODAY - timedelta(days=5)).overdue == 0  # due that day: not late yet
    services.update_plan_step(org.rep_emea, step, {"done": True})
    assert mutual_plan_of(deal).steps[0].days_late == 5 and mutual_plan_of(deal).overdue == 0
    assert MutualPlan.objects.get(opportunity=deal).first_end == TODAY - timedelta(days=5)


def test_a_stale_plan_write_is_a_409_and_changes_nothing(client, org, deal, steps_url):
    client.force_login(org.rep_emea)
    step = post(client, steps_url, {"title": "Demo", "due_date": str(TODAY)}).json()["steps"][0]
    manager = client.__class__()
    manager.force_login(org.manager_emea)
    assert patch(manager, f"/api/deals/plan-steps/{step['id']}", {"title": "Demo for the CFO"}, if_match='"2"').status_code == 200
    stale = patch(client, f"/api/deals/plan-steps/{step['id']}", {"title": "Demo for IT"}, if_match='"2"')
    assert stale.status_code == 409 and stale.json()["current_version"] == 3
    assert "by Emil Manager" in stale.json()["detail"]
    assert post(client, steps_url, {"title": "Late add", "due_date": str(TODAY)}, if_match='"2"').status_code == 409
    assert client.delete(f"/api/deals/plan-steps/{step['id']}", headers={"If-Match": '"2"'}).status_code == 409
    assert list(MutualPlanStep.objects.values_list("title", flat=True)) == ["Demo for the CFO"]
    assert MutualPlan.objects.get(opportunity=deal).version == 3


@pytest.mark.parametrize("viewer, status", [("rep_emea", 201), ("manager_emea", 201), ("leader", 201), ("admin", 201),
                                            ("rep_dach", 404), ("rep_amer", 404), ("manager_amer", 404), ("enablement", 404)])
def test_who_may_read_and_change_a_deal_s_plan(client, org, deal, steps_url, viewer, status):
    step = services.add_plan_step(org.rep_emea, deal, {"title": "Kick-off", "due_date": TODAY})
    client.force_login(org.user(viewer))
    reads = client.get(f"/api/deals/opportunities/{deal.pk}/mutual-plan")
    assert reads.status_code == (200 if status == 201 else 404)
    assert post(client, steps_url, {"title": "Pilot", "due_date": str(TODAY)}).status_code == status
    assert patch(client, f"/api/deals/plan-steps/{step.pk}", {"done": True}).status_code == (200 if status == 201 else 404)
    for fmt in ("pdf", "xlsx"):
        export = client.get(reverse("deals:mutual_plan_export", args=[deal.pk, fmt]))
        assert export.status_code == (200 if status == 201 else 404)
    page = client.post(reverse("deals:mutual_plan", args=[deal.pk]), {"op": "delete", "step": step.pk})
    assert page.status_code == (302 if status == 201 else 404)
    if status != 201:
        assert client.delete(f"/api/deals/plan-steps/{step.pk}").status_code == 404
        assert list(MutualPlanStep.objects.values_list("title", "done_at")) == [("Kick-off", None)]


def test_a_role_that_only_reads_gets_403(client, org, deal, steps_url, monkeypatch):
    """No role reads deals without editing them today (enablement sees none: 404); the check is there for one."""
    from dealpilot.deals import selectors

    monkeypatch.setattr(selectors, "may_edit", lambda user: False)
    client.force_login(org.rep_emea)
    assert client.get(f"/api/deals/opportunities/{deal.pk}/mutual-plan").status_code == 200
    assert post(client, steps_url, {"title": "Pilot", "due_date": str(TODAY)}).status_code == 403
    assert client.post(reverse("deals:mutual_plan", args=[deal.pk]), {"op": "add"}).status_code == 403
    assert client.post(f"/api/deals/opportunities/{deal.pk}/exit-criteria", json.dumps({"criterion_id": 1, "done": True}),
                       content_type="application/json").status_code == 403
    assert not MutualPlanStep.objects.exists()


@pytest.mark.parametrize("body, status, message", [
    ({"title": "  ", "due_date": str(TODAY)}, 400, "needs a title"),
    ({"title": "x" * 256, "due_date": str(TODAY)}, 422, "at most 255"),
    ({"title": "A", "due_date": "3000-01-01"}, 422, "2999-12-31"),
    ({"title": "A", "due_date": "soon"}, 422, "date"),
    ({"title": "A"}, 422, "due_date"),
    ({"title": "A", "due_date": str(TODAY), "side": "both"}, 422, "seller"),
    ({"title": "A", "due_date": str(TODAY), "side": "buyer", "seller_id": 1}, 400, "buyer's side"),
    ({"title": "A", "due_date": str(TODAY), "buyer_id": 1}, 400, "our side"),
    ({"title": "A", "due_date": str(TODAY), "owner_name": "Jo", "seller_id": 1}, 400, "not both"),
    ({"title": "A", "due_date": str(TODAY), "owner_name": "x" * 201}, 422, "at most 200"),
    ({"title": "A", "due_date": str(TODAY), "internal_note": "x" * 10_001}, 422, "at most 10000"),
    ({"title": "A", "due_date": str(TODAY), "position": 0}, 422, "greater than or equal"),
    ({"title": "A", "due_date": str(TODAY), "seller_id": 2**63}, 422, "less than or equal"),
    ({"title": "A", "due_date": str(TODAY), "owner_id": 1}, 422, "Extra inputs"),
])
def test_bad_steps_are_a_4xx_and_write_nothing(client, org, steps_url, body, status, message):
    client.force_login(org.rep_emea)
    response = post(client, steps_url, body)
    assert response.status_code == status and message in json.dumps(response.json()), response.json()
    assert not MutualPlanStep.objects.exists() and not MutualPlan.objects.exists()


def test_owners_out_of_reach_read_like_ones_that_do_not_exist(client, org, deal, steps_url):
    client.force_login(org.rep_emea)
    elsewhere = make_contact(make_account(org.rep_amer, name="Other account"), last_name="Elsewhere")
    outside = post(client, steps_url, {"title": "A", "due_date": str(TODAY), "side": "buyer", "buyer_id": elsewhere.pk})
    missing = post(client, steps_url, {"title": "A", "due_date": str(TODAY), "side": "buyer", "buyer_id": 999_999})
    assert outside.status_code == missing.status_code == 400
    assert outside.json()["detail"].replace(str(elsewhere.pk), "N") == missing.json()["detail"].replace("999999", "N")
    # a rep names themselves, their manager (the deal owner's), not a rep of another team
    assert post(client, steps_url, {"title": "A", "due_date": str(TODAY), "seller_id": org.manager_emea.pk}).status_code == 201
    other = post(client, steps_url, {"title": "B", "due_date": str(TODAY), "seller_id": org.rep_amer.pk})
    assert other.status_code == 400 and "not someone you can name" in other.json()["detail"]
    bad_patch = patch(client, f"/api/deals/plan-steps/{MutualPlanStep.objects.get().pk}", {"colour": "red"})
    assert bad_patch.status_code == 422
    assert client.get("/api/deals/plan-steps/999999").status_code == 405  # no GET on a step: the plan is read whole
    assert patch(client, "/api/deals/plan-steps/999999", {"done": True}).status_code == 404


def test_the_deal_page_adds_ticks_moves_edits_and_deletes_steps(client, org, deal):
    client.force_login(org.rep_emea)
    page = reverse("crm:opportunity_detail", args=[deal.pk])
    html = client.get(page).content.decode()
    assert 'data-testid="mutual-plan"' in html and 'data-testid="add-step"' in html and "No steps yet" in html
    url = reverse("deals:mutual_plan", args=[deal.pk])
    buyer = org.contacts["rep_emea"]
    add = {"op": "add", "version": "1", "title": "Reference call", "side": "buyer", "buyer": buyer.pk, "seller": org.rep_emea.pk,
           "owner_name": "", "due_date": str(TODAY + timedelta(days=7)), "internal_note": ""}
    assert client.post(url, add).status_code == 302
    step = MutualPlanStep.objects.get()
    assert (step.side, step.buyer, step.seller) == ("buyer", buyer, None)  # the other side's picker is not the owner
    assert client.post(url, {**add, "version": "2", "title": "Contract draft", "side": "seller", "buyer": ""}).status_code == 302
    assert client.post(url, {"op": "up", "step": MutualPlanStep.objects.get(title="Contract draft").pk, "version": "3"}).status_code == 302
    assert list(MutualPlanStep.objects.values_list("title", flat=True)) == ["Contract draft", "Reference call"]
    assert client.post(url, {"op": "done", "step": step.pk, "version": "4"}).status_code == 302
    update = {**add, "op": "update", "step": step.pk, "version": "5", "title": "Reference call with a peer",
              "due_date": str(TODAY + timedelta(days=9)), "internal_note": "They asked about the discount"}
    assert client.post(url, update).status_code == 302
    step.refresh_from_db()
    assert (step.title, step.done_at is not None, step.first_due) == ("Reference call with a peer", True, TODAY + timedelta(days=7))
    html = client.get(page).content.decode()
    assert "Reference call with a peer" in html and "+2 days from" in html and "Internal: They asked about the discount" in html
    stale = client.post(url, {**update, "version": "1", "title": "From an old page"})
    assert stale.status_code == 409 and "changed since you loaded it" in stale.content.decode()
    bad = client.post(url, {**add, "version": "6", "due_date": "3000-01-01"})
    assert bad.status_code == 400 and "Not saved: Due:" in bad.content.decode()
    assert client.post(url, {**add, "version": "6", "title": "x" * 256}).status_code == 400
    assert client.post(url, {"op": "delete", "step": "999999", "version": "6"}).status_code == 404
    assert client.post(url, {"op": "delete", "step": step.pk, "version": "v6"}).status_code == 400
    assert client.post(url, {"op": "launch"}).status_code == 400
    assert client.post(url, {"op": "delete", "step": step.pk, "version": "6"}).status_code == 302
    assert list(MutualPlanStep.objects.values_list("title", flat=True)) == ["Contract draft"]


def test_the_exports_hold_the_steps_and_nothing_internal(client, org, deal):
    deal.description = "Internal: they will pay list price"
    deal.save()
    services.add_plan_step(org.rep_emea, deal, {"title": "Security review", "side": "buyer", "buyer_id": org.contacts["rep_emea"].pk,
                                                "due_date": TODAY - timedelta(days=2), "internal_note": "SECRET discount plan"})
    services.add_plan_step(org.rep_emea, deal, {"title": "=HYPERLINK(\"http://x\")", "side": "seller",
                                                "seller_id": org.rep_emea.pk, "due_date": TODAY + timedelta(days=5)})
    client.force_login(org.rep_emea)
    pdf = client.get(reverse("deals:mutual_plan_export", args=[deal.pk, "pdf"]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == 'attachment; filename="rep-emea-account-mutual-plan.pdf"'
    text = " ".join(pdf_text(pdf.content).split())
    assert "Mutual action plan" in text and "Security review" in text and "Overdue by 2 days" in text and "Erik Rep" in text
    assert str(org.contacts["rep_emea"]) in text and "rep_emea account" in text
    for secret in ("SECRET", "list price", "50,000", "50000", "Proposal", "Probability"):
        assert secret not in text, secret

    from openpyxl import load_workbook

    xlsx = client.get(reverse("deals:mutual_plan_export", args=[deal.pk, "xlsx"]))
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["Mutual plan", "Summary"]
    rows = [[c.value for c in row] for row in book["Mutual plan"].iter_rows()]
    assert rows[0] == ["step", "side", "owner", "due", "status", "done on"]
    assert rows[1][:2] == ["Security review", "rep_emea account"] and rows[1][4] == "Overdue by 2 days"
    assert rows[2][0] == "'=HYPERLINK(\"http://x\")"  # a formula typed as a title stays text
    everything = json.dumps([[str(c.value) for c in row] for sheet in book for row in sheet.iter_rows()])
    assert "SECRET" not in everything and "list price" not in everything and "50000" not in everything
    assert client.get(reverse("deals:mutual_plan_export", args=[deal.pk, "doc"])).status_code == 404


def test_the_demo_gets_mutual_plans_once(org):
    from dealpilot.deals.demo import seed_mutual_plans
    from tests.factories import make_opportunity

    deals = [make_opportunity(org.rep_emea, org.accounts["rep_emea"], stage="Negotiation/Review", amount=90000 + i,
                              close_date=TODAY + timedelta(days=20 + i)) for i in range(6)]
    assert seed_mutual_plans(limit=5) == 5
    assert seed_mutual_plans(limit=5) == 0  # once
    views = [mutual_plan_of(d) for d in deals if MutualPlan.objects.filter(opportunity=d).exists()]
    assert len(views) == 5 and all(len(v.steps) == 7 for v in views)
    assert all(v.steps[0].step.seller == org.rep_emea and v.steps[2].step.buyer == org.contacts["rep_emea"] for v in views)
    assert all(v.end_moved_days in (0, 10) for v in views)  # some plans slipped 10 days (seeded by the deal ids)
    assert all(s.moved_days == 0 or s.step.position >= 5 for v in views for s in v.steps)
