"""The enablement JSON API per role: reading, writing (authors only, listed fields only), events,
each rating rule over HTTP, suggestions (404 for deals the caller may not see), analytics and
knowledge."""

from __future__ import annotations

import pytest

from dealpilot.enablement.models import ContentModule, ContentRating, KnowledgeEntry

pytestmark = pytest.mark.django_db

BASE = "/api/enablement"
VIEWERS = ["leader", "admin", "manager_emea", "manager_amer", "rep_emea", "rep_dach", "rep_amer", "enablement"]


def login(client, org, name):
    client.force_login(org.user(name))
    return client


def test_anonymous_callers_get_401(client, library):
    for path in ("/modules", f"/modules/{library.case_study.pk}", "/analytics", "/knowledge", "/opportunities/1/suggestions"):
        assert client.get(BASE + path).status_code == 401


@pytest.mark.parametrize("viewer", VIEWERS)
def test_modules_readers_see_published_ones_authors_all(client, org, library, viewer):
    login(client, org, viewer)
    body = client.get(f"{BASE}/modules", {"page_size": 100}).json()
    titles = {m["title"] for m in body["items"]}
    authors = viewer in ("leader", "admin", "enablement")
    assert (library.draft.title in titles) is authors
    assert library.case_study.title in titles
    detail = client.get(f"{BASE}/modules/{library.draft.pk}")
    assert detail.status_code == (200 if authors else 404)
    item = next(m for m in body["items"] if m["title"] == library.value_message.title)
    assert item["authors"] == [{"id": org.enablement.pk, "name": "Eve Enablement"}]
    assert {"dimension": "buyer_role", "value": "decision_maker"} in item["tags"]


def test_module_filters(client, org, library):
    login(client, org, "rep_emea")
    body = client.get(f"{BASE}/modules", {"phase": "awareness"}).json()
    assert [m["title"] for m in body["items"]] == [library.awareness.title]
    assert client.get(f"{BASE}/modules", {"phase": "later"}).status_code == 422


@pytest.mark.parametrize("viewer", ["rep_emea", "manager_emea"])
def test_only_authors_write_modules(client, org, viewer):
    login(client, org, viewer)
    response = client.post(f"{BASE}/modules", {"title": "x", "kind": "playbook"}, content_type="application/json")
    assert response.status_code == 404 and not ContentModule.objects.exists()


