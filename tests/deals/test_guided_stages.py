"""Stage exit criteria (guided selling): the sales leader's stages in order with their criteria;
moving a deal forward past open criteria asks for a reason (kept as an override) or, where the
stage is enforced, is refused with nothing written; moving back, closing lost and stages not in
the order are never gated; criteria are checked by qualification answers or ticked by hand."""

import json

import pytest
import yaml
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from django.utils import timezone

from dealpilot.concurrency import StaleWrite
from dealpilot.crm import services as crm_services
from dealpilot.crm.models import Opportunity, StageHistory
from dealpilot.deals import guided
from dealpilot.deals.knowledge import ensure_defaults, export_config, load_config
from dealpilot.deals.models import CriterionCheck, ExitCriterion, SalesStage, StageOverride
from dealpilot.deals.services import answer_questions
from tests.factories import make_opportunity

pytestmark = pytest.mark.django_db

QUALIFICATION = ["Decision maker identified", "Compelling event", "Budget confirmed"]


def patch(client, pk, data, if_match=None):
    headers = {"If-Match": if_match} if if_match else {}
    return client.patch(f"/api/crm/opportunities/{pk}", json.dumps(data), content_type="application/json", headers=headers)


def put_stages(client, stages):
    return client.put("/api/deals/stages", json.dumps({"stages": stages}), content_type="application/json")


@pytest.fixture
def deal(org):
    """rep_emea's deal at the default order's Qualification stage."""
    return make_opportunity(org.rep_emea, org.accounts["rep_emea"], name="Qualified deal", stage="Qualification",
                            amount=40000, probability=20)


def written(deal) -> tuple:
    """What a refused move must leave alone."""
    deal.refresh_from_db()
    return (deal.stage, deal.version, StageHistory.objects.filter(opportunity=deal).count(),
            StageOverride.objects.filter(opportunity=deal).count())


def test_the_defaults_are_written_after_migrate_in_the_salesforce_order():
    names = list(SalesStage.objects.values_list("name", flat=True))
    assert names == ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
                     "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review"]
    criteria = {s.name: [(c.label, c.question_key, c.answers) for c in s.criteria.all()] for s in SalesStage.objects.all()}
    assert criteria["Qualification"] == [("Decision maker identified", "decision_maker_identified", ["yes"]),
                                         ("Compelling event", "compelling_event", ["yes"]),
                                         ("Budget confirmed", "budget_confirmed", ["yes"])]
    assert [c[1] for c in criteria["Proposal/Price Quote"]] == ["shared_vision_agreed", "business_case_accepted"]
    assert not SalesStage.objects.filter(enforce=True).exists()
    guided.ensure_default_stages()  # idempotent: a list that exists is the leader's
    assert SalesStage.objects.count() == 8


def test_moving_forward_with_open_criteria_needs_a_reason_and_records_the_override(client, org, deal):
    client.force_login(org.rep_emea)
    refused = patch(client, deal.pk, {"stage": "Needs Analysis"}, if_match='"1"')
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert "Moving on from Qualification to Needs Analysis with exit criteria open: " + ", ".join(QUALIFICATION) in detail
    assert "Give a reason" in detail
    assert written(deal) == ("Qualification", 1, 0, 0)

    answer_questions(deal, {"budget_confirmed": "yes", "compelling_event": "no"}, user=org.rep_emea)
    moved = patch(client, deal.pk, {"stage": "needs analysis", "stage_reason": "  The CFO confirmed the pilot on the phone  "},
                  if_match='"1"')
    assert moved.status_code == 200, moved.content
    assert written(deal) == ("needs analysis", 2, 1, 1)
    override = StageOverride.objects.get(opportunity=deal)
    assert (override.from_stage, override.to_stage, override.reason, override.overridden_by) == (
        "Qualification", "needs analysis", "The CFO confirmed the pilot on the phone", org.rep_emea)
    assert override.unmet == [{"stage": "Qualification", "label": "Decision maker identified"},
                              {"stage": "Qualification", "label": "Compelling event"}]  # the budget is confirmed

    body = client.get(f"/api/deals/opportunities/{deal.pk}/exit-criteria").json()
    assert body["stage"] == "needs analysis" and body["in_order"] is True and body["criteria"] == []  # none in Needs Analysis
    assert body["overrides"][0]["unmet"][0] == {"stage": "Qualification", "label": "Decision maker identified"}
    assert body["overrides"][0]["overridden_by"] == "Erik Rep"


