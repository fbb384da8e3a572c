"""Optimistic concurrency on opportunities, account plans and content modules (dealpilot/concurrency.py).

For each record: two people who may both see it load the same version; the first write wins, the
second is refused (API: 409 with a clear message; pages: the message on the form) and the
database holds only the first change. Then the real thing: N threads write with the same expected
version at once, on the suite's database (SQLite or PostgreSQL): exactly one wins.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection
from django.urls import reverse

from dealpilot.concurrency import BadVersion, StaleWrite, parse_version, save_if_current
from dealpilot.crm import services as crm_services
from dealpilot.crm.models import Opportunity, StageHistory
from dealpilot.enablement import services as enablement_services
from dealpilot.enablement.forms import ModuleForm
from dealpilot.enablement.models import ContentModule
from dealpilot.planning import services as planning_services
from dealpilot.planning.models import AccountPlan, ResearchNote
from tests.factories import make_plan_unit

WRITERS = 8


def patch(client, url, data, if_match=None):
    headers = {"If-Match": if_match} if if_match is not None else {}
    return client.patch(url, data=json.dumps(data), content_type="application/json", headers=headers)


def post(client, url, data, if_match=None):
    headers = {"If-Match": if_match} if if_match is not None else {}
    return client.post(url, data=json.dumps(data), content_type="application/json", headers=headers)


def loaded(client, url) -> int:
    """GET a record: the body's version and the ETag agree; returns the version."""
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    assert response["ETag"] == f'"{response.json()["version"]}"'
    return response.json()["version"]


def assert_refused(response, label: str, now: int, had: int):
    assert response.status_code == 409, response.content[:300]
    body = response.json()
    assert body["current_version"] == now
    assert body["detail"].startswith(f"This {label} was changed since you loaded it (now version {now}, you had {had}).")
    assert body["detail"].endswith("Reload and apply your change again.")
    assert response["ETag"] == f'"{now}"'


# ---- the building blocks ------------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [('"3"', 3), ("3", 3), ('W/"12"', 12), (' "7" ', 7), ("", None), (None, None),
                                           ("*", None), (4, 4)])
def test_a_version_is_read_from_an_etag_quoted_or_not(raw, expected):
    assert parse_version(raw) == expected


@pytest.mark.parametrize("raw", ['"abc"', "0", '"-1"', '"3", "4"', "x" * 100])
def test_anything_else_is_a_bad_version(raw):
    with pytest.raises(BadVersion):
        parse_version(raw)


@pytest.mark.django_db
def test_save_if_current_writes_and_bumps_only_at_the_expected_version(org):
    deal = org.opportunities["rep_emea"][0]
    assert deal.version == 1
    assert save_if_current(Opportunity.objects.filter(pk=deal.pk), 1, description="first") == 2
    with pytest.raises(StaleWrite) as refused:
        save_if_current(Opportunity.objects.filter(pk=deal.pk), 1, description="second")
    assert (refused.value.current_version, refused.value.expected_version) == (2, 1)
    deal.refresh_from_db()
    assert (deal.description, deal.version) == ("first", 2)
    assert save_if_current(deal, None, description="last write wins") == 3  # no version: accepted, still bumped
    deal.refresh_from_db()
    assert (deal.description, deal.version) == ("last write wins", 3)
    with pytest.raises(Opportunity.DoesNotExist):
        save_if_current(Opportunity.objects.filter(pk=-1), 1, description="gone")


# ---- opportunities ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_two_api_writers_on_an_opportunity_the_second_gets_409_and_changes_nothing(client, org):
    deal = org.opportunities["rep_emea"][0]
    url = f"/api/crm/opportunities/{deal.pk}"
    rep, manager = client, client.__class__()
    rep.force_login(org.rep_emea)
    manager.force_login(org.manager_emea)
    assert loaded(rep, url) == loaded(manager, url) == 1

    first = patch(rep, url, {"amount": "61000", "description": "Budget confirmed"}, if_match='"1"')
    assert first.status_code == 200, first.content
    assert first.json()["version"] == 2 and first["ETag"] == '"2"'
    second = patch(manager, url, {"amount": "1", "description": "Manager's view"}, if_match='"1"')
    assert_refused(second, "opportunity", now=2, had=1)

    deal.refresh_from_db()
    assert (deal.amount, deal.description, deal.version) == (Decimal("61000.00"), "Budget confirmed", 2)
    # reloaded, the manager applies the change again: accepted (If-Match unquoted is fine too)
    assert patch(manager, url, {"description": "Manager's view"}, if_match="2").json()["version"] == 3


@pytest.mark.django_db
def test_without_if_match_the_last_write_wins_and_a_bad_if_match_is_400(client, org):
    deal = org.opportunities["rep_emea"][0]
    url = f"/api/crm/opportunities/{deal.pk}"
    client.force_login(org.rep_emea)
    assert patch(client, url, {"description": "no version sent"}).json()["version"] == 2
    bad = patch(client, url, {"description": "x"}, if_match="yesterday")
    assert bad.status_code == 400 and "not a version" in bad.json()["detail"]
    deal.refresh_from_db()
    assert (deal.description, deal.version) == ("no version sent", 2)


