"""The recycle bin: deleting moves a record there, out of every list, page, API route and metric;
restoring within the period brings it back with nothing lost; after the period a restore is
refused and the purge deletes it for good. Who may delete is who may edit."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from dealpilot.analytics import metrics
from dealpilot.analytics.frames import frames_for
from dealpilot.crm.models import Account, Activity, ContactRole, LineItem, Opportunity, StageHistory
from dealpilot.enablement.models import ContentModule
from dealpilot.planning import services as planning
from dealpilot.planning.models import AccountPlan, Objective
from dealpilot.recycle_bin import services as bin_services
from tests.factories import add_contact_role, add_line_item, add_stage_change, make_activity

pytestmark = pytest.mark.django_db

ENGINES = ["duckdb"] + (["postgres"] if connection.vendor == "postgresql" else [])


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def won_by_owner(user, engine: str) -> dict[str, int]:
    """The velocity metric's closed and won deals per owner, as `user` sees them."""
    rows = metrics.velocity(frames_for(user, engine), "owner", "year")
    return {r["group"]: (r["opportunities"], r["won"]) for r in rows}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_deleted_opportunity_is_gone_everywhere_and_comes_back_whole(org, engine):
    rep, leader = org.rep_emea, org.leader
    deal = org.opportunities["rep_emea"][1]  # the won deal
    add_line_item(deal, quantity=3, unit_price=Decimal("100"))
    add_stage_change(deal, "Proposal", timezone.localdate() - timedelta(days=40))
    add_contact_role(deal, org.contacts["rep_emea"], ContactRole.CHAMPION)
    call = make_activity(rep, opportunity=deal, subject="closing call")
    before = won_by_owner(leader, engine)
    assert before["Erik Rep"] == (1, 1)
    fields_before = Opportunity.objects.filter(pk=deal.pk).values().get()

    answer = client_for(rep).delete(f"/api/crm/opportunities/{deal.pk}", content_type="application/json")

    assert answer.status_code == 200, answer.content
    entry = answer.json()
    assert (entry["kind"], entry["id"], entry["days_left"], entry["restorable"], entry["deleted_by"]) == \
        ("opportunity", deal.pk, 30, True, "Erik Rep")
    for viewer in ("rep_emea", "manager_emea", "leader", "admin"):
        client = client_for(org.user(viewer))
        assert client.get(f"/api/crm/opportunities/{deal.pk}").status_code == 404
        assert client.get(f"/api/crm/opportunities/{deal.pk}/history").status_code == 404
        for url in (f"/opportunities/{deal.pk}/", f"/api/deals/opportunities/{deal.pk}/intelligence",
                    f"/api/deals/opportunities/{deal.pk}/qualification", f"/api/deals/opportunities/{deal.pk}/call-plans",
                    f"/api/enablement/opportunities/{deal.pk}/suggestions"):
            assert client.get(url).status_code == 404, (viewer, url)
        for url in (f"/deals/opportunities/{deal.pk}/qualification/", f"/deals/opportunities/{deal.pk}/call-plans/",
                    f"/deals/opportunities/{deal.pk}/business-case/"):  # the deal's forms
            assert client.post(url).status_code == 404, (viewer, url)
        listed = {o["id"] for o in client.get("/api/crm/opportunities", {"page_size": 500}).json()["items"]}
        assert deal.pk not in listed
        activities = {a["id"] for a in client.get("/api/crm/activities", {"page_size": 500}).json()["items"]}
        assert call.pk not in activities
    account_page = client_for(rep).get(f"/accounts/{org.accounts['rep_emea'].pk}/").content.decode()
    assert "rep_emea won deal" not in account_page and "rep_emea open deal" in account_page
    after = won_by_owner(leader, engine)
    assert "Erik Rep" not in after  # its only closed deal is in the bin
    assert {k: v for k, v in before.items() if k != "Erik Rep"} == after
    frames = frames_for(leader, engine)
    assert deal.pk not in {r["opportunity_id"] for r in frames.run(frames.stage_history)}
    assert call.pk not in {r["id"] for r in frames.run(frames.activities)}

    restored = client_for(leader).post(f"/api/recycle-bin/opportunity/{deal.pk}/restore")

    assert restored.status_code == 200, restored.content
    assert restored.json()["url"] == f"/opportunities/{deal.pk}/"
    # everything as it was, but for a new version (two: the delete and the restore; older forms are stale)
    assert {k: v for k, v in Opportunity.objects.filter(pk=deal.pk).values().get().items() if k != "updated_at"} == \
        {k: v for k, v in fields_before.items() if k != "updated_at"} | {"version": fields_before["version"] + 2}
    detail = client_for(rep).get(f"/api/crm/opportunities/{deal.pk}").json()
    assert [li["quantity"] for li in detail["line_items"]] == ["3.00"]
    assert [s["stage"] for s in detail["stage_history"]][:1] == ["Proposal"]
    assert [r["role"] for r in detail["contact_roles"]] == ["champion"]
    assert won_by_owner(leader, engine) == before
    assert LineItem.objects.filter(opportunity=deal).count() == 1 and StageHistory.objects.filter(opportunity=deal).count() == 1
    assert Activity.objects.visible_to(rep).filter(pk=call.pk).exists()