def test_criteria_met_by_qualification_answers_let_the_deal_through_without_a_reason(client, org, deal):
    client.force_login(org.rep_emea)
    answer_questions(deal, {"budget_confirmed": "yes", "compelling_event": "yes", "decision_maker_identified": "yes"},
                     user=org.rep_emea)
    body = client.get(f"/api/deals/opportunities/{deal.pk}/exit-criteria").json()
    assert [(c["label"], c["done"], c["auto"], c["answer"]) for c in body["criteria"]] == [
        (label, True, True, "yes") for label in QUALIFICATION]
    assert patch(client, deal.pk, {"stage": "Needs Analysis"}).status_code == 200
    assert not StageOverride.objects.exists()


def test_skipped_stages_count_and_closing_won_goes_past_the_last_open_stage(client, org, deal):
    client.force_login(org.rep_emea)
    answer_questions(deal, {"budget_confirmed": "yes", "compelling_event": "yes", "decision_maker_identified": "yes"},
                     user=org.rep_emea)
    skip = patch(client, deal.pk, {"stage": "Negotiation/Review"})
    assert skip.status_code == 400
    assert "Shared vision of success agreed, Business case accepted" in skip.json()["detail"]  # Proposal/Price Quote, skipped
    today = timezone.localdate().isoformat()
    answer_questions(deal, {"budget_confirmed": "no"}, user=org.rep_emea)
    won = patch(client, deal.pk, {"stage": "Closed Won", "close_date": today, "stage_reason": "Signed early"})
    assert won.status_code == 200, won.content
    unmet = StageOverride.objects.get(opportunity=deal).unmet
    assert unmet == [{"stage": "Qualification", "label": "Budget confirmed"},
                     {"stage": "Proposal/Price Quote", "label": "Shared vision of success agreed"},
                     {"stage": "Proposal/Price Quote", "label": "Business case accepted"}]


def test_moving_back_closing_lost_and_stages_not_in_the_order_are_never_gated(client, org, deal):
    client.force_login(org.rep_emea)
    Opportunity.objects.filter(pk=deal.pk).update(stage="Proposal/Price Quote")  # nothing is met there
    assert patch(client, deal.pk, {"stage": "Qualification"}).status_code == 200  # back
    lost = patch(client, deal.pk, {"stage": "Closed Lost", "lost_reason": "No budget", "close_comment": "Budget frozen"})
    assert lost.status_code == 200, lost.content
    other = org.opportunities["rep_emea"][0]  # at "Proposal": not in the default order
    assert patch(client, other.pk, {"stage": "Negotiation"}).status_code == 200
    assert patch(client, other.pk, {"stage": "Needs Analysis"}).status_code == 200  # from a stage not in the order
    assert not StageOverride.objects.exists()


def test_an_enforced_stage_refuses_the_move_even_with_a_reason_and_writes_nothing(client, org, deal):
    client.force_login(org.leader)
    stages = client.get("/api/deals/stages").json()["stages"]
    for s in stages:
        s.pop("id"), s.pop("position")
        for c in s["exit_criteria"]:
            c.pop("id")
    stages[1]["enforce"] = True
    assert put_stages(client, stages).status_code == 200
    client.force_login(org.rep_emea)
    answer_questions(deal, {"budget_confirmed": "yes"}, user=org.rep_emea)
    refused = patch(client, deal.pk, {"stage": "Proposal/Price Quote", "stage_reason": "The buyer is in a hurry"}, if_match='"1"')
    assert refused.status_code == 400
    assert refused.json()["detail"] == ("Cannot move to Proposal/Price Quote: Qualification requires its exit criteria met first "
                                        "(set by a sales leader), and these are open: Decision maker identified, Compelling event.")
    assert written(deal) == ("Qualification", 1, 0, 0)
    # the page form answers the same, with the form kept and nothing written
    page = client.post(reverse("crm:opportunity_edit", args=[deal.pk]),
                       {"stage": "Proposal/Price Quote", "stage_reason": "The buyer is in a hurry", "version": "1"})
    assert page.status_code == 400 and "Qualification requires its exit criteria met first" in page.content.decode()
    assert written(deal) == ("Qualification", 1, 0, 0)
    # backward stays open, even from an enforced stage
    assert patch(client, deal.pk, {"stage": "Prospecting"}).status_code == 200


def test_a_move_refused_as_stale_keeps_no_override(org, deal):
    crm_services.update_opportunity(org.manager_emea, deal.pk, expected_version=1, description="Manager's note")
    with pytest.raises(StaleWrite):
        crm_services.update_opportunity(org.rep_emea, deal.pk, expected_version=1, stage="Needs Analysis",
                                        stage_reason="Pilot agreed")
    assert written(deal) == ("Qualification", 2, 0, 0)