@pytest.mark.django_db
def test_a_stale_opportunity_form_says_so_and_changes_nothing(client, org):
    deal = org.opportunities["rep_emea"][0]
    page = reverse("crm:opportunity_detail", args=[deal.pk])
    client.force_login(org.rep_emea)
    html = client.get(page).content.decode()
    assert 'name="version" value="1"' in html and 'name="owner"' not in html  # a rep's form has no owner

    form = {"stage": "Proposal", "amount": "50000", "close_date": "", "probability": "60", "forecast_category": "",
            "lost_reason": "", "description": "Rep's note", "version": "1"}
    # meanwhile the manager saves the same opportunity through the API
    crm_services.update_opportunity(org.manager_emea, deal.pk, expected_version=1, description="Manager's note")

    response = client.post(reverse("crm:opportunity_edit", args=[deal.pk]), form)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone changed this opportunity while you were editing: your change was not saved; here is the current version" in html
    assert "Manager&#x27;s note" in html and 'name="version" value="2"' in html  # the current version, ready to edit
    deal.refresh_from_db()
    assert (deal.description, deal.version) == ("Manager's note", 2)

    response = client.post(reverse("crm:opportunity_edit", args=[deal.pk]), {**form, "version": "2"})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.description, deal.version) == ("Rep's note", 3)


# ---- account plans --------------------------------------------------------------------------------


@pytest.fixture
def plan(org) -> AccountPlan:
    account = org.accounts["rep_emea"]
    make_plan_unit(account, "Operations")
    return planning_services.create_plan(org.rep_emea, account.pk)


@pytest.mark.django_db
def test_two_api_writers_on_a_plan_the_second_gets_409_and_changes_nothing(client, org, plan):
    url = f"/api/planning/accounts/{plan.account_id}/plan"
    rep, manager = client, client.__class__()
    rep.force_login(org.rep_emea)
    manager.force_login(org.manager_emea)
    assert loaded(rep, url) == loaded(manager, url) == 1

    first = patch(rep, url, {"summary": "Land operations first"}, if_match='"1"')
    assert first.status_code == 200 and first.json()["version"] == 2 and first["ETag"] == '"2"'
    second = patch(manager, url, {"summary": "Go for IT"}, if_match='"1"')
    assert_refused(second, "account plan", now=2, had=1)
    assert "by Erik Rep" in second.json()["detail"]  # who changed it last, from the plan's history

    # the version is the whole plan's: a write to a part with the old version is refused too
    third = post(manager, url + "/research", {"area": "customer", "text": "From an old page"}, if_match='"1"')
    assert_refused(third, "account plan", now=2, had=1)
    plan.refresh_from_db()
    assert (plan.summary, plan.version) == ("Land operations first", 2)
    assert not ResearchNote.objects.filter(plan=plan).exists()

    # with the current version the part is written, and the plan's version moves on
    accepted = post(manager, url + "/research", {"area": "customer", "text": "Reloaded first"}, if_match='"2"')
    assert accepted.status_code == 200 and accepted.json()["version"] == 3
    # comments are the plan's discussion, not its content: they neither check nor bump the version
    assert post(manager, url + "/comments", {"text": "Looks good"}).status_code == 201
    assert loaded(rep, url) == 3


@pytest.mark.django_db
def test_a_stale_plan_form_shows_the_message_and_changes_nothing(client, org, plan):
    page = reverse("planning:plan", args=[plan.account_id])
    client.force_login(org.manager_emea)
    assert 'name="version" value="1"' in client.get(page).content.decode()

    with planning_services.plan_change(plan, 1):  # the rep saves first (as the page does)
        planning_services.update_plan(org.rep_emea, plan.account_id, summary="Rep's summary")

    form = {"op": "update_plan", "version": "1", "title": plan.title, "summary": "Manager's summary", "review_date": "",
            "pipeline_goal": ""}
    response = client.post(reverse("planning:plan_edit", args=[plan.account_id]), form)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone changed this plan while you were editing: your change was not saved; here is the current version" in html
    assert "Rep&#x27;s summary" in html and 'name="version" value="2"' in html
    plan.refresh_from_db()
    assert (plan.summary, plan.version) == ("Rep's summary", 2)


# ---- content modules ------------------------------------------------------------------------------


@pytest.fixture
def module(org) -> ContentModule:
    return enablement_services.save_module(org.enablement, fields={"title": "Downtime playbook", "kind": "playbook",
                                                                    "status": "published", "body": "v1"})


def module_form_data(module: ContentModule, **changes) -> dict:
    data = {k: ("" if v is None else v) for k, v in ModuleForm.initial_for(module).items()}
    return {**data, **changes}


