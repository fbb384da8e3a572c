"""Who may read and write whose forecast, through the API and the pages: a rep submits only their own call,
a manager overrides only inside their team subtree, leaders and admins anywhere; anyone else gets 404 (as
for a person who does not exist), and a refused write changes nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dealpilot.forecasting.models import CategoryChange, ForecastCall

pytestmark = pytest.mark.django_db

ROLES = ("rep_emea", "rep_dach", "rep_amer", "manager_emea", "manager_amer", "leader", "admin", "enablement")
PEOPLE = ("rep_emea", "rep_dach", "rep_amer", "manager_emea", "manager_amer", "leader")
# whose forecast each role may open (tests/factories.py: SampleOrg.SCOPES, people rather than deals)
READS = {
    "rep_emea": {"rep_emea"}, "rep_dach": {"rep_dach"}, "rep_amer": {"rep_amer"},
    "manager_emea": {"manager_emea", "rep_emea", "rep_dach"}, "manager_amer": {"manager_amer", "rep_amer"},
    "leader": set(PEOPLE), "admin": set(PEOPLE), "enablement": set(),
}
DEALS = {"emea commit": "rep_emea", "dach commit": "rep_dach", "amer commit": "rep_amer", "manager best": "manager_emea",
         "unowned deal": None}
SEES_DEALS_OF = {"rep_emea": {"rep_emea"}, "rep_dach": {"rep_dach"}, "rep_amer": {"rep_amer"},
                 "manager_emea": {"rep_emea", "rep_dach", "manager_emea"}, "manager_amer": {"rep_amer", "manager_amer"},
                 "leader": None, "admin": None, "enablement": set()}


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_reading_a_forecast_follows_the_hierarchy(quarter):
    org = quarter.org
    for role in ROLES:
        c = client_for(org.user(role))
        for person in PEOPLE + ("admin", "enablement"):
            pk = org.user(person).pk
            expected = 200 if person in READS[role] else 404
            for url in (f"/api/forecast/users/{pk}", f"/api/forecast/users/{pk}/deals", f"/api/forecast/users/{pk}/calls",
                        f"/api/forecast/users/{pk}/snapshots", f"/api/forecast/users/{pk}/changes",
                        f"/forecast/users/{pk}/", f"/forecast/users/{pk}/changes.csv"):
                assert c.get(url).status_code == expected, (role, person, url)
        me = c.get("/api/forecast/me")
        assert me.status_code == (404 if role == "enablement" else 200), role
        if role == "admin":
            assert me.json()["person"]["id"] == org.leader.pk  # an administrator opens the leader's forecast
        assert c.get("/forecast/").status_code == (404 if role == "enablement" else 302)
    assert Client().get(f"/api/forecast/users/{org.rep_emea.pk}").status_code == 401
    assert Client().get(f"/forecast/users/{org.rep_emea.pk}/").status_code == 302  # to the login page


def test_submitting_and_overriding_through_the_api(quarter):
    org, period = quarter.org, quarter.period
    for role in ROLES:
        c = client_for(org.user(role))
        for person in PEOPLE + ("admin",):
            before = ForecastCall.objects.count()
            body = {"period": period.label, "commit": "1.00", "best_case": "2.00", "note": "why"}
            r = c.post(f"/api/forecast/users/{org.user(person).pk}/calls", json.dumps(body), content_type="application/json")
            allowed = person in READS[role] and person != "admin"
            assert r.status_code == (201 if allowed else 404), (role, person, r.content)
            assert ForecastCall.objects.count() == before + allowed
            if allowed:
                assert r.json()["kind"] == ("call" if role == person else "override")


def test_setting_categories_through_the_api_and_the_pages(quarter):
    org = quarter.org
    for role in ROLES:
        api, page = client_for(org.user(role)), client_for(org.user(role))
        for deal, owner in DEALS.items():
            pk = quarter.deals[deal].pk
            sees = SEES_DEALS_OF[role] is None or owner in SEES_DEALS_OF[role]
            before = CategoryChange.objects.count()
            r = api.put(f"/api/forecast/opportunities/{pk}/category", json.dumps({"category": "commit", "note": "why"}),
                        content_type="application/json")
            assert r.status_code == (200 if sees else 404), (role, deal, r.content)
            assert api.get(f"/api/forecast/opportunities/{pk}/category").status_code == (200 if sees else 404)
            r = page.post(f"/forecast/opportunities/{pk}/category/", {f"cat-{pk}-category": "best_case", f"cat-{pk}-note": "why"})
            assert r.status_code == (302 if sees else 404), (role, deal)
            assert CategoryChange.objects.count() == before + 2 * sees


def test_the_page_forms_follow_the_same_rules(quarter):
    org, period = quarter.org, quarter.period
    form = {"period": period.label, "commit": "10", "best_case": "20", "note": "Pushed one deal"}
    for role in ROLES:
        c = client_for(org.user(role))
        for person in PEOPLE:
            pk = org.user(person).pk
            before = ForecastCall.objects.count()
            r = c.post(f"/forecast/users/{pk}/call/", {f"call-{pk}-{k}": v for k, v in form.items()})
            allowed = person in READS[role]
            assert r.status_code == (302 if allowed else 404), (role, person, r.status_code)
            assert ForecastCall.objects.count() == before + allowed


def test_what_each_role_is_offered_on_the_page(quarter):
    org = quarter.org
    page = client_for(org.rep_emea).get(f"/forecast/users/{org.rep_emea.pk}/").content.decode()
    assert 'data-testid="own-call"' in page and 'data-testid="rollup"' not in page and "Submit my call" in page
    page = client_for(org.manager_emea).get(f"/forecast/users/{org.manager_emea.pk}/").content.decode()
    assert 'data-testid="own-call"' in page and 'data-testid="rollup"' in page
    assert f'data-testid="override-{org.rep_emea.pk}"' in page and f'data-testid="override-{org.rep_dach.pk}"' in page
    assert "Amy Manager" not in page and "amer commit" not in page  # nothing of the other team
    page = client_for(org.manager_emea).get(f"/forecast/users/{org.rep_emea.pk}/").content.decode()
    assert 'data-testid="override-call"' in page and "Override the call" in page and "Submit my call" not in page
    page = client_for(org.leader).get(f"/forecast/users/{org.leader.pk}/").content.decode()
    assert f'data-testid="override-{org.manager_emea.pk}"' in page and "No owner" in page
    nav = client_for(org.enablement).get("/opportunities/").content.decode()
    assert "/forecast/" not in nav
    assert 'href="/forecast/"' in client_for(org.rep_emea).get("/opportunities/").content.decode()