def test_who_may_delete_an_opportunity_is_who_may_edit_it(org):
    emea_deal = org.opportunities["rep_emea"][0]
    dach_deal = org.opportunities["rep_dach"][0]
    for viewer, deal in [("rep_dach", emea_deal), ("rep_amer", emea_deal), ("manager_amer", emea_deal), ("enablement", emea_deal)]:
        answer = client_for(org.user(viewer)).delete(f"/api/crm/opportunities/{deal.pk}")
        assert answer.status_code == 404, viewer
        assert "not found" in answer.json()["detail"]
    assert Opportunity.objects.filter(pk=emea_deal.pk).exists()
    assert client_for(org.manager_emea).delete(f"/api/crm/opportunities/{dach_deal.pk}").status_code == 200
    assert client_for(org.admin).delete(f"/api/crm/opportunities/{emea_deal.pk}").status_code == 200
    # deleting twice: it is no longer there to delete
    assert client_for(org.admin).delete(f"/api/crm/opportunities/{emea_deal.pk}").status_code == 404


def test_the_bin_lists_what_the_caller_may_restore(org):
    deal = org.opportunities["rep_emea"][0]
    bin_services.move_to_bin(org.rep_emea, "opportunity", deal.pk)

    def listed(viewer):
        body = client_for(org.user(viewer)).get("/api/recycle-bin").json()
        assert body["retention_days"] == 30
        return {(e["kind"], e["id"]) for e in body["entries"]}

    for viewer in ("rep_emea", "manager_emea", "leader", "admin"):
        assert ("opportunity", deal.pk) in listed(viewer), viewer
    for viewer in ("rep_dach", "manager_amer", "enablement"):
        assert listed(viewer) == set(), viewer
        assert client_for(org.user(viewer)).post(f"/api/recycle-bin/opportunity/{deal.pk}/restore").status_code == 404
    page = client_for(org.rep_emea).get("/recycle-bin/")
    assert page.status_code == 200
    assert "rep_emea open deal" in page.content.decode() and "Erik Rep" in page.content.decode()
    unknown = client_for(org.rep_emea).post(f"/api/recycle-bin/nonsense/{deal.pk}/restore")
    assert unknown.status_code == 422  # the schema lists the kinds, and the answer says which
    assert "'opportunity', 'plan', 'content', 'account', 'contact' or 'activity'" in unknown.json()["detail"][0]["msg"]