@pytest.mark.django_db
def test_two_api_writers_on_a_content_module_the_second_gets_409_and_changes_nothing(client, org, module):
    url = f"/api/enablement/modules/{module.pk}"
    author, leader = client, client.__class__()
    author.force_login(org.enablement)
    leader.force_login(org.leader)
    assert loaded(author, url) == loaded(leader, url) == 1

    first = patch(author, url, {"body": "The author's rewrite"}, if_match='"1"')
    assert first.status_code == 200 and first.json()["version"] == 2 and first["ETag"] == '"2"'
    second = patch(leader, url, {"body": "The leader's rewrite", "tags": {"industry": ["Retail"]}}, if_match='"1"')
    assert_refused(second, "content module", now=2, had=1)
    module.refresh_from_db()
    assert (module.body, module.version, module.tag_values("industry")) == ("The author's rewrite", 2, [])


@pytest.mark.django_db
def test_a_stale_module_form_shows_the_message_keeps_the_text_and_changes_nothing(client, org, module):
    client.force_login(org.leader)
    edit = reverse("enablement:module_edit", args=[module.pk])
    assert 'name="version" value="1"' in client.get(edit).content.decode()
    stale_form = module_form_data(module, body="The leader's careful rewrite")

    enablement_services.save_module(org.enablement, module=module, fields={"body": "The author's quick fix"}, expected_version=1)

    response = client.post(edit, stale_form)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone changed this module while you were editing: your change was not saved; here is the current version" in html
    assert "The author&#x27;s quick fix" in html and 'name="version" value="2"' in html
    assert "The leader&#x27;s careful rewrite" in html  # shown as "your change (not saved)", to apply again
    module.refresh_from_db()
    assert (module.body, module.version) == ("The author's quick fix", 2)


# ---- truly concurrent writers -----------------------------------------------------------------------


@pytest.fixture
def real_database(tmp_path):
    """The database the racing threads share. PostgreSQL: the suite's own. SQLite: Django's test
    database is a shared-cache memory database, whose table locks make a waiting writer fail at once
    ("database table is locked"); dealpilot runs SQLite as a file in WAL mode, where writers wait
    their turn (busy_timeout, IMMEDIATE transactions). So the test database (schema and this test's
    records) is copied into such a file, and every connection, this thread's included, uses it
    until the test ends. Request it after the fixtures that create the records."""
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        yield
        return
    connection.ensure_connection()
    path = tmp_path / "race.sqlite3"
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    settings, memory = connection.settings_dict, connection.connection
    name = settings["NAME"]
    settings["NAME"], connection.connection = str(path), None  # the next query opens the file, with the app's options
    try:
        yield
    finally:
        if connection.connection is not None:
            connection.connection.close()
        settings["NAME"], connection.connection = name, memory


def race(write, writers: int = WRITERS) -> list:
    """Run write(i) in `writers` threads released at the same instant; each returns "ok" or the exception."""
    start = threading.Barrier(writers)
    outcomes: list = [None] * writers

    def run(i):
        try:
            start.wait()
            write(i)
            outcomes[i] = "ok"
        except Exception as exc:  # noqa: BLE001 - the test counts what each writer got
            outcomes[i] = exc
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    close_old_connections()
    return outcomes


def one_winner(outcomes: list) -> None:
    assert outcomes.count("ok") == 1, outcomes
    others = [o for o in outcomes if o != "ok"]
    assert all(isinstance(o, StaleWrite) for o in others), others
    assert all(o.expected_version == 1 and o.current_version == 2 for o in others)


@pytest.mark.django_db(transaction=True)
def test_concurrent_opportunity_writers_exactly_one_wins(org, real_database):
    deal = org.opportunities["rep_emea"][0]
    people = [org.rep_emea, org.manager_emea, org.leader, org.admin]
    outcomes = race(lambda i: crm_services.update_opportunity(people[i % len(people)], deal.pk, expected_version=1,
                                                              stage="Negotiation", description=f"writer {i}"))
    one_winner(outcomes)
    deal.refresh_from_db()
    assert deal.version == 2 and deal.description == f"writer {outcomes.index('ok')}"
    assert StageHistory.objects.filter(opportunity=deal, stage="Negotiation").count() == 1  # the winner's change only


@pytest.mark.django_db(transaction=True)
def test_concurrent_plan_writers_exactly_one_wins(org, plan, real_database):
    people = [org.rep_emea, org.manager_emea, org.leader, org.admin]

    def write(i):
        with planning_services.plan_change(plan, 1):
            planning_services.add_research(people[i % len(people)], plan.account_id, "customer", f"writer {i}")

    outcomes = race(write)
    one_winner(outcomes)
    plan.refresh_from_db()
    assert plan.version == 2
    assert list(ResearchNote.objects.filter(plan=plan).values_list("text", flat=True)) == [f"writer {outcomes.index('ok')}"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_module_writers_exactly_one_wins(org, module, real_database):
    authors = [org.enablement, org.leader, org.admin]
    outcomes = race(lambda i: enablement_services.save_module(
        authors[i % len(authors)], module=ContentModule.objects.get(pk=module.pk), fields={"body": f"writer {i}"},
        tags={"challenge": [f"challenge {i}"]}, expected_version=1))
    one_winner(outcomes)
    module.refresh_from_db()
    winner = outcomes.index("ok")
    assert (module.version, module.body, module.tag_values("challenge")) == (2, f"writer {winner}", [f"challenge {winner}"])
