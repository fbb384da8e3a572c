"""The forecast page's forms: saved with a message, or refused with the form shown again as typed (400, and
409 when someone changed the forecast meanwhile); the 'what changed' CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from dealpilot.forecasting.models import CategoryChange, ForecastCall

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def call_form(pk, **values):
    return {f"call-{pk}-{k}": v for k, v in values.items()}


def test_a_call_saved_refused_and_stale(quarter):
    org, period = quarter.org, quarter.period
    pk = org.rep_emea.pk
    c = client_for(org.rep_emea)
    url = f"/forecast/users/{pk}/call/"
    r = c.post(url, call_form(pk, period=period.label, version=1, page=pk, commit="30000", best_case="70000"), follow=True)
    assert r.status_code == 200 and "Your call for" in r.content.decode() and ForecastCall.objects.count() == 1
    # adjusted without a note: the page again, the numbers as typed, the reason on top
    r = c.post(url, call_form(pk, period=period.label, version=2, page=pk, commit="36000", best_case="70000"))
    page = r.content.decode()
    assert r.status_code == 400 and "say why in a note" in page and 'value="36000"' in page
    r = c.post(url, call_form(pk, period=period.label, version=2, page=pk, commit="abc", best_case="70000", note="typed"))
    assert r.status_code == 400 and "Commit: Enter a number." in r.content.decode() and "typed" in r.content.decode()
    # the manager overrides from their own page and comes back to it
    emil = client_for(org.manager_emea)
    r = emil.post(url, call_form(pk, period=period.label, version=2, page=org.manager_emea.pk, commit="25000",
                                 best_case="60000", note="No budget yet"))
    assert r.status_code == 302 and r["Location"].startswith(f"/forecast/users/{org.manager_emea.pk}/")
    # Erik's page was loaded at version 2: his next submission is stale
    r = c.post(url, call_form(pk, period=period.label, version=2, page=pk, commit="31000", best_case="70000", note="PO"))
    page = r.content.decode()
    assert r.status_code == 409 and "changed since you loaded it" in page and "Emil Manager" in page
    assert ForecastCall.objects.count() == 2


def test_a_category_set_on_the_page(quarter):
    org = quarter.org
    deal = quarter.deals["emea best"].pk
    c = client_for(org.manager_emea)
    url = f"/forecast/opportunities/{deal}/category/"
    fields = {f"cat-{deal}-category": "commit", f"cat-{deal}-version": "1", f"cat-{deal}-page": org.manager_emea.pk}
    r = c.post(url, fields)
    assert r.status_code == 400 and "say why in a note" in r.content.decode()
    r = c.post(url, {**fields, f"cat-{deal}-note": "CFO signed off"})
    assert r.status_code == 302 and r["Location"].endswith(f"#deal-{deal}")
    change = CategoryChange.objects.get()
    assert change.is_override and change.note == "CFO signed off"
    r = c.post(url, {**fields, f"cat-{deal}-note": "again"})  # version 1 was loaded before the change
    assert r.status_code == 409
    page = client_for(org.rep_emea).get(f"/forecast/users/{org.rep_emea.pk}/").content.decode()
    assert "CFO signed off" in page and "override" in page


def test_a_bad_period_in_the_address_falls_back_with_a_message(quarter):
    org = quarter.org
    r = client_for(org.rep_emea).get(f"/forecast/users/{org.rep_emea.pk}/", {"period": "next year", "sort": "colour"})
    page = r.content.decode()
    assert r.status_code == 200 and "is not a period" in page and quarter.period.label in page and "sort: one of" in page


def test_changes_csv(quarter):
    from dealpilot.forecasting.services import take_snapshot

    org = quarter.org
    take_snapshot()
    c = client_for(org.manager_emea)
    r = c.get(f"/forecast/users/{org.manager_emea.pk}/changes.csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    header = next(csv.reader(io.StringIO(r.content.decode())))
    assert header[:4] == ["kind", "what", "opportunity_id", "deal"]
    assert c.get(f"/forecast/users/{org.manager_emea.pk}/changes.csv", {"week": "someday"}).status_code == 400
    assert c.get(f"/forecast/users/{org.manager_emea.pk}/changes.csv", {"team": org.teams["amer"].pk}).status_code == 400
    for bad in ("²", "-1", "1e3", str(2**63), " "):  # a digit to str.isdigit() is not always one to int()
        assert c.get(f"/forecast/users/{org.manager_emea.pk}/changes.csv", {"owner": bad}).status_code in (200, 400)
        r = c.get(f"/forecast/users/{org.manager_emea.pk}/", {"team": bad})
        assert r.status_code == 200 and ("is not an id" in r.content.decode() or not bad.strip())
