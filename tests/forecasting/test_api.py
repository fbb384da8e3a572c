"""The forecast API's answers: the numbers, the versions (ETag / If-Match, 409), and clear 4xx for bad input."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dealpilot.forecasting.models import CategoryChange, ForecastCall

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def post(c, url, body, **headers):
    return c.post(url, json.dumps(body), content_type="application/json", headers=headers)


def test_a_managers_forecast_in_the_api(quarter):
    org = quarter.org
    c = client_for(org.manager_emea)
    r = c.get(f"/api/forecast/users/{org.manager_emea.pk}", {"period": quarter.period.label})
    assert r.status_code == 200 and r["ETag"] == '"1"'
    f = r.json()
    assert f["period"]["label"] == quarter.period.label and f["version"] == 1
    assert f["model"]["expected"] == 59500 and f["model"]["open_deals"] == 5 and f["model"]["won_deals"] == 1
    assert f["derived"] == {"won": 10000, "commit": 60000, "best_case": 110000, "pipeline": 115000}
    assert f["target"] == 100000 and f["gap_to_model"] == 40500 and f["gap_to_call"] is None
    assert f["history"]["closed_deals"] >= 1 and f["history"]["text"]
    assert [row["label"] for row in f["rows"]] == ["Emil Manager (own deals)", "Erik Rep", "Dora Rep"]
    erik = f["rows"][1]
    assert (erik["model"]["p10"], erik["model"]["p50"], erik["model"]["p90"]) == (10000, 30000, 70000)
    assert f["may_submit"] and not f["may_override"]
    deals = c.get(f"/api/forecast/users/{org.manager_emea.pk}/deals").json()
    assert {d["name"] for d in deals} == {"emea won", "emea commit", "emea best", "emea pipe", "dach commit", "manager best"}
    assert next(d for d in deals if d["name"] == "emea best")["probability"] == 0.25


def test_calls_with_versions(quarter):
    org = quarter.org
    erik, emil = client_for(org.rep_emea), client_for(org.manager_emea)
    url = f"/api/forecast/users/{org.rep_emea.pk}/calls"
    r = post(erik, url, {}, **{"If-Match": '"1"'})  # defaults: this quarter, what the categories imply
    assert r.status_code == 201 and (r.json()["commit"], r.json()["best_case"], r.json()["version"]) == (30000, 70000, 2)
    r = post(emil, url, {"commit": "25000", "best_case": "60000", "note": "No budget on the big one"}, **{"If-Match": "2"})
    assert r.status_code == 201 and r.json()["kind"] == "override" and r.json()["submitted_by"] == "Emil Manager"
    r = post(erik, url, {"commit": "31000", "best_case": "70000", "note": "PO in"}, **{"If-Match": '"2"'})
    assert r.status_code == 409 and r.json()["current_version"] == 3 and r["ETag"] == '"3"'
    assert "Emil Manager" in r.json()["detail"]
    assert ForecastCall.objects.count() == 2
    r = erik.get(f"/api/forecast/users/{org.rep_emea.pk}")
    assert r["ETag"] == '"3"' and r.json()["call"]["kind"] == "override" and r.json()["own_call"]["commit"] == 30000
    history = erik.get(url).json()
    assert [(h["version"], h["kind"]) for h in history] == [(3, "override"), (2, "call")]


@pytest.mark.parametrize("body, status, message", [
    ({"commit": "35000"}, 400, "say why in a note"),
    ({"commit": "80000", "best_case": "70000", "note": "x"}, 400, "cannot exceed best case"),
    ({"period": "2026-Q5"}, 422, ""),
    ({"period": "1800-Q1"}, 400, "out of range"),
    ({"period": "2001-Q1"}, 400, "ended on"),
    ({"commit": "-1", "note": "x"}, 422, ""),
    ({"commit": "1.005", "note": "x"}, 422, ""),
    ({"commit": "10000000000000", "note": "x"}, 422, ""),
    ({"note": "x" * 501}, 422, ""),
    ({"owner_id": 3, "commit": "1", "best_case": "1", "note": "x"}, 201, ""),  # unknown fields are not read
])
def test_bad_calls_are_refused_with_the_reason(quarter, body, status, message):
    org = quarter.org
    r = post(client_for(org.rep_emea), f"/api/forecast/users/{org.rep_emea.pk}/calls", body)
    assert r.status_code == status, r.content
    if status >= 400:
        assert ForecastCall.objects.count() == 0
        assert message in json.dumps(r.json())
    else:
        assert ForecastCall.objects.get().person == org.rep_emea


def test_bad_queries_and_versions(quarter):
    org = quarter.org
    c = client_for(org.rep_emea)
    base = f"/api/forecast/users/{org.rep_emea.pk}"
    assert c.get(base, {"period": "Q4"}).status_code == 422
    assert c.get(base, {"period": "2026-13"}).status_code == 400
    assert c.get(f"{base}/changes", {"sort": "colour"}).status_code == 422
    assert c.get(f"{base}/changes", {"kind": "moved"}).status_code == 422
    assert c.get(f"{base}/changes", {"week": "3000-01-01"}).status_code == 422
    r = c.get(f"{base}/changes", {"team_id": org.teams["amer"].pk})
    assert r.status_code == 400 and "not one of this forecast's teams" in r.json()["detail"]
    r = post(c, f"{base}/calls", {}, **{"If-Match": "soon"})
    assert r.status_code == 400 and "is not a version" in r.json()["detail"]
    deal = quarter.deals["emea pipe"].pk
    r = c.put(f"/api/forecast/opportunities/{deal}/category", json.dumps({"category": "closed"}), content_type="application/json")
    assert r.status_code == 422  # not one of the categories one may choose
    r = c.put(f"/api/forecast/opportunities/{deal}/category", json.dumps({"category": "commit"}),
              content_type="application/json", headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r["ETag"] == '"2"' and r.json()["category"] == "commit"
    r = c.put(f"/api/forecast/opportunities/{deal}/category", json.dumps({"category": "omitted"}),
              content_type="application/json", headers={"If-Match": '"1"'})
    assert r.status_code == 409 and CategoryChange.objects.count() == 1
    won = quarter.deals["emea won"].pk
    r = c.put(f"/api/forecast/opportunities/{won}/category", json.dumps({"category": "commit"}), content_type="application/json")
    assert r.status_code == 400 and "won" in r.json()["detail"]
    history = c.get(f"/api/forecast/opportunities/{deal}/category").json()
    assert history["crm_category"] == "Pipeline" and history["history"][0]["previous"] == "pipeline"


def test_the_openapi_schema_documents_the_forecast():
    from dealpilot.api import api

    schema = api.get_openapi_schema(path_prefix="/api/")
    paths = {p: ops for p, ops in schema["paths"].items() if p.startswith("/api/forecast/")}
    assert set(paths) == {"/api/forecast/me", "/api/forecast/users/{user_id}", "/api/forecast/users/{user_id}/deals",
                          "/api/forecast/users/{user_id}/calls", "/api/forecast/users/{user_id}/snapshots",
                          "/api/forecast/users/{user_id}/changes", "/api/forecast/opportunities/{opportunity_id}/category",
                          "/api/forecast/accuracy"}
    post_call = paths["/api/forecast/users/{user_id}/calls"]["post"]
    assert {"201", "400", "401", "404", "409", "422"} <= set(map(str, post_call["responses"]))
    assert post_call["description"] and post_call["tags"] == ["forecast"]