def test_the_reason_has_a_limit(client, org, deal):
    client.force_login(org.rep_emea)
    too_long = patch(client, deal.pk, {"stage": "Needs Analysis", "stage_reason": "x" * 501})
    assert too_long.status_code == 422 and "at most 500" in json.dumps(too_long.json())
    with pytest.raises(ValueError, match="longer than 500"):
        crm_services.update_opportunity(org.rep_emea, deal.pk, expected_version=None, stage="Needs Analysis",
                                        stage_reason="y" * 501)
    assert written(deal) == ("Qualification", 1, 0, 0)


def test_the_page_shows_what_is_open_asks_for_a_reason_and_shows_the_override(client, org, deal):
    client.force_login(org.rep_emea)
    page = reverse("crm:opportunity_detail", args=[deal.pk])
    html = client.get(page).content.decode()
    assert 'data-testid="stage-checklist"' in html and "Exit criteria: Qualification" in html and "0 of 3 met" in html
    assert "From the qualification answer “Budget confirmed”: not answered" in html
    edit = reverse("crm:opportunity_edit", args=[deal.pk])
    refused = client.post(edit, {"stage": "Needs Analysis", "version": "1"})
    html = refused.content.decode()
    assert refused.status_code == 400 and "with exit criteria open: Decision maker identified, Compelling event, Budget confirmed" in html
    assert 'name="stage_reason"' in html and 'value="Needs Analysis"' in html  # the move kept, the reason asked
    moved = client.post(edit, {"stage": "Needs Analysis", "version": "1", "stage_reason": "Verbal go from the COO"})
    assert moved.status_code == 302
    html = client.get(page).content.decode()
    assert "Moved on with criteria open (1)" in html and "Qualification → Needs Analysis" in html
    assert "reason: “Verbal go from the COO”" in html
    # read-only elsewhere: another team's rep does not reach the deal
    client.force_login(org.rep_amer)
    assert client.get(page).status_code == 404


def test_criteria_ticked_by_hand_record_who_and_when(client, org, deal):
    client.force_login(org.leader)
    stages = [{"name": "Qualification", "exit_criteria": [{"label": "Discovery call notes shared"},
                                                          {"label": "Budget confirmed", "question": "budget_confirmed"}]},
              {"name": "Needs Analysis"}]
    assert put_stages(client, stages).status_code == 200
    hand = ExitCriterion.objects.get(label="Discovery call notes shared")
    auto = ExitCriterion.objects.get(label="Budget confirmed")
    url = f"/api/deals/opportunities/{deal.pk}/exit-criteria"
    client.force_login(org.rep_emea)
    ticked = client.post(url, json.dumps({"criterion_id": hand.pk, "done": True}), content_type="application/json")
    assert ticked.status_code == 200
    item = ticked.json()["criteria"][0]
    assert (item["label"], item["done"], item["auto"], item["checked_by"]) == ("Discovery call notes shared", True, False, "Erik Rep")
    refused = client.post(url, json.dumps({"criterion_id": auto.pk, "done": True}), content_type="application/json")
    assert refused.status_code == 400 and "answer it instead" in refused.json()["detail"]
    missing = client.post(url, json.dumps({"criterion_id": 999_999, "done": True}), content_type="application/json")
    assert missing.status_code == 400
    answer_questions(deal, {"budget_confirmed": "yes"}, user=org.rep_emea)
    assert patch(client, deal.pk, {"stage": "Needs Analysis"}).status_code == 200  # both met
    # the page's tick form, and unticking
    Opportunity.objects.filter(pk=deal.pk).update(stage="Qualification")
    form = reverse("deals:exit_criteria", args=[deal.pk])
    assert client.post(form, {"criterion": hand.pk, "done": "no"}).status_code == 302
    assert not CriterionCheck.objects.exists()
    assert client.post(form, {"criterion": "x"}).status_code == 400
    assert client.post(form, {"criterion": str(2**70)}).status_code == 400
    # another team's rep, and the enablement author, do not reach the deal
    for other in (org.rep_amer, org.enablement):
        client.force_login(other)
        assert client.post(url, json.dumps({"criterion_id": hand.pk, "done": True}), content_type="application/json").status_code == 404
        assert client.get(url).status_code == 404
        assert client.post(form, {"criterion": hand.pk, "done": "yes"}).status_code == 404
    assert not CriterionCheck.objects.exists()