def test_the_page_button_deletes_with_csrf_and_restore_brings_it_back(org):
    deal = org.opportunities["rep_emea"][0]
    page = client_for(org.rep_emea).get(f"/opportunities/{deal.pk}/").content.decode()
    assert f'action="/recycle-bin/opportunity/{deal.pk}/delete/"' in page and 'data-confirm="Move' in page  # asked by web/dealpilot.js

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(org.rep_emea)
    assert strict.post(f"/recycle-bin/opportunity/{deal.pk}/delete/").status_code == 403
    assert Opportunity.objects.filter(pk=deal.pk).exists()

    assert client_for(org.rep_dach).post(f"/recycle-bin/opportunity/{deal.pk}/delete/").status_code == 404
    assert client_for(org.rep_emea).get(f"/recycle-bin/opportunity/{deal.pk}/delete/").status_code == 405
    deleted = client_for(org.rep_emea).post(f"/recycle-bin/opportunity/{deal.pk}/delete/")
    assert deleted.status_code == 302 and deleted["Location"] == "/opportunities/"
    assert not Opportunity.objects.filter(pk=deal.pk).exists()

    restored = client_for(org.rep_emea).post(f"/recycle-bin/opportunity/{deal.pk}/restore/")
    assert restored.status_code == 302 and restored["Location"] == f"/opportunities/{deal.pk}/"
    assert Opportunity.objects.filter(pk=deal.pk).exists()


def test_a_restore_after_the_period_is_refused(org, settings):
    settings.RECYCLE_BIN_DAYS = 7
    deal = org.opportunities["rep_emea"][0]
    bin_services.move_to_bin(org.rep_emea, "opportunity", deal.pk)
    Opportunity.all_objects.filter(pk=deal.pk).update(deleted_at=timezone.now() - timedelta(days=8))

    answer = client_for(org.rep_emea).post(f"/api/recycle-bin/opportunity/{deal.pk}/restore")
    assert answer.status_code == 410
    assert "keeps records 7 days" in answer.json()["detail"]
    page = client_for(org.rep_emea).post(f"/recycle-bin/opportunity/{deal.pk}/restore/")
    assert page.status_code == 410 and "can no longer be restored" in page.content.decode()
    entry = client_for(org.rep_emea).get("/api/recycle-bin").json()["entries"][0]
    assert (entry["days_left"], entry["restorable"]) == (0, False)
    assert not Opportunity.objects.filter(pk=deal.pk).exists()


