"""Today: one ranked worklist per person, from every source, each item with its why and its one action;
set aside with a reason or for a while; the same list over the API and the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dealpilot.crm import activities
from dealpilot.crm.models import ContactRole, OpportunityContactRole
from dealpilot.deals.models import CallPlan, WinScore
from dealpilot.forecasting.models import DealSnapshot, SnapshotWeek
from dealpilot.forecasting.rollup import week_of
from dealpilot.guidance.items import Thresholds
from dealpilot.guidance.today import today_items
from dealpilot.guidance.work import next_working_day
from dealpilot.planning.models import AccountPlan
from dealpilot.today import services
from dealpilot.today.models import Dismissal, TodaySettings
from dealpilot.today.selectors import worklist
from tests.factories import make_activity, make_contact, make_opportunity

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def by_kind(items) -> dict[str, list]:
    out: dict[str, list] = {}
    for item in items:
        out.setdefault(item.kind, []).append(item)
    return out


@pytest.fixture
def busy_rep(org):
    """rep_dach with one of everything Today lists, and rep_emea with an overdue step of their own."""
    rep, account, deal = org.rep_dach, org.accounts["rep_dach"], org.opportunities["rep_dach"][0]
    activities.create_next_step(rep, subject="Send the pricing", opportunity_id=deal.pk, due_date=today() - timedelta(days=3))
    activities.create_next_step(rep, subject="Confirm the workshop", opportunity_id=deal.pk, due_date=today() + timedelta(days=1))
    activities.create_next_step(rep, subject="Quarterly check-in", account_id=account.pk, due_date=today() + timedelta(days=20))
    activities.create_next_step(org.rep_emea, subject="Someone else's step", opportunity_id=org.opportunities["rep_emea"][0].pk,
                                due_date=today() - timedelta(days=1))
    late = make_opportunity(rep, account, name="Late renewal", stage="Negotiation", amount=90000, close_date=today() - timedelta(days=4))
    make_activity(rep, opportunity=late, activity_date=today() - timedelta(days=2))
    cfo = make_contact(account, first_name="Carla", last_name="Finance", title="CFO", owner=rep)
    OpportunityContactRole.objects.create(opportunity=deal, contact=cfo, role=ContactRole.ECONOMIC_BUYER)
    AccountPlan.objects.create(account=account, title="Growth plan", period_start=today() - timedelta(days=90),
                               period_end=today() + timedelta(days=270), review_date=today() - timedelta(days=2))
    make_activity(rep, kind="meeting", opportunity=deal, subject="Workshop", activity_date=next_working_day(today()))
    return org


def test_a_reps_today_has_an_item_from_every_source_with_its_why_and_action(busy_rep):
    org = busy_rep
    items = today_items(org.rep_dach)
    kinds = by_kind(items)
    assert [i.title.split(" \u00b7 ")[0] for i in kinds["next_step_overdue"]] == ["Send the pricing"]
    assert kinds["next_step_overdue"][0].why.endswith("3 days overdue")
    assert [i.title.split(" \u00b7 ")[0] for i in kinds["next_step_due"]] == ["Confirm the workshop"]  # the one in 20 days waits
    late = next(i for i in kinds["deal_risk"] if i.title.startswith("Late renewal"))
    assert "Close date passed" in late.why and late.url.endswith(f"/opportunities/{late.key.split(':')[1]}/")
    lapsed = kinds["contact_lapsed"][0]
    assert lapsed.title.startswith("Carla Finance") and "never contacted" in lapsed.why and "Economic buyer" in lapsed.why
    assert "2 days ago" in kinds["plan_review"][0].why
    assert kinds["meeting_without_plan"][0].action == "Write the call plan"
    # most urgent first: the overdue step heads the list; nothing of rep_emea's is there
    assert items[0].kind == "next_step_overdue"
    assert all("Someone else" not in i.title for i in items)
    assert all(i.why and i.action and i.url for i in items)


def test_a_call_plan_for_the_meeting_and_a_touch_with_the_contact_take_their_items_off(busy_rep):
    org = busy_rep
    deal, cfo = org.opportunities["rep_dach"][0], org.accounts["rep_dach"].contacts.get(last_name="Finance")
    CallPlan.objects.create(opportunity=deal, owner=org.rep_dach, call_date=next_working_day(today()), objective="Agree the pilot",
                            our_outcomes="A date for the pilot")
    make_activity(org.rep_dach, opportunity=deal, contact=cfo, activity_date=today())
    kinds = by_kind(today_items(org.rep_dach))
    assert "meeting_without_plan" not in kinds and "contact_lapsed" not in kinds


def test_a_drop_of_the_win_probability_since_last_weeks_snapshot_is_a_risk(org):
    deal = org.opportunities["rep_dach"][0]
    last_week = week_of(today()) - timedelta(days=7)
    SnapshotWeek.objects.create(week=last_week, as_of=last_week, period_start=last_week, period_end=last_week + timedelta(days=90),
                                taken_at=timezone.now())
    DealSnapshot.objects.create(week=last_week, opportunity=deal, owner=org.rep_dach, stage=deal.stage, category="pipeline", probability=0.72)
    WinScore.objects.update_or_create(opportunity=deal, defaults={"probability": 0.41, "method": "rules", "scored_at": timezone.now()})
    risk = next(i for i in today_items(org.rep_dach) if i.kind == "deal_risk" and i.key.startswith(f"deal_risk:{deal.pk}:"))
    assert "Win probability down 31 points since last week (72% \u2192 41%)" in risk.why
    # the leader's threshold decides: at 40 points it is no longer a risk
    assert not any(i.key.startswith(f"deal_risk:{deal.pk}:") for i in today_items(org.rep_dach, Thresholds(probability_drop_points=40)))


def test_a_manager_sees_the_teams_work_and_the_reps_who_need_them(busy_rep):
    org = busy_rep
    items = today_items(org.manager_emea)
    titles = [i.title for i in items]
    assert any(t.startswith("Someone else's step") for t in titles) and any(t.startswith("Send the pricing") for t in titles)
    assert not any("rep_amer" in t for t in titles)  # another team's
    attention = [i for i in items if i.kind == "rep_attention"]
    assert {i.title for i in attention} <= {"Erik Rep", "Dora Rep"} and attention  # nobody coached them this month
    assert all("coaching" in i.why.lower() or "diagnosis" in i.why.lower() for i in attention)
    # a rep's lapsed contacts reach the manager as one line per rep, to raise in the 1:1
    lapsed = [i for i in items if i.kind == "contact_lapsed"]
    assert [(i.title, i.action) for i in lapsed] == [("Dora Rep: 1 key contact lapsed", "Raise it in your 1:1 with Dora Rep")]
    assert lapsed[0].why.startswith("Carla Finance (")


def test_a_leader_sees_the_biggest_deals_at_risk_and_enablement_sees_nothing(busy_rep):
    org = busy_rep
    items = today_items(org.leader)
    big = [i for i in items if i.kind == "big_deal_risk"]
    assert big and big[0].title.startswith("Late renewal") and big[0].amount == 90000
    assert not any(i.kind.startswith("next_step") for i in items)  # a leader's list is about the organisation
    assert today_items(org.enablement) == []


def test_dismissing_needs_a_reason_snoozing_hides_until_the_day_and_both_can_be_undone(busy_rep):
    org = busy_rep
    first = worklist(org.rep_dach).items[0]
    with pytest.raises(services.TodayError, match="say why"):
        services.set_aside(org.rep_dach, first.key)
    services.set_aside(org.rep_dach, first.key, reason="Waiting for their legal team")
    after = worklist(org.rep_dach)
    assert first.key not in {i.key for i in after.items} and first.key in {i.key for i in after.hidden}
    assert first.key in {i.key for i in worklist(org.manager_emea).items}  # set aside for the rep only
    services.bring_back(org.rep_dach, first.key)
    assert first.key in {i.key for i in worklist(org.rep_dach).items}
    services.set_aside(org.rep_dach, first.key, snooze_days=3)
    assert first.key not in {i.key for i in worklist(org.rep_dach).items}
    assert first.key in {i.key for i in worklist(org.rep_dach, today=today() + timedelta(days=3)).items}
    assert Dismissal.objects.filter(user=org.rep_dach, key=first.key).count() == 3  # every word kept
    for bad in ("", "x", "not_a_kind:1", "deal_risk:1;DROP TABLE", "a" * 300):
        with pytest.raises(services.TodayError):
            services.set_aside(org.rep_dach, bad, reason="r")


def test_the_page_is_the_landing_page_and_sets_items_aside(busy_rep):
    org = busy_rep
    rep = client_for(org.rep_dach)
    landing = rep.get("/", follow=True)
    assert landing.redirect_chain[-1][0] == "/today/"
    page = landing.content.decode()
    assert "Send the pricing" in page and "3 days overdue" in page and "Write the call plan" in page
    key = worklist(org.rep_dach).items[0].key
    refused = rep.post("/today/set-aside/", {"key": key, "action": "dismiss", "reason": ""})
    assert refused.status_code == 400 and "say why" in refused.content.decode()
    rep.post("/today/set-aside/", {"key": key, "action": "dismiss", "reason": "Done by phone"})
    assert key in {i.key for i in worklist(org.rep_dach).hidden}
    assert client_for(org.enablement).get("/", follow=True).redirect_chain[-1][0] == "/opportunities/"


def test_the_api_gives_the_same_list_and_refuses_bad_input(busy_rep):
    org = busy_rep
    rep = client_for(org.rep_dach)
    body = rep.get("/api/today").json()
    assert body["count"] == len(body["rows"]) == len(worklist(org.rep_dach).items)
    assert body["rows"][0]["kind"] == "next_step_overdue" and body["rows"][0]["why"]
    key = body["rows"][0]["key"]
    ok = rep.post("/api/today/set-aside", {"key": key, "action": "snooze", "snooze_days": 7}, content_type="application/json")
    assert ok.status_code == 201 and ok.json()["snoozed_until"] == (today() + timedelta(days=7)).isoformat()
    assert rep.get("/api/today").json()["hidden"] == 1
    for bad, status in (({"key": key, "action": "snooze"}, 400), ({"key": "nope", "reason": "x"}, 400),
                        ({"key": key, "action": "snooze", "snooze_days": 400}, 422), ({"key": key, "action": "burn"}, 422)):
        assert rep.post("/api/today/set-aside", bad, content_type="application/json").status_code == status, bad
    assert client_for(org.enablement).get("/api/today").status_code == 404


def test_thresholds_are_the_leaders_and_change_the_list(busy_rep):
    org = busy_rep
    assert client_for(org.rep_dach).get("/today/settings/").status_code == 403
    leader = client_for(org.leader)
    current = {f: getattr(TodaySettings.current(), f) for f in TodaySettings.FIELDS}
    current = {f: v for f, v in current.items() if v is not None}  # an empty field is posted as nothing
    assert leader.post("/today/settings/", {**current, "due_soon_days": 500}).status_code == 400
    values = current | {"due_soon_days": 0}
    assert leader.post("/today/settings/", values).status_code == 302
    kinds = by_kind(worklist(org.rep_dach).items)
    assert "next_step_due" not in kinds and "next_step_overdue" in kinds  # tomorrow's step waits for tomorrow


def test_the_cli_prints_a_persons_today_as_the_page_shows_it(busy_rep):
    from typer.testing import CliRunner

    from dealpilot.cli import app

    out = CliRunner().invoke(app, ["today", "--as", "rep_dach", "--format", "json"])
    assert out.exit_code == 0, out.output
    document = json.loads(out.stdout)
    assert document["list"] == "today" and document["as"] == "rep_dach"
    assert [r["key"] for r in document["rows"]] == [i.key for i in worklist(busy_rep.rep_dach).items]
    table = CliRunner().invoke(app, ["today", "--as", "rep_dach"])
    assert table.exit_code == 0 and "Send the pricing" in table.stdout
    unknown = CliRunner().invoke(app, ["today", "--as", "nobody"])
    assert unknown.exit_code == 2


def test_a_backer_lapses_sooner_than_a_neutral_contact_and_a_critic_in_between(org):
    """Issue 18 §3: the lapse threshold follows the contact's attitude on the people map; the leader sets each."""
    from dealpilot.planning.models import ContactProfile
    from dealpilot.planning.selectors import people_map

    rep, account = org.rep_dach, org.accounts["rep_dach"]
    people = {}
    for name, attitude in (("Backer", "champion"), ("Critic", "sceptic"), ("Neutral", "")):
        c = make_contact(account, first_name=name, last_name="Person", owner=rep)
        ContactProfile.objects.create(contact=c, key_person=True, attitude=attitude)
        make_activity(rep, contact=c, activity_date=today() - timedelta(days=50))
        people[name] = c
    lapsed = {i.title.split(" ")[0] for i in worklist(rep).items if i.kind == "contact_lapsed" and "Person" in i.title}
    assert lapsed == {"Backer"}  # 50 days: past 45 for a champion, within 60 for a sceptic and 90 for the neutral
    settings = TodaySettings.current()
    settings.contact_lapse_days_critics = 30
    settings.save()
    lapsed = {i.title.split(" ")[0] for i in worklist(rep).items if i.kind == "contact_lapsed" and "Person" in i.title}
    assert lapsed == {"Backer", "Critic"}
    on_map = {p["name"].split(" ")[0]: p["lapsed"] for p in people_map(account)["people"] if p["name"].endswith("Person")}
    assert on_map == {"Backer": True, "Critic": True, "Neutral": False}  # the account's people map says the same