@pytest.mark.parametrize("viewer, status", [("leader", 200), ("admin", 200), ("manager_emea", 403), ("rep_emea", 403),
                                            ("enablement", 403)])
def test_only_sales_leaders_and_admins_edit_the_stages(client, org, viewer, status):
    client.force_login(org.user(viewer))
    assert client.get("/api/deals/stages").status_code == 200
    before = export_config() if status == 403 else None
    response = put_stages(client, [{"name": "Discovery", "enforce": True}, {"name": "Proposal"}])
    assert response.status_code == status
    if status == 200:
        assert [(s["name"], s["enforce"]) for s in response.json()["stages"]] == [("Discovery", True), ("Proposal", False)]
    else:
        assert export_config() == before
    page = client.post(reverse("deals:stages"), {"op": "add", "name": "Lead"})
    assert page.status_code == (302 if status == 200 else 403)
    assert client.get(reverse("deals:stages")).status_code == 200


@pytest.mark.parametrize("stages, message", [
    ([{"name": "A"}, {"name": " a "}], "appears twice"),
    ([{"name": "A", "exit_criteria": [{"label": "X", "question": "nosuch"}]}], "not a question key"),
    ([{"name": "A", "exit_criteria": [{"label": "X", "question": "org_change"}]}], "which answers of org_change"),
    ([{"name": "A", "exit_criteria": [{"label": "X", "question": "org_change", "answers": ["huge"]}]}], "not one of small"),
    ([{"name": "A", "exit_criteria": [{"label": "X", "answers": ["yes"]}]}], "answers need a question"),
    ([{"name": "A", "exit_criteria": [{"label": "X"}, {"label": "x"}]}], "appears twice"),
    ([{"name": "  "}], "a text is required"),
])
def test_bad_stages_are_a_400_and_change_nothing(client, org, stages, message):
    client.force_login(org.leader)
    before = export_config()
    response = put_stages(client, stages)
    assert response.status_code == 400 and message in response.json()["detail"], response.json()
    assert export_config() == before


@pytest.mark.parametrize("body", [{"stages": [{"name": "x" * 121}]}, {"stages": [{"name": "A", "enforce": "sometimes"}]},
                                  {"stages": [{"name": "A", "exit_criteria": [{"label": "x" * 256}]}]},
                                  {"stages": [{"name": "A", "colour": "red"}]}, {"stages": "A"}, {}])
def test_malformed_stage_documents_are_a_4xx(client, org, body):
    client.force_login(org.leader)
    before = export_config()
    response = client.put("/api/deals/stages", json.dumps(body), content_type="application/json")
    assert 400 <= response.status_code < 500
    assert export_config() == before


def test_the_stages_travel_in_the_deal_rules_yaml(org):
    ensure_defaults()
    doc = yaml.safe_load(export_config())
    assert doc["stages"][1] == {"name": "Qualification", "exit_criteria": [
        {"label": label, "question": key} for label, key in zip(QUALIFICATION, ["decision_maker_identified", "compelling_event",
                                                                               "budget_confirmed"])]}
    doc["stages"][1]["enforce"] = True
    doc["stages"][1]["exit_criteria"].append("Mutual plan agreed with the buyer")  # a bare label: ticked by hand
    doc["stages"].insert(0, {"name": "Lead", "exit_criteria": [{"label": "Fit", "question": "org_change",
                                                              "answers": ["small", "medium"]}]})
    counts = load_config(yaml.safe_dump(doc))
    assert counts["stages"] == 9
    qualification = SalesStage.objects.get(name="Qualification")
    assert qualification.enforce and qualification.position == 2
    assert [c.label for c in qualification.criteria.all()][-1] == "Mutual plan agreed with the buyer"
    assert yaml.safe_load(export_config())["stages"][0]["exit_criteria"][0]["answers"] == ["small", "medium"]
    # a document without stages leaves them as they are
    del doc["stages"]
    assert "stages" not in load_config(yaml.safe_dump(doc))
    assert SalesStage.objects.count() == 9


