"""Win/loss analysis (deals.winloss): hand-computed win rates, reason counts and intervals on a small built
dataset; scope by role; the small-sample caveat; deals like this one and how it relaxes; the API, the CLI and
the pages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from typer.testing import CliRunner

from dealpilot.cli import app
from dealpilot.deals import winloss
from dealpilot.deals.winloss import deals_like_this, wilson_interval, win_loss_breakdown
from dealpilot.enablement import services as content_services
from tests.factories import add_line_item, add_stage_change, make_account, make_opportunity, make_product

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

Q, NA, PPQ = "Qualification", "Needs Analysis", "Proposal/Price Quote"  # default stages (guided selling)


@dataclass
class Data:
    org: object
    deals: dict
    open_deal: object
    start: object
    end: object


@pytest.fixture
def data(org) -> Data:
    """Eight deals closed 100-200 days ago (the sample org's own won deals closed 10 days ago are outside the
    period asked for):

    | deal | owner | account | amount | outcome | lost reason / comment | competitor | stages |
    | e1 | rep_emea | A1 Manufacturing large | 30k | won | "Fast pilot" | Acme | Q, PPQ, Closed Won |
    | e2 | rep_emea | A1 | 30k | lost | Price | | Q, PPQ |
    | e3 | rep_emea | A1 | 5k | lost | Lost to a competitor | acme | Q |
    | e4 | rep_emea | A2 Software small | 120k | won | "Fast pilot" | | Q, NA, PPQ |
    | d1 | rep_dach | A3 Manufacturing large | 30k | lost | Price | Acme | Q, PPQ |
    | d2 | rep_dach | A3 | 30k | won | "Strong champion" | | Discovery (not a listed stage) |
    | a1 | rep_amer | A4 Software small | 60k | lost | Timing | | none |
    | a2 | rep_amer | A4 | 60k | won | (no comment) | | NA, Q (moved back) |
    """
    today = timezone.localdate()
    closed_on = today - timedelta(days=150)
    a1 = make_account(org.rep_emea, name="A1", industry="Manufacturing", size="large")
    a2 = make_account(org.rep_emea, name="A2", industry="Software", size="small")
    a3 = make_account(org.rep_dach, name="A3", industry="Manufacturing", size="large")
    a4 = make_account(org.rep_amer, name="A4", industry="Software", size="small")
    specs = {
        "e1": (org.rep_emea, a1, 30000, "won", "", "Fast pilot", "Acme", [Q, PPQ, "Closed Won"]),
        "e2": (org.rep_emea, a1, 30000, "lost", "Price", "Too dear", "", [Q, PPQ]),
        "e3": (org.rep_emea, a1, 5000, "lost", "Lost to a competitor", "Went with them", "acme", [Q]),
        "e4": (org.rep_emea, a2, 120000, "won", "", "Fast  pilot", "", [Q, NA, PPQ]),
        "d1": (org.rep_dach, a3, 30000, "lost", "Price", "Budget cut", "Acme", [Q, PPQ]),
        "d2": (org.rep_dach, a3, 30000, "won", "", "Strong champion", "", ["Discovery"]),
        "a1": (org.rep_amer, a4, 60000, "lost", "Timing", "Next year", "", []),
        "a2": (org.rep_amer, a4, 60000, "won", "", "", "", [NA, Q]),
    }
    deals = {}
    for key, (owner, account, amount, status, reason, comment, competitor, stages) in specs.items():
        o = make_opportunity(owner, account, name=key, amount=amount, status=status, lost_reason=reason,
                             close_comment=comment, competitor=competitor, close_date=closed_on,
                             stage="Closed Won" if status == "won" else "Closed Lost")
        for i, stage in enumerate(stages):
            add_stage_change(o, stage, closed_on - timedelta(days=60 - 10 * i))
        deals[key] = o
    add_line_item(deals["e4"], make_product("Platform"))
    add_line_item(deals["e4"], make_product("Analytics"))
    add_line_item(deals["e1"], make_product("Platform2"))
    open_deal = make_opportunity(org.rep_emea, a1, name="open like e1", amount=30000, stage=PPQ, competitor="ACME")
    add_stage_change(open_deal, Q, today - timedelta(days=20))
    add_stage_change(open_deal, PPQ, today - timedelta(days=5))
    return Data(org, deals, open_deal, today - timedelta(days=200), today - timedelta(days=100))


def rows_of(user, dimension, d: Data) -> dict:
    return {r["group"]: r for r in win_loss_breakdown(user, dimension, d.start, d.end)["rows"]}


def test_wilson_interval_matches_the_formula_and_scipy():
    from scipy.stats import binomtest

    low, high = wilson_interval(1, 3)
    assert (round(low, 4), round(high, 4)) == (0.0615, 0.7923)  # worked by hand: centre 0.4269, half-width 0.3654
    for wins, n in ((0, 1), (3, 3), (7, 20), (45, 120)):
        ci = binomtest(wins, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(wins, n) == pytest.approx((ci.low, ci.high), abs=1e-6)
    assert wilson_interval(0, 0) == (None, None)


def test_win_rates_and_reasons_by_dimension_hand_computed(data):
    leader = data.org.leader
    competitor = rows_of(leader, "competitor", data)
    assert set(competitor) == {"Acme", "None named"}  # "acme" and "Acme" are one competitor
    assert (competitor["Acme"]["won"], competitor["Acme"]["lost"], competitor["Acme"]["closed"]) == (1, 2, 3)
    assert competitor["Acme"]["win_rate"] == pytest.approx(1 / 3)
    assert (round(competitor["Acme"]["win_rate_low"], 4), round(competitor["Acme"]["win_rate_high"], 4)) == (0.0615, 0.7923)
    assert competitor["Acme"]["top_lost_reasons"] == [{"reason": "Lost to a competitor", "deals": 1}, {"reason": "Price", "deals": 1}]
    assert (competitor["None named"]["won"], competitor["None named"]["lost"]) == (3, 2)

    rates = winloss.competitor_win_rates(leader, data.start, data.end)
    assert [r["group"] for r in rates["rows"]] == ["Acme"] and rates["none_named"] == 5

    stage = win_loss_breakdown(leader, "stage_reached", data.start, data.end)["rows"]
    # in the leader's stage order; an unlisted stage after the listed ones; no history last
    assert [(r["group"], r["won"], r["lost"]) for r in stage] == [
        (Q, 0, 1), (NA, 1, 0), (PPQ, 2, 2), ("Discovery", 1, 0), ("Not recorded", 0, 1)]
    assert stage[2]["top_lost_reasons"] == [{"reason": "Price", "deals": 2}]
    assert stage[2]["top_win_reasons"] == [{"reason": "Fast pilot", "deals": 2}]  # whitespace does not split a comment

    size = rows_of(leader, "size", data)
    assert {k: (r["won"], r["lost"]) for k, r in size.items()} == {
        "under 10k": (0, 1), "10k-50k": (2, 2), "50k-100k": (1, 1), "100k-250k": (1, 0)}
    segment = rows_of(leader, "segment", data)
    assert {k: (r["won"], r["lost"]) for k, r in segment.items()} == {
        "Manufacturing · large": (2, 3), "Software · small": (2, 1)}
    product = rows_of(leader, "product", data)
    assert {k: (r["won"], r["lost"]) for k, r in product.items()} == {
        "Platform": (1, 0), "Analytics": (1, 0), "Platform2": (1, 0), "No product": (2, 4)}  # e4 counts in both of its products
    rep = rows_of(leader, "rep", data)
    assert {k: (r["won"], r["lost"]) for k, r in rep.items()} == {"Erik Rep": (2, 2), "Dora Rep": (1, 1), "Andy Rep": (1, 1)}

    reasons = win_loss_breakdown(leader, "reasons", data.start, data.end)["rows"]
    assert [(r["kind"], r["reason"], r["deals"], r["of"]) for r in reasons] == [
        ("lost", "Price", 2, 4), ("lost", "Lost to a competitor", 1, 4), ("lost", "Timing", 1, 4),
        ("won", "Fast pilot", 2, 4), ("won", "No comment recorded", 1, 4), ("won", "Strong champion", 1, 4)]
    assert reasons[0]["share"] == 0.5


def test_the_period_is_by_close_date(data):
    everything = win_loss_breakdown(data.org.leader, "rep", None, None)
    assert everything["closed"] == 8 + 3  # the sample org's three won deals, closed 10 days ago
    assert win_loss_breakdown(data.org.leader, "rep", data.end + timedelta(days=1), None)["closed"] == 3


def test_small_samples_are_flagged_too_few_to_tell(data, monkeypatch):
    rows = rows_of(data.org.leader, "rep", data)
    assert all(r["small_sample"] for r in rows.values())
    assert rows["Erik Rep"]["caveat"] == "Too few to tell: 4 closed deals"
    monkeypatch.setattr(winloss, "MIN_SAMPLE", 4)
    rows = rows_of(data.org.leader, "rep", data)
    assert not rows["Erik Rep"]["small_sample"] and rows["Dora Rep"]["small_sample"]
    assert any("Correlation, not causation" in c for c in win_loss_breakdown(data.org.leader, "rep")["caveats"])


def test_scope_rep_sees_own_manager_the_team(data):
    org = data.org
    rep = win_loss_breakdown(org.rep_emea, "rep", data.start, data.end)
    assert [r["group"] for r in rep["rows"]] == ["Erik Rep"] and (rep["won"], rep["lost"]) == (2, 2)
    manager = rows_of(org.manager_emea, "rep", data)
    assert set(manager) == {"Erik Rep", "Dora Rep"}
    assert win_loss_breakdown(org.manager_emea, "competitor", data.start, data.end)["closed"] == 6
    assert win_loss_breakdown(org.enablement, "rep", data.start, data.end)["closed"] == 0
    with pytest.raises(winloss.UnknownDimension):
        win_loss_breakdown(org.leader, "colour")


def test_deals_like_this_relaxes_and_says_what(data, monkeypatch):
    org, d = data.org, data.deals
    like = deals_like_this(org.leader, data.open_deal)
    # all four match e1 and d1 only; stage path, competitor and deal size are dropped until 5 match (segment kept)
    assert like["relaxed"] == ["stage path", "competitor", "deal size"] and like["criteria"] == ["segment"]
    assert {x["id"] for x in like["deals"]} == {d[k].pk for k in ("e1", "e2", "e3", "d1", "d2")}
    assert (like["matched"], like["won"], like["lost"]) == (5, 2, 3) and like["small_sample"]
    assert like["top_lost_reasons"][0] == {"reason": "Price", "deals": 2}

    monkeypatch.setattr(winloss, "MIN_SIMILAR", 2)
    like = deals_like_this(org.leader, data.open_deal)
    assert like["relaxed"] == [] and {x["id"] for x in like["deals"]} == {d["e1"].pk, d["d1"].pk}
    monkeypatch.setattr(winloss, "MIN_SIMILAR", 3)
    like = deals_like_this(org.leader, data.open_deal)
    assert like["relaxed"] == ["stage path", "competitor"]
    assert {x["id"] for x in like["deals"]} == {d[k].pk for k in ("e1", "e2", "d1", "d2")}

    # the stage path alone: went through Qualification and Proposal/Price Quote (e3 stopped early, d2 elsewhere)
    monkeypatch.setattr(winloss, "MIN_SIMILAR", 1)
    bare = data.open_deal
    bare.competitor, bare.amount = "", None
    like = deals_like_this(org.leader, bare)
    assert like["not_applicable"] == ["deal size", "competitor"] and like["criteria"] == ["segment", "stage path"]
    assert {x["id"] for x in like["deals"]} == {d[k].pk for k in ("e1", "e2", "d1")}


def test_deals_like_this_carries_outcomes_and_knowledge_within_scope(data):
    org, d = data.org, data.deals
    content_services.save_knowledge(org.rep_emea, kind="win_loss", title="Why the pilot won A1", body="A fast pilot.",
                                    opportunity_id=d["e1"].pk)
    like = deals_like_this(org.rep_emea, data.open_deal)
    assert {x["id"] for x in like["deals"]} == {d[k].pk for k in ("e1", "e2", "e3")}  # never rep_dach's
    by_id = {x["id"]: x for x in like["deals"]}
    assert [k["title"] for k in by_id[d["e1"].pk]["knowledge"]] == ["Why the pilot won A1"]
    assert by_id[d["e2"].pk]["lost_reason"] == "Price" and by_id[d["e2"].pk]["close_comment"] == "Too dear"
    assert by_id[d["e1"].pk]["outcome"] == "won" and by_id[d["e1"].pk]["lost_reason"] == ""
    # a deal the caller may not see: nothing, even though they see deals like it
    assert deals_like_this(org.rep_dach, data.open_deal)["matched"] == 0


def test_the_panel_costs_two_queries(data, django_assert_max_num_queries):
    org = data.org
    for user in (org.rep_emea, org.leader):
        with django_assert_max_num_queries(2):
            deals_like_this(user, data.open_deal)
    request = RequestFactory().get("/")
    request.user = org.rep_emea
    with CaptureQueriesContext(connection) as queries:
        html = Template("{% load deals %}{% deals_like_this o %}").render(Context({"request": request, "o": data.open_deal}))
    assert len(queries) <= 2, [q["sql"] for q in queries]
    assert "Deals like this one" in html and "not compared on stage path, competitor, deal size" in html


@pytest.mark.parametrize("role", ["rep_emea", "manager_emea", "leader"])
def test_the_panel_adds_at_most_two_queries_to_the_opportunity_page(client, data, role, monkeypatch):
    """Measured on the real page: the same request with the panel and with it switched off, each the second of
    two, after a first visit that writes the enablement settings the content suggestions cache."""
    client.force_login(data.org.user(role))
    url = f"/opportunities/{data.open_deal.pk}/"
    client.get(url)

    def count(marker_expected: bool) -> int:
        for _ in range(2):
            with CaptureQueriesContext(connection) as captured:
                page = client.get(url)
        assert ('data-testid="deals-like-this"' in page.content.decode()) is marker_expected
        return len(captured)

    with_panel = count(True)
    real = winloss.deals_like_this
    monkeypatch.setattr(winloss, "deals_like_this", lambda *args, **kwargs: None)
    without = count(False)
    monkeypatch.setattr(winloss, "deals_like_this", real)
    assert with_panel - without <= 2, (with_panel, without)


def test_api_win_loss_and_similar(client, data):
    org = data.org
    client.force_login(org.manager_emea)
    response = client.get("/api/deals/win-loss", {"dimension": "rep", "start": data.start.isoformat(), "end": data.end.isoformat()})
    assert response.status_code == 200, response.content
    body = response.json()
    assert {r["group"] for r in body["rows"]} == {"Erik Rep", "Dora Rep"} and body["closed"] == 6
    assert body["rows"][0]["small_sample"] and body["caveats"]
    reasons = client.get("/api/deals/win-loss", {"dimension": "reasons", "start": data.start.isoformat(), "end": data.end.isoformat()})
    assert reasons.status_code == 200 and reasons.json()["rows"][0] == {
        "kind": "lost", "reason": "Price", "deals": 2, "share": 2 / 3, "of": 3, "small_sample": True}
    assert client.get("/api/deals/win-loss", {"dimension": "colour"}).status_code == 422
    assert client.get("/api/deals/win-loss").status_code == 422
    assert client.get("/api/deals/win-loss", {"dimension": "rep", "start": "2026-02-01", "end": "2026-01-01"}).status_code == 400

    similar = client.get(f"/api/deals/opportunities/{data.open_deal.pk}/similar", {"limit": 3})
    assert similar.status_code == 200, similar.content
    assert len(similar.json()["deals"]) == 3 and similar.json()["matched"] == 5
    client.force_login(org.rep_amer)
    assert client.get(f"/api/deals/opportunities/{data.open_deal.pk}/similar").status_code == 404
    assert client.get("/api/deals/opportunities/999999/similar").status_code == 404
    assert client.get(f"/api/deals/opportunities/{data.open_deal.pk}/similar", {"limit": 0}).status_code == 422


def test_cli_report_win_loss_json_and_csv(data):
    runner = CliRunner()
    args = ["report", "win-loss", "--from", data.start.isoformat(), "--to", data.end.isoformat()]
    out = runner.invoke(app, [*args, "--group-by", "competitor", "--as", "manager_emea", "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["report"] == "win-loss" and doc["as"] == "manager_emea" and doc["dimension"] == "competitor"
    acme = next(r for r in doc["rows"] if r["group"] == "Acme")
    assert (acme["won"], acme["lost"], acme["small_sample"]) == (1, 2, True)
    out = runner.invoke(app, [*args, "--group-by", "reasons", "--format", "csv"])
    assert out.exit_code == 0 and out.stdout.splitlines()[0].startswith("kind,reason,deals")
    out = runner.invoke(app, [*args, "--group-by", "stage-reached", "--format", "csv"])
    assert out.exit_code == 0 and "Proposal/Price Quote,2,2,4," in out.stdout.replace("\r", "") and "Price (2)" in out.stdout
    assert runner.invoke(app, [*args, "--group-by", "rep"]).exit_code == 0  # the table
    out = runner.invoke(app, [*args, "--group-by", "colour"])
    assert out.exit_code == 2 and "unknown dimension" in out.output


@pytest.mark.parametrize("role", ["rep_emea", "manager_emea", "leader"])
def test_the_page_renders_for_each_role(client, data, role):
    client.force_login(data.org.user(role))
    response = client.get("/deals/win-loss/", {"dimension": "competitor", "start": data.start.isoformat(), "end": data.end.isoformat()})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="win-loss-table"' in html and "too few to tell" in html and "Acme" in html
    assert 'id="win-rate-figure"' in html  # the chart, its numbers in the table beside it
    if role == "rep_emea":
        assert "Dora Rep" not in html
    page = client.get(f"/opportunities/{data.open_deal.pk}/")  # the open deal's page carries the panel
    assert page.status_code == 200 and 'data-testid="deals-like-this"' in page.content.decode()
    closed = client.get(f"/opportunities/{data.deals['e1'].pk}/")  # a closed one does not
    assert closed.status_code == 200 and 'data-testid="deals-like-this"' not in closed.content.decode()
    assert "/deals/win-loss/" in client.get("/opportunities/").content.decode()  # linked from the list


def test_the_page_refuses_bad_input_and_enablement(client, data):
    client.force_login(data.org.leader)
    assert client.get("/deals/win-loss/", {"dimension": "colour"}).status_code == 400
    assert client.get("/deals/win-loss/", {"start": "2026-02-01", "end": "2026-01-01"}).status_code == 400
    client.force_login(data.org.enablement)
    assert client.get("/deals/win-loss/").status_code == 404
