"""Priorities, account scores and ratings, the model editor: pages, API and CLI, per role.

The sample organisation (tests/factories.py): each rep owns one account; rep_amer also sells
into rep_emea's account; managers see their team's; leaders and admins everything; enablement
authors no sales records (their pages and API answer 404)."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.urls import reverse
from typer.testing import CliRunner

from dealpilot.planning import services
from dealpilot.planning.models import AccountRating
from dealpilot.planning.scoring import default_spec, dump_yaml
from tests.factories import make_account

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

# who sees which of the sample organisation's accounts
SEES = {
    "leader": {"rep_emea", "rep_dach", "rep_amer"},
    "admin": {"rep_emea", "rep_dach", "rep_amer"},
    "manager_emea": {"rep_emea", "rep_dach"},
    "manager_amer": {"rep_amer", "rep_emea"},  # rep_amer sells into rep_emea's account
    "rep_emea": {"rep_emea"},
    "rep_dach": {"rep_dach"},
    "rep_amer": {"rep_amer", "rep_emea"},
}


def visible_ids(org, viewer):
    return {org.accounts[name].pk for name in SEES[viewer]}


@pytest.mark.parametrize("viewer", sorted(SEES))
def test_priorities_page_lists_exactly_the_visible_accounts(client, org, viewer):
    client.force_login(org.user(viewer))
    response = client.get(reverse("planning:priorities"))
    assert response.status_code == 200
    shown = {r["account_id"] for r in response.context["page"].object_list}
    assert shown == visible_ids(org, viewer)
    assert b'class="chart-plot"' in response.content
    # every point of the chart opens the account's planning page
    urls = {c[0] for trace in response.context["chart"].figure["data"] for c in trace["customdata"]}
    assert urls == {reverse("planning:account", args=[pk]) for pk in visible_ids(org, viewer)}


@pytest.mark.parametrize("viewer", sorted(SEES))
def test_account_page_and_api_404_for_accounts_not_visible(client, org, viewer):
    client.force_login(org.user(viewer))
    for name, account in org.accounts.items():
        page = client.get(reverse("planning:account", args=[account.pk]))
        api = client.get(f"/api/planning/accounts/{account.pk}/score")
        rate = client.post(reverse("planning:rate", args=[account.pk]), {"element": "profitability", "level": "high"})
        wanted = 200 if name in SEES[viewer] else 404
        assert (page.status_code, api.status_code) == (wanted, wanted), name
        assert rate.status_code == (302 if wanted == 200 else 404)
    assert client.get(reverse("planning:account", args=[999999])).status_code == 404


def test_enablement_and_anonymous_get_nothing(client, org):
    for url in (reverse("planning:priorities"), reverse("planning:priorities_export"),
                reverse("planning:account", args=[org.accounts["rep_emea"].pk])):
        assert client.get(url).status_code == 302  # to the login page
    client.force_login(org.enablement)
    for url in (reverse("planning:priorities"), reverse("planning:priorities_export"),
                reverse("planning:account", args=[org.accounts["rep_emea"].pk]), reverse("planning:scoring_model")):
        assert client.get(url).status_code == 404
    assert client.get("/api/planning/priorities").status_code == 404
    assert client.get("/api/planning/scoring-model").status_code == 404
    client.logout()
    assert client.get("/api/planning/priorities").status_code == 401


def test_api_priorities_per_role_and_filters(client, org):
    for viewer in SEES:
        client.force_login(org.user(viewer))
        body = client.get("/api/planning/priorities").json()
        assert {r["account_id"] for r in body["items"]} == visible_ids(org, viewer)
        assert [r["rank"] for r in body["items"]] == list(range(1, len(body["items"]) + 1))
    client.force_login(org.leader)
    one = client.get("/api/planning/priorities", {"q": "rep_dach"}).json()["items"]
    assert [r["account"] for r in one] == ["rep_dach account"]
    quadrant = one[0]["quadrant"]
    assert all(r["quadrant"] == quadrant for r in client.get("/api/planning/priorities", {"quadrant": quadrant}).json()["items"])
    assert client.get("/api/planning/priorities", {"sort": "bogus"}).status_code == 422


def test_rating_an_element_moves_the_score_and_explains_it(client, org):
    account = org.accounts["rep_dach"]
    client.force_login(org.rep_dach)
    before = client.get(f"/api/planning/accounts/{account.pk}/score").json()
    response = client.put(f"/api/planning/accounts/{account.pk}/ratings/solution_fit",
                          data={"level": "high", "note": "Three units need us"}, content_type="application/json")
    assert response.status_code == 200, response.content
    after = response.json()
    assert after["future_score"] > before["future_score"]
    fit = next(e for e in after["elements"] if e["key"] == "solution_fit")
    assert (fit["level"], fit["points"], fit["rated_by"], fit["note"]) == ("high", 100.0, "Dora Rep", "Three units need us")
    assert fit["contribution"] == pytest.approx(fit["weight"] * 100 / sum(
        e["weight"] for e in after["elements"] if e["axis"] == "future"), abs=0.01)
    # contributions add up to the score
    assert sum(e["contribution"] for e in after["elements"] if e["axis"] == "future") == pytest.approx(after["future_score"], abs=0.1)
    # bad input: 400, nothing written
    for key, level in (("solution_fit", "stellar"), ("closed_revenue", "high"), ("nope", "high")):
        bad = client.put(f"/api/planning/accounts/{account.pk}/ratings/{key}", data={"level": level},
                         content_type="application/json")
        assert bad.status_code == 400, (key, level)
    assert AccountRating.objects.get(account=account, element_key="solution_fit").level == "high"
    assert client.delete(f"/api/planning/accounts/{account.pk}/ratings/solution_fit").status_code == 200
    assert AccountRating.objects.get(account=account).level == ""  # withdrawn
    withdrawn = client.get(f"/api/planning/accounts/{account.pk}/score").json()
    assert withdrawn["future_score"] == before["future_score"]
    assert next(e for e in withdrawn["elements"] if e["key"] == "solution_fit")["level_label"] == "Not rated"


def test_rating_through_the_page(client, org):
    account = org.accounts["rep_emea"]
    client.force_login(org.rep_emea)
    response = client.post(reverse("planning:rate", args=[account.pk]),
                           {"element": "profitability", "level": "medium", "note": "=cmd|' /C calc'!A0"})
    assert response.status_code == 302
    page = client.get(reverse("planning:account", args=[account.pk]))
    part = next(e for e in page.context["score"]["elements"] if e["key"] == "profitability")
    assert (part["level"], part["points"]) == ("medium", 50.0)
    assert client.post(reverse("planning:rate", args=[account.pk]), {"element": "profitability", "level": "x"}).status_code == 400


def test_exports_csv_and_xlsx_are_the_visible_rows_with_formulas_defused(client, org):
    from openpyxl import load_workbook

    make_account(org.rep_emea, name="=HYPERLINK(\"http://evil\")")
    client.force_login(org.rep_emea)
    response = client.get(reverse("planning:priorities_export") + "?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {r["account"] for r in rows} == {"rep_emea account", "'=HYPERLINK(\"http://evil\")"}
    assert {r["quadrant"] for r in rows} <= set("ABCD")

    response = client.get(reverse("planning:priorities_export") + "?format=xlsx&sort=name")
    sheet = load_workbook(io.BytesIO(response.content))["Priorities"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:4] == ["rank", "account", "quadrant", "treatment"]
    assert {v[1] for v in values[1:]} == {"rep_emea account", "'=HYPERLINK(\"http://evil\")"}
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


@pytest.mark.parametrize("viewer", ["rep_emea", "manager_emea", "enablement"])
def test_only_leaders_and_admins_edit_the_model(client, org, viewer):
    client.force_login(org.user(viewer))
    assert client.get(reverse("planning:scoring_model")).status_code == 404
    assert client.get(reverse("planning:scoring_model_yaml")).status_code == 404
    assert client.post(reverse("planning:scoring_model"), {"action": "reset"}).status_code == 404
    spec = default_spec().model_dump()
    assert client.put("/api/planning/scoring-model", data=spec, content_type="application/json").status_code == 404
    with pytest.raises(services.NotAllowed):
        services.save_spec(org.user(viewer), default_spec())


def test_leader_edits_weights_and_definitions_in_the_form(client, org):
    client.force_login(org.leader)
    page = client.get(reverse("planning:scoring_model"))
    assert page.status_code == 200
    post = {"action": "save", "name": "Our model", "threshold_current": "40", "threshold_future": "median",
            "closed_revenue-weight": "80", "closed_revenue-0-definition": "Half a million or more",
            "closed_revenue-0-min": "500000", "profitability-1-label": "Fair"}
    assert client.post(reverse("planning:scoring_model"), post).status_code == 302
    spec = services.active_spec()
    revenue = spec.element("closed_revenue")
    assert (spec.name, spec.thresholds["current"], spec.thresholds["future"]) == ("Our model", 40, "median")
    assert (revenue.weight, revenue.levels[0].min, revenue.levels[0].definition) == (80, 500000, "Half a million or more")
    assert spec.element("profitability").levels[1].label == "Fair"
    # a bad value: 400 and nothing changes
    bad = client.post(reverse("planning:scoring_model"), {**post, "closed_revenue-weight": "heavy", "name": "Changed"})
    assert bad.status_code == 400 and b"not a number" in bad.content
    bad = client.post(reverse("planning:scoring_model"), {**post, "threshold_future": "300"})
    assert bad.status_code == 400
    assert services.active_spec().name == "Our model"


def test_yaml_download_upload_and_ratings_survive_a_reimport(client, org):
    account = org.accounts["rep_emea"]
    services.rate_account(org.rep_emea, account.pk, "strategic_value", "high")
    client.force_login(org.admin)
    text = client.get(reverse("planning:scoring_model_yaml")).content.decode()
    assert "strategic_value" in text
    changed = text.replace("name: Default account prioritisation", "name: Uploaded model")
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(reverse("planning:scoring_model"),
                           {"action": "upload", "file": SimpleUploadedFile("m.yaml", changed.encode())})
    assert response.status_code == 302
    assert services.active_spec().name == "Uploaded model"
    assert AccountRating.objects.get(account=account, element_key="strategic_value").level == "high"
    bad = client.post(reverse("planning:scoring_model"), {"action": "upload", "file": SimpleUploadedFile("m.yaml", b"elements: 3")})
    assert bad.status_code == 400
    assert services.active_spec().name == "Uploaded model"
    assert client.post(reverse("planning:scoring_model"), {"action": "reset"}).status_code == 302
    assert services.active_spec() == default_spec()


def test_api_reads_and_replaces_the_model(client, org):
    client.force_login(org.rep_amer)
    assert client.get("/api/planning/scoring-model").json()["name"] == "Default account prioritisation"
    client.force_login(org.leader)
    spec = default_spec().model_dump()
    spec["elements"][0]["weight"] = 10
    response = client.put("/api/planning/scoring-model", data=spec, content_type="application/json")
    assert response.status_code == 200 and response.json()["elements"][0]["weight"] == 10
    spec["elements"][0]["metric"] = "guesswork"
    response = client.put("/api/planning/scoring-model", data=spec, content_type="application/json")
    assert response.status_code == 400 and "metric must be one of" in response.json()["detail"]
    assert services.active_spec().elements[0].metric == "won_revenue"


def run(*args):
    from dealpilot.cli import app

    return CliRunner().invoke(app, list(args))


def test_cli_report_accounts_and_model_yaml(org, tmp_path: Path):
    out = run("report", "accounts", "--format", "json", "--as", "rep_amer")
    assert out.exit_code == 0, out.output
    assert {r["account"] for r in json.loads(out.stdout)["rows"]} == {"rep_amer account", "rep_emea account"}
    out = run("report", "accounts", "--format", "csv")
    assert out.exit_code == 0 and len(list(csv.DictReader(io.StringIO(out.stdout)))) == 3
    assert run("report", "accounts", "--as", "nobody").exit_code == 2

    path = tmp_path / "model.yaml"
    assert run("planning", "export-model", str(path)).exit_code == 0
    assert path.read_text() == dump_yaml(services.active_spec())
    path.write_text(path.read_text().replace("weight: 50", "weight: 70"))
    assert run("planning", "import-model", str(path), "--as", "rep_emea").exit_code == 2  # not a leader
    out = run("planning", "import-model", str(path), "--as", "leader")
    assert out.exit_code == 0, out.output
    assert services.active_spec().element("closed_revenue").weight == 70
    path.write_text("name: broken\nelements: []\n")
    assert run("planning", "import-model", str(path), "--as", "leader").exit_code == 2