def test_purge_deletes_only_what_has_expired(org):
    old, recent = org.opportunities["rep_emea"]
    add_line_item(old)
    for deal in (old, recent):
        bin_services.move_to_bin(org.rep_emea, "opportunity", deal.pk)
    Opportunity.all_objects.filter(pk=old.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    alive = Opportunity.objects.count()

    dry = bin_services.purge_expired(dry_run=True)
    assert (dry.counts["opportunity"], dry.total, dry.dry_run) == (1, 1, True)
    assert Opportunity.all_objects.filter(pk=old.pk).exists()

    done = bin_services.purge_expired()
    assert done.counts == {"opportunity": 1, "plan": 0, "content": 0, "account": 0, "contact": 0, "activity": 0}
    assert not Opportunity.all_objects.filter(pk=old.pk).exists()
    assert not LineItem.objects.filter(opportunity_id=old.pk).exists()
    assert Opportunity.all_objects.get(pk=recent.pk).deleted_at is not None  # still restorable
    assert Opportunity.objects.count() == alive


def test_the_purge_command_reports_counts_and_has_a_dry_run(org):
    from typer.testing import CliRunner

    from dealpilot.cli import app

    deal = org.opportunities["rep_emea"][0]
    bin_services.move_to_bin(org.rep_emea, "opportunity", deal.pk)
    Opportunity.all_objects.filter(pk=deal.pk).update(deleted_at=timezone.now() - timedelta(days=31))

    dry = CliRunner().invoke(app, ["purge-recycle-bin", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete 1 opportunity" in dry.output and Opportunity.all_objects.filter(pk=deal.pk).exists()
    done = CliRunner().invoke(app, ["purge-recycle-bin"])
    assert done.exit_code == 0, done.output
    assert "deleted 1 opportunity" in done.output and not Opportunity.all_objects.filter(pk=deal.pk).exists()


def test_an_account_plan_goes_to_the_bin_with_its_items_and_comes_back(org):
    account = org.accounts["rep_emea"]
    plan = planning.create_plan(org.rep_emea, account.pk, title="Grow EMEA")
    planning.add_objective(org.rep_emea, account.pk, "account", "Win the platform deal")
    rep, other = client_for(org.rep_emea), client_for(org.rep_dach)

    assert other.delete(f"/api/planning/accounts/{account.pk}/plan").status_code == 404
    assert rep.get(f"/accounts/{account.pk}/").status_code == 200
    page = rep.get(f"/planning/accounts/{account.pk}/plan/").content.decode()
    assert f'action="/recycle-bin/plan/{plan.pk}/delete/"' in page
    assert rep.delete(f"/api/planning/accounts/{account.pk}/plan").status_code == 200

    assert rep.get(f"/api/planning/accounts/{account.pk}/plan").status_code == 404
    assert rep.get(f"/api/planning/accounts/{account.pk}/plan/field-history").status_code == 404
    refused = rep.post(f"/api/planning/accounts/{account.pk}/plan", {"title": "Again"}, content_type="application/json")
    assert refused.status_code == 400 and "recycle bin" in refused.json()["detail"]
    assert not AccountPlan.objects.filter(account=account).exists()

    assert rep.post(f"/api/recycle-bin/plan/{plan.pk}/restore").status_code == 200
    body = rep.get(f"/api/planning/accounts/{account.pk}/plan").json()
    assert body["title"] == "Grow EMEA"
    assert Objective.objects.filter(plan=plan).count() == 1


def test_a_content_module_is_deleted_by_its_authors_only_and_hidden_from_everyone(org):
    module = ContentModule.objects.create(title="Battlecard", kind="battlecard", status="published", owner=org.enablement)
    rep = client_for(org.rep_emea)
    assert rep.get(f"/api/enablement/modules/{module.pk}").status_code == 200
    assert rep.delete(f"/api/enablement/modules/{module.pk}").status_code == 404  # may read, may not delete
    assert "delete-content" not in rep.get(f"/enablement/modules/{module.pk}/").content.decode()
    author = client_for(org.enablement)
    assert "delete-content" in author.get(f"/enablement/modules/{module.pk}/").content.decode()

    assert author.delete(f"/api/enablement/modules/{module.pk}").status_code == 200

    for client in (rep, author, client_for(org.leader)):
        assert client.get(f"/api/enablement/modules/{module.pk}").status_code == 404
        assert client.get(f"/enablement/modules/{module.pk}/").status_code == 404
        assert module.pk not in {m["id"] for m in client.get("/api/enablement/modules").json()["items"]}
    assert {(e["kind"], e["id"]) for e in author.get("/api/recycle-bin").json()["entries"]} == {("content", module.pk)}
    assert rep.get("/api/recycle-bin").json()["entries"] == []
    assert author.post(f"/api/recycle-bin/content/{module.pk}/restore").status_code == 200
    assert rep.get(f"/api/enablement/modules/{module.pk}").status_code == 200


def test_an_import_updates_a_deleted_opportunity_but_keeps_it_in_the_bin(tmp_path, org):
    from dealpilot.imports.engine import import_export
    from tests.exports import small_salesforce_export

    export = small_salesforce_export(tmp_path / "sf")
    import_export("salesforce", export)
    deal = Opportunity.objects.get(crm_id="006000000000003AAA")
    bin_services.move_to_bin(org.leader, "opportunity", deal.pk)
    path = export / "Opportunity.csv"
    path.write_text(path.read_text().replace('"75000"', '"80000"'))

    again = import_export("salesforce", export)

    step = next(s for s in again.steps if s.target == "opportunity")
    assert (step.created, step.updated, step.in_recycle_bin) == (0, 1, 1)
    assert "1 in the recycle bin" in again.summary()
    stored = Opportunity.all_objects.get(crm_id="006000000000003AAA")
    assert (stored.pk, stored.amount, stored.deleted_at is not None) == (deal.pk, Decimal("80000"), True)
    assert not Opportunity.objects.filter(crm_id="006000000000003AAA").exists()


@pytest.mark.parametrize("kind", ["opportunity", "plan", "content"])
def test_going_to_the_bin_and_back_gives_a_new_version_so_a_stale_edit_is_refused(org, kind):
    from dealpilot.concurrency import StaleWrite, save_if_current

    if kind == "opportunity":
        record = org.opportunities["rep_emea"][0]
    elif kind == "plan":
        record = planning.create_plan(org.rep_emea, org.accounts["rep_emea"].pk, title="Grow EMEA")
    else:
        record = ContentModule.objects.create(title="Battlecard", kind="battlecard", status="published", owner=org.enablement)
    model = type(record)
    loaded = model.all_objects.get(pk=record.pk).version
    deleted = bin_services.move_to_bin(org.admin, kind, record.pk)
    assert deleted.version == loaded + 1
    restored = bin_services.restore(org.admin, kind, record.pk)
    assert restored.version == loaded + 2
    with pytest.raises(StaleWrite):  # the form opened before the delete
        save_if_current(model.objects.filter(pk=record.pk), loaded)


# ---- accounts, contacts and activities ----------------------------------------------------------------


def test_an_account_goes_with_its_contacts_deals_and_activities_and_comes_back_whole(org):
    from dealpilot.crm.models import Account, Contact

    account = org.accounts["rep_emea"]
    contact, call = org.contacts["rep_emea"], org.activities["rep_emea"]
    deals = {d.pk for d in Opportunity.objects.filter(account=account)}
    assert len(deals) == 4  # rep_emea's two, manager_emea's own, rep_amer's cross-sell
    note = make_activity(org.rep_emea, account=account, kind="email", subject="Account-level email")
    earlier = Contact.objects.create(account=account, last_name="Deleted before", owner=org.rep_emea)
    bin_services.move_to_bin(org.rep_emea, "contact", earlier.pk)

    # the rep owns the account, but two deals in it are others': refused, nothing moved
    refused = client_for(org.rep_emea).delete(f"/api/crm/accounts/{account.pk}")
    assert refused.status_code == 409 and "2 opportunities of people outside your scope" in refused.json()["detail"]
    assert Account.objects.filter(pk=account.pk).exists() and Opportunity.objects.filter(pk__in=deals).count() == 4
    assert client_for(org.rep_dach).delete(f"/api/crm/accounts/{account.pk}").status_code == 404

    leader = client_for(org.leader)
    assert leader.delete(f"/api/crm/accounts/{account.pk}").status_code == 200
    for path in (f"/api/crm/accounts/{account.pk}", f"/api/crm/contacts/{contact.pk}", f"/api/crm/activities/{call.pk}",
                 f"/api/crm/activities/{note.pk}", f"/accounts/{account.pk}/",
                 *(f"/api/crm/opportunities/{pk}" for pk in deals)):
        assert leader.get(path).status_code == 404, path
    assert account.pk not in {a["id"] for a in leader.get("/api/crm/accounts").json()["items"]}
    assert not Activity.objects.filter(pk__in=[call.pk, note.pk]).exists()
    frames = frames_for(org.leader, "duckdb")
    assert not {call.pk, note.pk} & {r["id"] for r in frames.run(frames.activities)}
    # the bin lists what was deleted, not what went with it
    listed = {(e["kind"], e["id"]) for e in leader.get("/api/recycle-bin").json()["entries"]}
    assert ("account", account.pk) in listed and ("contact", earlier.pk) in listed
    assert not {("opportunity", pk) for pk in deals} & listed and ("contact", contact.pk) not in listed
    one_deal = next(iter(deals))
    refused = leader.post(f"/api/recycle-bin/opportunity/{one_deal}/restore")
    assert refused.status_code == 409 and "restore that" in refused.json()["detail"]

    assert leader.post(f"/api/recycle-bin/account/{account.pk}/restore").status_code == 200
    assert Opportunity.objects.filter(pk__in=deals).count() == 4
    assert Contact.objects.filter(pk=contact.pk).exists() and Activity.objects.filter(pk__in=[call.pk, note.pk]).count() == 2
    assert not Contact.objects.filter(pk=earlier.pk).exists()  # deleted on its own before: still in the bin
    assert leader.get(f"/accounts/{account.pk}/").status_code == 200


def test_a_contact_leaves_the_buying_groups_it_was_in_and_comes_back(org):
    from dealpilot.crm.models import OpportunityContactRole

    contact, deal, call = org.contacts["rep_emea"], org.opportunities["rep_emea"][0], org.activities["rep_emea"]
    add_contact_role(deal, contact, "champion")
    rep = client_for(org.rep_emea)
    assert [r["role"] for r in rep.get(f"/api/crm/opportunities/{deal.pk}").json()["contact_roles"]] == ["champion"]
    assert client_for(org.rep_amer).delete(f"/api/crm/contacts/{contact.pk}").status_code == 404

    assert rep.delete(f"/api/crm/contacts/{contact.pk}").status_code == 200
    assert rep.get(f"/api/crm/opportunities/{deal.pk}").json()["contact_roles"] == []
    assert not OpportunityContactRole.objects.filter(opportunity=deal).exists()
    assert rep.get(f"/api/crm/activities/{call.pk}").status_code == 404  # its activities went with it

    assert rep.post(f"/api/recycle-bin/contact/{contact.pk}/restore").status_code == 200
    assert [r["role"] for r in rep.get(f"/api/crm/opportunities/{deal.pk}").json()["contact_roles"]] == ["champion"]
    assert rep.get(f"/api/crm/activities/{call.pk}").status_code == 200


def test_an_activity_is_deleted_by_whoever_sees_it_and_counts_nowhere_meanwhile(org):
    call = org.activities["rep_emea"]
    frames = frames_for(org.leader, "duckdb")
    assert call.pk in {r["id"] for r in frames.run(frames.activities)}
    for viewer in ("rep_dach", "rep_amer", "manager_amer", "enablement"):
        assert client_for(org.user(viewer)).delete(f"/api/crm/activities/{call.pk}").status_code == 404, viewer
    assert client_for(org.manager_emea).delete(f"/api/crm/activities/{call.pk}").status_code == 200
    frames = frames_for(org.leader, "duckdb")
    assert call.pk not in {r["id"] for r in frames.run(frames.activities)}
    entry = next(e for e in client_for(org.rep_emea).get("/api/recycle-bin").json()["entries"] if e["kind"] == "activity")
    assert entry["title"].startswith("Call on ") and entry["deleted_by"] == "Emil Manager"
    assert client_for(org.rep_emea).post(f"/api/recycle-bin/activity/{call.pk}/restore").status_code == 200
    assert Activity.objects.filter(pk=call.pk).exists()


def test_the_account_page_has_the_delete_button_for_those_who_may(org):
    account = org.accounts["rep_dach"]
    assert 'data-testid="delete-account"' in client_for(org.rep_dach).get(f"/accounts/{account.pk}/").content.decode()
    assert 'data-testid="delete-account"' not in client_for(org.rep_amer).get(  # sells into it, does not own it
        f"/accounts/{org.accounts['rep_emea'].pk}/").content.decode()
    deleted = client_for(org.rep_dach).post(f"/recycle-bin/account/{account.pk}/delete/")
    assert deleted.status_code == 302 and deleted["Location"] == "/accounts/"
    assert client_for(org.rep_dach).get(f"/accounts/{account.pk}/").status_code == 404


def test_an_account_restored_from_the_bin_is_scored_again_at_once(org):
    """The account scores are cached per records version; the bin's content is part of it, so an account
    that comes back (not the newest, so the highest id does not change) is on its page again, not a 500."""
    from dealpilot.planning import selectors
    from dealpilot.planning.scoring import measure_cache

    account = org.accounts["rep_emea"]
    assert account.pk != Account.objects.order_by("-pk").first().pk
    leader = client_for(org.leader)
    assert leader.get(f"/planning/accounts/{account.pk}/").status_code == 200
    bin_services.move_to_bin(org.leader, "account", account.pk)
    measure_cache.clear(), selectors._scores.clear()  # as when the caches' time bucket turns while it is in the bin
    assert leader.get(f"/planning/accounts/{org.accounts['rep_dach'].pk}/").status_code == 200  # scored without it
    bin_services.restore(org.leader, "account", account.pk)
    assert leader.get(f"/planning/accounts/{account.pk}/").status_code == 200