def test_an_author_creates_and_updates_a_module_fields_listed_only(client, org):
    login(client, org, "enablement")
    response = client.post(f"{BASE}/modules", {
        "title": "ROI template", "kind": "template", "status": "published", "owner_id": org.rep_emea.pk, "id": 999,
        "tags": {"phase": ["buying"], "buyer_role": ["Economic buyer"]}, "vp_answers": {"measurable": "ROI in %", "evil": "x"},
        "message_template": "{account} pays back {amount} within a year",
    }, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    module = ContentModule.objects.get()
    assert body["id"] == module.pk != 999 and module.owner == org.enablement  # owner_id and id were ignored
    assert module.vp_answers == {"measurable": "ROI in %"}
    assert body["authors"] == [{"id": org.enablement.pk, "name": "Eve Enablement"}]
    response = client.patch(f"{BASE}/modules/{module.pk}", {"summary": "Payback in a page", "author_ids": [org.enablement.pk, org.leader.pk]},
                            content_type="application/json")
    assert response.status_code == 200 and response.json()["summary"] == "Payback in a page"
    assert {a["name"] for a in response.json()["authors"]} == {"Eve Enablement", "Lena Leader"}
    assert response.json()["tags"]  # tags untouched by a patch without them
    bad = client.patch(f"{BASE}/modules/{module.pk}", {"message_template": "{account.__class__}"}, content_type="application/json")
    assert bad.status_code == 400 and "message_template" in bad.json()["detail"]
    assert ContentModule.objects.get().message_template == "{account} pays back {amount} within a year"
    assert client.post(f"{BASE}/modules", {"title": "x", "kind": "poem"}, content_type="application/json").status_code == 422


def test_events_need_a_visible_deal(client, org, library):
    login(client, org, "rep_emea")
    own, other = org.opportunities["rep_emea"][0], org.opportunities["rep_amer"][0]
    url = f"{BASE}/modules/{library.case_study.pk}/events"
    assert client.post(url, {"kind": "use", "opportunity_id": own.pk}, content_type="application/json").status_code == 201
    assert client.post(url, {"kind": "use", "opportunity_id": other.pk}, content_type="application/json").status_code == 404
    assert client.post(url, {"kind": "use"}, content_type="application/json").status_code == 400
    assert client.post(url, {"kind": "teleport"}, content_type="application/json").status_code == 422
    assert client.post(f"{BASE}/modules/{library.draft.pk}/events", {"kind": "view"}, content_type="application/json").status_code == 404


# ---- ratings over HTTP: each rule -------------------------------------------------------------------------


def rate(client, module, stars=5):
    return client.put(f"{BASE}/modules/{module.pk}/rating", {"stars": stars, "comment": "useful"}, content_type="application/json")


def use(client, module, deal):
    response = client.post(f"{BASE}/modules/{module.pk}/events", {"kind": "use", "opportunity_id": deal.pk},
                           content_type="application/json")
    assert response.status_code == 201


def test_api_rating_counts_after_a_use(client, org, library):
    login(client, org, "rep_emea")
    use(client, library.case_study, org.opportunities["rep_emea"][0])
    response = rate(client, library.case_study, 4)
    assert response.status_code == 200 and response.json()["stars"] == 4


def test_api_rating_refused_without_a_use(client, org, library):
    login(client, org, "rep_emea")
    response = rate(client, library.case_study)
    assert response.status_code == 403 and "Record a use" in response.json()["detail"]


def test_api_rating_refused_for_a_role_not_allowed(client, org, library):
    login(client, org, "leader")
    use(client, library.case_study, org.opportunities["rep_emea"][0])
    response = rate(client, library.case_study)
    assert response.status_code == 403 and "only from" in response.json()["detail"]


def test_api_rating_refused_for_the_author(client, org, library):
    from dealpilot.enablement import services

    services.save_module(org.enablement, module=library.case_study, fields={}, author_ids=[org.enablement.pk, org.rep_emea.pk])
    login(client, org, "rep_emea")
    use(client, library.case_study, org.opportunities["rep_emea"][0])
    response = rate(client, library.case_study)
    assert response.status_code == 403 and "Authors do not rate" in response.json()["detail"]


def test_api_rating_stars_and_drafts(client, org, library):
    login(client, org, "rep_emea")
    use(client, library.case_study, org.opportunities["rep_emea"][0])
    assert rate(client, library.case_study, 9).status_code == 422
    assert rate(client, library.draft).status_code == 404
    assert not ContentRating.objects.exists()


# ---- suggestions, analytics, knowledge ---------------------------------------------------------------------


@pytest.mark.parametrize("viewer", VIEWERS)
def test_suggestions_per_role(client, org, library, viewer):
    deal = org.opportunities["rep_emea"][0]
    login(client, org, viewer)
    response = client.get(f"{BASE}/opportunities/{deal.pk}/suggestions")
    if deal.pk in org.visible_opportunity_ids(viewer):
        assert response.status_code == 200
        top = response.json()[0]
        assert top["title"] == library.value_message.title and top["reasons"] and top["authors"] == ["Eve Enablement"]
        assert "Dana Decider" in top["message"]
    else:
        assert response.status_code == 404


def test_analytics_for_authors_managers_and_leaders_only(client, org, library):
    for viewer, status in (("rep_emea", 404), ("manager_emea", 200), ("enablement", 200), ("leader", 200)):
        login(client, org, viewer)
        response = client.get(f"{BASE}/analytics")
        assert response.status_code == status, viewer
    body = response.json()
    assert body["published"] == 4 and body["rated_share"] == 0 and "Correlation" in body["caveat"]
    assert body["outcome"]["not_used"]["total"] > 0
    assert body["leaderboard"][0]["name"] == "Eve Enablement"
    login(client, org, "enablement")
    assert client.get(f"{BASE}/analytics").json()["outcome"] is None  # enablement sees no deals


def test_knowledge_api(client, org):
    won = org.opportunities["rep_emea"][1]
    login(client, org, "rep_emea")
    response = client.post(f"{BASE}/knowledge", {"kind": "win_loss", "title": "Why we won", "body": "Payback in nine months.",
                                                  "opportunity_id": won.pk}, content_type="application/json")
    assert response.status_code == 201 and response.json()["opportunity_id"] == won.pk
    foreign = client.post(f"{BASE}/knowledge", {"kind": "win_loss", "title": "x", "body": "y",
                                                 "opportunity_id": org.opportunities["rep_amer"][1].pk}, content_type="application/json")
    assert foreign.status_code == 404 and KnowledgeEntry.objects.count() == 1
    login(client, org, "rep_amer")
    hits = client.get(f"{BASE}/knowledge", {"q": "payback"}).json()
    assert [h["title"] for h in hits] == ["Why we won"] and hits[0]["opportunity_id"] is None
    assert client.get(f"{BASE}/knowledge/{hits[0]['id']}").json()["authors"][0]["name"] == "Erik Rep"
