"""Deal intelligence over the API and the pages, per role: what a caller may see they read (and a
rep answers qualification on their own deals); anything else is a 404, bad input a 400."""

import json

import pytest
from typer.testing import CliRunner

from dealpilot.cli import app
from dealpilot.deals.models import QualificationAnswerChange, WinModelRun, WinScore

pytestmark = pytest.mark.django_db

VIEWERS = ["leader", "admin", "manager_emea", "manager_amer", "rep_emea", "rep_dach", "rep_amer", "enablement"]


def open_ids(org, viewer):
    return {pk for pk in org.visible_opportunity_ids(viewer) if pk in {o.pk for os in org.opportunities.values() for o in os
                                                                       if not o.is_closed}}


@pytest.mark.parametrize("viewer", VIEWERS)
def test_intelligence_is_404_for_deals_the_caller_may_not_see(client, org, viewer):
    client.force_login(org.user(viewer))
    visible = org.visible_opportunity_ids(viewer)
    for pk in org.all_opportunity_ids():
        r = client.get(f"/api/deals/opportunities/{pk}/intelligence")
        if pk in visible:
            assert r.status_code == 200, r.content
            body = r.json()
            assert body["opportunity_id"] == pk
            if body["is_open"]:
                assert 0 < body["probability"] < 1 and body["method"] == "rules"
                assert {g["code"] for g in body["coverage"]} >= {"decision_maker", "champion", "influencer", "user"}
        else:
            assert r.status_code == 404
        q = client.put(f"/api/deals/opportunities/{pk}/qualification", json.dumps({"answers": {"budget_confirmed": "yes"}}),
                       content_type="application/json")
        assert q.status_code == (200 if pk in visible else 404)


def test_a_rep_answers_qualification_over_the_api(client, org):
    client.force_login(org.rep_emea)
    deal = org.opportunities["rep_emea"][0]
    url = f"/api/deals/opportunities/{deal.pk}/qualification"
    r = client.put(url, json.dumps({"answers": {"budget_confirmed": "yes", "org_change": "small"}}), content_type="application/json")
    assert r.status_code == 200, r.content
    answers = {a["key"]: a["answer"] for a in r.json()["answers"]}
    assert answers["budget_confirmed"] == "yes" and answers["org_change"] == "small"
    assert [(h["key"], h["old_value"], h["new_value"], h["changed_by"]) for h in r.json()["history"]][-1][2] in ("yes", "small")
    bad = client.put(url, json.dumps({"answers": {"org_change": "enormous"}}), content_type="application/json")
    assert bad.status_code == 400 and "not one of" in bad.json()["detail"]
    unknown = client.put(url, json.dumps({"answers": {"owner_id": "1"}}), content_type="application/json")
    assert unknown.status_code == 400
    # the knowledge rule now shows among the reasons
    body = client.get(f"/api/deals/opportunities/{deal.pk}/intelligence").json()
    assert any("organisational change is small" in r["text"] for r in body["reasons_up"])
    assert body["rep_probability"] == 0.6


def test_rules_and_training_are_for_leaders(client, org, django_capture_on_commit_callbacks):
    client.force_login(org.rep_emea)
    assert client.get("/api/deals/rules").status_code == 200
    assert client.put("/api/deals/rules", json.dumps({"yaml": "rules: []"}), content_type="application/json").status_code == 404
    assert client.post("/api/deals/model/train").status_code == 404
    assert client.post("/deals/rules/", {"yaml": "rules: []"}).status_code == 404
    assert client.post("/deals/model/").status_code == 404
    client.force_login(org.enablement)
    assert client.get("/api/deals/rules").status_code == 404
    assert client.get("/deals/rules/").status_code == 404
    client.force_login(org.leader)
    bad = client.put("/api/deals/rules", json.dumps({"yaml": "rules: ["}), content_type="application/json")
    assert bad.status_code == 400 and "YAML" in bad.json()["detail"]
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post("/api/deals/model/train")
    assert r.status_code == 202
    run = WinModelRun.objects.get(pk=r.json()["run_id"])
    assert run.status == "too_little_data"  # the sample org has six closed deals
    assert client.get("/api/deals/model").json()["status"] == "none"


def test_stored_scores_list_only_visible_open_deals(client, org):
    from dealpilot.deals.scoring import score_open_deals

    score_open_deals()
    assert WinScore.objects.count() == 6
    client.force_login(org.rep_amer)
    body = client.get("/api/deals/scores").json()
    assert {s["opportunity_id"] for s in body["items"]} == open_ids(org, "rep_amer")


def test_the_opportunity_page_shows_the_panel_and_saves_answers(client, org):
    deal = org.opportunities["rep_dach"][0]
    client.force_login(org.rep_dach)
    html = client.get(f"/opportunities/{deal.pk}/").content.decode()
    for marker in ('data-testid="win-probability"', 'data-testid="vulnerabilities"', 'data-testid="buying-group"',
                   'data-testid="qualification-form"', "Knowledge rules"):
        assert marker in html
    url = f"/deals/opportunities/{deal.pk}/qualification/"
    r = client.post(url, {"budget_confirmed": "yes", "compelling_event": "no"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and 'id="deal-intelligence"' in r.content.decode()
    assert "Answer history (2)" in r.content.decode()
    r = client.post(url, {"org_change": "huge"})  # without htmx: back to the page with a message
    assert r.status_code == 302
    assert QualificationAnswerChange.objects.filter(opportunity=deal).count() == 2
    # another rep's deal: 404
    client.force_login(org.rep_amer)
    assert client.post(url, {"budget_confirmed": "no"}).status_code == 404


def test_the_rules_page_loads_yaml_for_a_leader(client, org):
    client.force_login(org.leader)
    page = client.get("/deals/rules/")
    assert page.status_code == 200 and "budget-small-change" in page.content.decode()
    exported = client.get("/deals/rules/export/").content.decode()
    changed = exported.replace("no_activity_days: 21", "no_activity_days: 40")
    r = client.post("/deals/rules/", {"yaml": changed})
    assert r.status_code == 302
    assert "no_activity_days: 40" in client.get("/deals/rules/export/").content.decode()
    r = client.post("/deals/rules/", {"yaml": "rules:\n  - {key: x, when: {nosuch: 1}, weight: 1, reason: r}"})
    assert r.status_code == 400 and "not a question key" in r.content.decode()
    assert client.get("/deals/model/").status_code == 200


def test_the_cli_trains_scores_and_exports_rules(org, tmp_path):
    out = CliRunner().invoke(app, ["deals", "train"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["status"] == "too_little_data"
    out = CliRunner().invoke(app, ["deals", "score"])
    assert out.exit_code == 0 and "Scored 6 open deals with the knowledge rules" in out.output  # said on stderr; the list on stdout
    target = tmp_path / "rules.yaml"
    out = CliRunner().invoke(app, ["deals", "rules", "--export", str(target)])
    assert out.exit_code == 0 and "budget-small-change" in target.read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [")
    out = CliRunner().invoke(app, ["deals", "rules", "--load", str(bad)])
    assert out.exit_code == 2
