"""Alerts as they happen: a deal closed lost, a big deal pushed, a new vulnerability reach the people who
follow them (the bell, e-mail if asked) and the team's chat channel, once, whatever wrote the change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dealpilot.crm import services as crm_services
from dealpilot.deals.models import WinScore
from dealpilot.notifications import alerts, delivery, services
from dealpilot.notifications.models import AlertEvent, Delivery, Notification, TeamWebhook
from dealpilot.notifications.subscriptions import update_subscription
from dealpilot.today.models import TodaySettings

pytestmark = pytest.mark.django_db


def later(minutes: int = 5):
    return timezone.now() + timedelta(minutes=minutes)


def bell(user) -> list[str]:
    return [n.event.title for n in Notification.objects.filter(user=user).select_related("event")]


@pytest.fixture
def watched(with_emails):
    """The first scan has seen the organisation (a baseline: nobody is alerted for what already was)."""
    first = alerts.scan()
    assert first.baseline >= 5 and not AlertEvent.objects.exists()
    return with_emails


def close_lost(user, deal, reason="Price"):
    crm_services.update_opportunity(user, deal.pk, expected_version=None, stage="Closed Lost", lost_reason=reason,
                                    close_comment="They chose the cheaper offer.")


def test_a_deal_closed_lost_reaches_the_manager_and_the_teams_channel_once(watched, hook_receiver):
    org = watched
    hook = services.add_webhook(org.manager_emea, org.teams["emea"].pk, {"name": "#sales-emea", "url": hook_receiver.url})
    services.add_webhook(org.leader, org.teams["amer"].pk, {"name": "#sales-amer", "url": hook_receiver.url + "-amer"})
    deal = org.opportunities["rep_dach"][0]
    close_lost(org.rep_dach, deal)
    result = alerts.scan(later())
    assert [e.kind for e in result.events] == ["closed_lost"]
    event = result.events[0]
    assert "rep_dach open deal" in event.title and "Price" in event.text
    assert bell(org.manager_emea) == [event.title]  # DACH is under EMEA
    assert bell(org.rep_dach) == []  # nobody is told of their own closing
    assert bell(org.manager_amer) == [] and bell(org.rep_emea) == []  # not their team, or a rep
    assert bell(org.leader) == []  # a leader's default: big deals only
    # the team's channel (DACH is below EMEA) got it; the Americas channel did not
    assert len(hook_receiver.posts) == 1
    post = hook_receiver.posts[0]
    assert post["path"].endswith("/secret") and post["content_type"] == "application/json"
    assert event.title in post["json"]["text"] and post["json"]["blocks"][0]["type"] == "section"
    assert f"/opportunities/{deal.pk}/" in post["json"]["blocks"][1]["elements"][0]["url"]
    assert Delivery.objects.get(webhook=hook).status == Delivery.Status.SENT

    again = alerts.scan(later(10))
    assert again.events == [] and len(hook_receiver.posts) == 1 and Notification.objects.count() == 1


def test_a_big_deals_pushed_close_date_reaches_owner_manager_and_leader(watched, hook_receiver):
    org = watched
    settings = TodaySettings.current()
    settings.big_deal_amount = 40000
    settings.save()
    TeamWebhook.objects.create(team=org.teams["emea"], name="#emea", url=hook_receiver.url, flavour="teams")
    big, small = org.opportunities["rep_emea"][0], org.opportunities["manager_emea"][0]  # 50,000 and 5,000
    for deal in (big, small):
        deal.refresh_from_db()
        crm_services.update_opportunity(org.user(deal.owner.username), deal.pk, expected_version=None,
                                        close_date=(deal.close_date or timezone.localdate()) + timedelta(days=45))
    result = alerts.scan(later())
    assert [e.kind for e in result.events] == ["big_deal_pushed"]
    event = result.events[0]
    assert "45 days later" in event.text
    for person in (org.rep_emea, org.manager_emea, org.leader):
        assert bell(person) == [event.title], person
    assert bell(org.manager_amer) == []
    card = hook_receiver.posts[0]["json"]  # Microsoft Teams' MessageCard
    assert card["@type"] == "MessageCard" and card["title"] == event.title
    assert card["potentialAction"][0]["targets"][0]["uri"].endswith(f"/opportunities/{big.pk}/")


def test_a_new_vulnerability_reaches_the_owner_by_bell_and_by_email_if_asked(watched, smtp):
    org = watched
    update_subscription(org.rep_dach, {"alerts_by_email": True})
    deal = org.opportunities["rep_dach"][0]
    WinScore.objects.update_or_create(opportunity=deal, defaults={
        "probability": 0.31, "method": "rules", "scored_at": timezone.now() + timedelta(seconds=1),
        "vulnerabilities": [{"code": "single_threaded", "title": "Single-threaded"}], "vulnerability_count": 1})
    result = alerts.scan(later())
    assert [e.kind for e in result.events] == ["vulnerability"]
    assert "Single-threaded" in result.events[0].text and "31%" in result.events[0].text
    assert bell(org.rep_dach) == [result.events[0].title]
    assert bell(org.manager_emea) == []  # a vulnerability is news for the deal's owner
    mail = smtp.to("rep_dach@example.com")
    assert len(mail) == 1 and "New risk on" in mail[0]["Subject"] and "/notifications/unsubscribe/" in mail[0]["List-Unsubscribe"]
    # the same signal scored again is not news; a second new one is
    WinScore.objects.filter(opportunity=deal).update(scored_at=timezone.now() + timedelta(minutes=6))
    assert alerts.scan(later(8)).events == []
    WinScore.objects.filter(opportunity=deal).update(scored_at=timezone.now() + timedelta(minutes=9), vulnerabilities=[
        {"code": "single_threaded", "title": "Single-threaded"}, {"code": "no_compelling_event", "title": "No compelling event"}])
    events = alerts.scan(later(12)).events
    assert len(events) == 1 and "No compelling event" in events[0].text and "Single-threaded" not in events[0].text


def test_a_chat_service_that_fails_is_retried_later_and_the_alert_is_kept(watched, hook_receiver):
    org = watched
    TeamWebhook.objects.create(team=org.teams["emea"], name="#emea", url=hook_receiver.url)
    hook_receiver.fail_next = 1
    close_lost(org.rep_emea, org.opportunities["rep_emea"][0])
    result = alerts.scan(later())
    assert result.sent.failed == 1 and hook_receiver.posts == []
    d = Delivery.objects.get(channel="webhook")
    assert d.status == "pending" and "500" in d.last_error
    assert delivery.send_pending(later(30)).sent == 1
    assert len(hook_receiver.posts) == 1


def test_the_first_sight_of_an_old_lost_deal_is_not_news(watched):
    org = watched
    from tests.factories import make_opportunity

    make_opportunity(org.rep_dach, org.accounts["rep_dach"], name="Imported old loss", stage="Closed Lost", status="lost",
                     close_date=timezone.localdate() - timedelta(days=200))
    make_opportunity(org.rep_dach, org.accounts["rep_dach"], name="Lost yesterday", stage="Closed Lost", status="lost",
                     close_date=timezone.localdate() - timedelta(days=1))
    events = alerts.scan(later()).events
    assert [e.title for e in events] == ["Closed lost: Lost yesterday \u00b7 rep_dach account"]


def test_the_bell_counts_unread_alerts_and_marks_them_read(watched):
    org = watched
    close_lost(org.rep_dach, org.opportunities["rep_dach"][0])
    close_lost(org.rep_emea, org.opportunities["rep_emea"][0])
    alerts.scan(later())
    client = Client()
    client.force_login(org.manager_emea)
    page = client.get("/opportunities/")
    assert b'data-testid="unread-alerts">2<' in page.content
    listed = client.get("/api/notifications").json()
    assert listed["unread"] == 2 and len(listed["rows"]) == 2
    first = listed["rows"][0]["id"]
    assert client.post("/api/notifications/read", {"ids": [first]}, content_type="application/json").json() == {"marked": 1}
    assert client.get("/api/notifications?unread_only=true").json()["unread"] == 1
    # another person's alert id marks nothing
    other = Client()
    other.force_login(org.rep_emea)
    assert other.post("/api/notifications/read", {"ids": [first + 1]}, content_type="application/json").json() == {"marked": 0}
    assert client.post("/notifications/read/", {}).status_code == 302
    assert Notification.objects.filter(user=org.manager_emea, read_at__isnull=True).count() == 0
    assert b"unread-alerts" not in client.get("/notifications/").content


def test_who_may_set_a_teams_channel(watched, hook_receiver):
    org = watched
    rep, manager = Client(), Client()
    rep.force_login(org.rep_dach)
    manager.force_login(org.manager_emea)
    body = {"team_id": org.teams["emea"].pk, "name": "#emea", "url": hook_receiver.url}
    assert rep.post("/api/notifications/webhooks", body, content_type="application/json").status_code == 404
    assert manager.post("/api/notifications/webhooks", {**body, "team_id": org.teams["amer"].pk},
                        content_type="application/json").status_code == 404  # not his team
    bad = manager.post("/api/notifications/webhooks", {**body, "url": "file:///etc/passwd"}, content_type="application/json")
    assert bad.status_code == 400 and "http" in bad.json()["detail"]
    made = manager.post("/api/notifications/webhooks", body, content_type="application/json")
    assert made.status_code == 201 and "secret" not in made.json()["url"]  # the address is masked
    listed = manager.get("/api/notifications/webhooks").json()
    assert [h["name"] for h in listed] == ["#emea"]
    assert rep.get("/api/notifications/webhooks").json() == []
    assert rep.delete(f"/api/notifications/webhooks/{made.json()['id']}").status_code == 404
    other = Client()
    other.force_login(org.manager_amer)
    assert other.delete(f"/api/notifications/webhooks/{made.json()['id']}").status_code == 404
    assert manager.delete(f"/api/notifications/webhooks/{made.json()['id']}").status_code == 204
    assert not TeamWebhook.objects.exists()
    # the page: the form offers the manager's own teams only
    page = manager.get("/notifications/settings/")
    assert b"Team chat channels" in page.content and b"Americas" not in page.content
    refused = manager.post("/notifications/webhooks/add/", {"team": org.teams["amer"].pk, "name": "#x", "url": hook_receiver.url,
                                                            "flavour": "slack"})
    assert refused.status_code == 400 and not TeamWebhook.objects.exists()


def test_the_cli_lists_a_persons_alerts_and_scans(watched):
    import json

    from typer.testing import CliRunner

    from dealpilot.cli import app

    org = watched
    close_lost(org.rep_dach, org.opportunities["rep_dach"][0])
    out = CliRunner().invoke(app, ["alerts", "scan"])
    assert out.exit_code == 0 and "1 new alert" in out.output
    listed = CliRunner().invoke(app, ["alerts", "list", "--as", "manager_emea", "--format", "json"])
    rows = json.loads(listed.output)["rows"]
    assert [r["kind"] for r in rows] == ["closed_lost"] and rows[0]["read"] is False
    assert json.loads(CliRunner().invoke(app, ["alerts", "list", "--as", "rep_emea", "--format", "json"]).output)["rows"] == []
    services.add_webhook(org.leader, org.teams["emea"].pk, {"name": "#emea", "url": "https://hooks.example.com/services/T/B/secret"})
    hooks = json.loads(CliRunner().invoke(app, ["alerts", "webhooks", "--as", "manager_emea", "--format", "json"]).output)["rows"]
    assert [(h["team"], h["name"]) for h in hooks] == [("EMEA", "#emea")] and "secret" not in hooks[0]["url"]
    assert json.loads(CliRunner().invoke(app, ["alerts", "webhooks", "--as", "rep_emea", "--format", "json"]).output)["rows"] == []


def test_the_scheduler_has_its_jobs():
    from dealpilot.notifications.scheduler import build_scheduler

    scheduler = build_scheduler(blocking=False)
    assert {j.id for j in scheduler.get_jobs()} == {"alerts", "digests", "snapshot", "rescore"}


def test_the_scheduled_jobs_do_their_work_and_a_failing_one_is_logged_not_raised(watched, caplog, monkeypatch):
    from dealpilot.forecasting.models import SnapshotWeek
    from dealpilot.notifications import scheduler

    org = watched
    # a job closes stale connections before and after it runs; inside the test's transaction that would end it
    monkeypatch.setattr("django.db.close_old_connections", lambda: None)
    jobs = {j.id: j.func for j in scheduler.build_scheduler(blocking=False).get_jobs()}
    jobs["snapshot"]()
    jobs["snapshot"]()
    assert SnapshotWeek.objects.count() == 1  # once a week however often it runs
    close_lost(org.rep_dach, org.opportunities["rep_dach"][0])
    jobs["alerts"]()
    assert bell(org.manager_emea)
    monkeypatch.setattr("dealpilot.notifications.alerts.scan", lambda: 1 / 0)
    jobs["alerts"]()  # the scheduler keeps running
    assert "scheduled job alerts_and_retries failed" in caplog.text and "ZeroDivisionError" in caplog.text