def test_the_leader_edits_a_stage_on_the_page_and_ticks_survive_a_rename(client, org, deal):
    client.force_login(org.leader)
    assert put_stages(client, [{"name": "Qualification", "exit_criteria": [{"label": "Notes shared"},
                                                                          {"label": "Budget confirmed", "question": "budget_confirmed"}]},
                               {"name": "Needs Analysis"}]).status_code == 200
    stage = SalesStage.objects.get(name="Qualification")
    notes = ExitCriterion.objects.get(label="Notes shared")
    guided.tick_criterion(org.rep_emea, deal, notes.pk, True)
    html = client.get(reverse("deals:stages")).content.decode()
    assert 'data-testid="stage-form"' in html and f'name="s{stage.pk}-name"' in html
    p = f"c{stage.pk}"
    form = {"op": "save", "stage": stage.pk, f"s{stage.pk}-name": "Qualification", f"s{stage.pk}-enforce": "on",
            f"{p}-TOTAL_FORMS": "3", f"{p}-INITIAL_FORMS": "2", f"{p}-MIN_NUM_FORMS": "0", f"{p}-MAX_NUM_FORMS": "30",
            f"{p}-0-label": "Discovery notes shared", f"{p}-0-question": "", f"{p}-0-answers": "", f"{p}-0-ORDER": "2",
            f"{p}-1-label": "Budget confirmed", f"{p}-1-question": "budget_confirmed", f"{p}-1-answers": "", f"{p}-1-ORDER": "1",
            f"{p}-2-label": "Compelling event", f"{p}-2-question": "compelling_event", f"{p}-2-answers": "", f"{p}-2-ORDER": "3"}
    assert client.post(reverse("deals:stages"), form).status_code == 302
    stage.refresh_from_db()
    assert stage.enforce and stage.updated_by == org.leader
    assert [(c.label, c.pk == notes.pk) for c in stage.criteria.all()] == [
        ("Budget confirmed", False), ("Discovery notes shared", True), ("Compelling event", False)]
    assert CriterionCheck.objects.filter(criterion=notes, opportunity=deal).exists()  # renamed, still ticked
    bad = client.post(reverse("deals:stages"), {**form, f"{p}-2-question": "org_change"})
    assert bad.status_code == 400 and "which answers of org_change" in bad.content.decode()
    assert '<option value="org_change" selected>' in bad.content.decode()  # the form as sent, to correct
    # add, move and delete stages
    assert client.post(reverse("deals:stages"), {"op": "add", "name": "Lead", "after": "0"}).status_code == 302
    assert list(SalesStage.objects.values_list("name", flat=True)) == ["Lead", "Qualification", "Needs Analysis"]
    assert client.post(reverse("deals:stages"), {"op": "move", "stage": stage.pk, "direction": "down"}).status_code == 302
    assert list(SalesStage.objects.values_list("name", flat=True)) == ["Lead", "Needs Analysis", "Qualification"]
    lead = SalesStage.objects.get(name="Lead")
    assert client.post(reverse("deals:stages"), {"op": "delete", "stage": lead.pk}).status_code == 302
    assert client.post(reverse("deals:stages"), {"op": "delete", "stage": lead.pk}).status_code == 302  # gone: said so
    assert client.post(reverse("deals:stages"), {"op": "add", "name": "needs analysis"}).status_code == 400  # twice
    assert client.post(reverse("deals:stages"), {"op": "nonsense"}).status_code == 400
    client.force_login(org.rep_emea)
    html = client.get(reverse("deals:stages")).content.decode()
    assert "Discovery notes shared" in html and "ticked by hand on the deal" in html and 'data-testid="stage-form"' not in html


# Any stages a person could paste: scalars of every kind, lists and mappings under the real key names.
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
_keys = st.sampled_from(["name", "enforce", "exit_criteria", "label", "question", "answers"]) | st.text(max_size=6)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
                       max_leaves=25)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(stages=_values)
def test_any_stages_are_parsed_or_refused_with_a_reason(stages):
    questions = {"budget_confirmed": ["yes", "no"], "org_change": ["small", "medium", "large"]}
    try:
        parsed = guided.parse_stages(stages, questions)
    except guided.ConfigError as exc:
        assert str(exc)
    else:
        assert all(set(s) == {"name", "enforce", "exit_criteria"} for s in parsed)


def test_answering_qualification_with_htmx_sends_the_checklist_along(client, org, deal):
    client.force_login(org.rep_emea)
    url = reverse("deals:qualification", args=[deal.pk])
    html = client.post(url, {"budget_confirmed": "yes"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="deal-intelligence"' in html and 'id="stage-checklist"' in html and 'hx-swap-oob="true"' in html
    assert "1 of 3 met" in html
    Opportunity.objects.filter(pk=deal.pk).update(stage="Closed Lost", is_closed=True)  # no checklist on a closed deal
    assert "stage-checklist" not in client.post(url, {"budget_confirmed": "no"}, HTTP_HX_REQUEST="true").content.decode()
