"""The daily and weekly digests: made from Today, sent through a real SMTP server, once per person and
day however often the run repeats; a failed send is kept and retried with back-off; unsubscribe works."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.test import Client
from django.utils import timezone

from dealpilot.crm import activities
from dealpilot.notifications import delivery
from dealpilot.notifications.digests import digest_key, is_due, run_digests
from dealpilot.notifications.models import Delivery, Subscription
from dealpilot.notifications.subscriptions import subscription_for, unsubscribe_token, update_subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(with_emails):
    org = with_emails
    today = timezone.localdate()
    for name in ("rep_dach", "rep_emea", "rep_amer"):
        rep = org.user(name)
        activities.create_next_step(rep, subject=f"{name}: send the pricing", opportunity_id=org.opportunities[name][0].pk,
                                    due_date=today - timedelta(days=2))
    return org


def test_the_daily_digest_reaches_each_subscribed_person_once_through_smtp(work, smtp):
    org = work
    run = run_digests("daily")
    assert run.sent.sent == len(run.made) == len(smtp.messages) >= 4  # three reps and the two managers at least
    mail = smtp.to("rep_dach@example.com")
    assert len(mail) == 1
    message = mail[0]
    assert message["Subject"].startswith("dealpilot \u00b7 Today:")
    assert message["From"] == "sales-ops@example.com"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "rep_dach: send the pricing" in text and "rep_emea: send the pricing" not in text  # only what she may see
    assert "Why:" in text and "Do:" in text
    assert "https://dealpilot.example.com/opportunities/" in text  # links into the app, absolute
    assert 'href="https://dealpilot.example.com/today/"' in html
    unsubscribe = re.search(r"<(https://dealpilot\.example\.com/notifications/unsubscribe/[^>]+)>", message["List-Unsubscribe"])
    assert unsubscribe and unsubscribe.group(1) in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # the manager's digest carries the team's work
    manager_text = smtp.to("manager_emea@example.com")[0].get_body(("plain",)).get_content()
    assert "rep_dach" in manager_text and "rep_amer: send the pricing" not in manager_text

    again = run_digests("daily")
    assert again.made == [] and again.already == len(run.made)
    assert len(smtp.messages) == len(run.made)  # nothing new
    assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == len(run.made)


def test_people_who_switched_it_off_or_have_nothing_to_do_get_no_mail(work, smtp):
    org = work
    update_subscription(org.rep_emea, {"daily_digest": False})
    org.rep_amer.email = ""
    org.rep_amer.save(update_fields=["email"])
    run = run_digests("daily")
    assert not smtp.to("rep_emea@example.com")
    assert run.no_address == ["rep_amer"]
    assert not smtp.to("enablement@example.com")
    assert {m["X-Envelope-To"] for m in smtp.messages} >= {"rep_dach@example.com"}


def test_nothing_is_made_without_a_mail_server_and_a_dry_run_prints_without_recording(work, settings):
    settings.DEALPILOT_EMAIL_URL = ""
    run = run_digests("daily")
    assert run.email_off and not Delivery.objects.exists()
    preview = run_digests("daily", dry_run=True)
    assert any(to == "rep_dach@example.com" and "send the pricing" in text for to, _, text in preview.previews)
    assert not Delivery.objects.exists()


def test_the_command_sends_once_and_a_second_run_sends_nothing_new(work, smtp):
    from typer.testing import CliRunner

    from dealpilot.cli import app

    first = CliRunner().invoke(app, ["digests", "send", "--period", "daily"])
    assert first.exit_code == 0, first.output
    sent = len(smtp.messages)
    assert sent >= 4 and f"{sent} sent" in first.output
    second = CliRunner().invoke(app, ["digests", "send", "--period", "daily"])
    assert second.exit_code == 0 and "0 sent" in second.output and f"{sent} already sent" in second.output
    assert len(smtp.messages) == sent
    one = CliRunner().invoke(app, ["digests", "send", "--period", "daily", "--as", "rep_dach", "--dry-run"])
    assert one.exit_code == 0 and "To: rep_dach@example.com" in one.output and "rep_emea@" not in one.output
    listed = CliRunner().invoke(app, ["digests", "deliveries", "--as", "admin", "--format", "json"])
    import json

    rows = json.loads(listed.output)["rows"]
    assert len(rows) == sent and {r["status"] for r in rows} == {"sent"}
    assert CliRunner().invoke(app, ["digests", "deliveries", "--status", "bogus"]).exit_code == 2


def test_the_weekly_digest_is_the_managers_week(work, smtp):
    org = work
    run = run_digests("weekly")
    assert smtp.to("manager_emea@example.com") and not smtp.to("rep_dach@example.com")  # reps get no weekly digest
    text = smtp.to("manager_emea@example.com")[0].get_body(("plain",)).get_content()
    assert "Forecast movement" in text and "Your team's week" in text
    assert len(run.made) == len(smtp.messages)
    assert run_digests("weekly").made == []  # once a week


def test_a_failed_send_is_kept_retried_with_back_off_and_given_up_on_loudly(work, settings, caplog):
    org = work
    from .servers import free_port

    settings.DEALPILOT_EMAIL_URL = f"smtp://127.0.0.1:{free_port()}"  # nobody listens there
    run = run_digests("daily", users=[org.rep_dach])
    assert run.sent.failed == 1 and run.sent.sent == 0
    d = Delivery.objects.get()
    assert d.status == Delivery.Status.PENDING and d.attempts == 1 and "Connection" in d.last_error
    assert d.next_attempt_at > timezone.now()
    assert delivery.send_pending().sent == 0  # not due yet: the back-off holds
    for attempt in range(2, delivery.MAX_ATTEMPTS + 1):
        delivery.send_pending(timezone.now() + timedelta(days=attempt))
    d.refresh_from_db()
    assert d.status == Delivery.Status.FAILED and d.attempts == delivery.MAX_ATTEMPTS
    assert "giving up" in caplog.text
    assert run_digests("daily", users=[org.rep_dach]).made == []  # kept: the day's digest is not made twice


def test_a_retry_succeeds_once_the_mail_server_is_back(work, smtp, settings):
    org = work
    good = settings.DEALPILOT_EMAIL_URL
    from .servers import free_port

    settings.DEALPILOT_EMAIL_URL = f"smtp://127.0.0.1:{free_port()}"
    run_digests("daily", users=[org.rep_dach])
    settings.DEALPILOT_EMAIL_URL = good
    assert delivery.send_pending(timezone.now() + timedelta(minutes=2)).sent == 1
    assert len(smtp.to("rep_dach@example.com")) == 1
    assert Delivery.objects.get().attempts == 2


def test_only_one_worker_sends_a_delivery(work, smtp):
    org = work
    run_digests("daily", users=[org.rep_dach], send=False)
    d = Delivery.objects.get()
    now = timezone.now()
    assert delivery._claim(d, now) is True
    assert delivery.send_one(d, now) is None  # the second worker finds it taken
    assert not smtp.messages
    # the first worker died while sending: its claim runs out and another sends it
    assert delivery.send_pending(now + delivery.CLAIM + timedelta(seconds=1)).sent == 1
    assert len(smtp.messages) == 1


def test_the_morning_is_each_persons_own(work):
    org = work
    sub = subscription_for(org.rep_dach)
    sub.time_zone, sub.digest_hour = "Asia/Tokyo", 7
    sub.save()
    # 00:30 UTC on a Monday is 09:30 in Tokyo: due there; in London it is the middle of the night
    now = datetime(2026, 12, 7, 0, 30, tzinfo=dt_timezone.utc)
    local = now.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert is_due(sub, "daily", local) and is_due(sub, "weekly", local)
    assert digest_key("daily", org.rep_dach, local.date()).startswith("digest:daily:2026-12-07:")
    earlier = (now - timedelta(hours=3)).astimezone(local.tzinfo)
    assert not is_due(sub, "daily", earlier)
    london = subscription_for(org.rep_emea)
    london.time_zone = "Europe/London"
    london.save()
    run = run_digests("daily", now=now, due_only=True, dry_run=True)
    assert run.not_due >= 1  # London's morning has not come
    assert any(to == "rep_dach@example.com" for to, _, _ in run.previews)


def test_unsubscribe_link_switches_off_that_digest_without_signing_in(work):
    org = work
    token = unsubscribe_token(org.rep_dach, "daily")
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"/notifications/unsubscribe/{token}/")
    assert page.status_code == 200 and b"Unsubscribe" in page.content
    assert subscription_for(org.rep_dach).daily_digest is True  # a GET changes nothing
    done = client.post(f"/notifications/unsubscribe/{token}/")  # the mail client's one-click post: no session, no CSRF token
    assert done.status_code == 200 and b"Unsubscribed" in done.content
    assert Subscription.objects.get(user=org.rep_dach).daily_digest is False
    assert Subscription.objects.get(user=org.rep_dach).weekly_digest is False  # a rep's default, untouched
    assert client.post(f"/notifications/unsubscribe/{token[:-3]}xyz/").status_code == 404
    assert client.get("/notifications/unsubscribe/not-a-token/").status_code == 404


def test_settings_page_and_api_change_only_ones_own_subscription(work):
    org = work
    client = Client()
    client.force_login(org.rep_dach)
    page = client.get("/notifications/settings/")
    assert page.status_code == 200 and b"Digests and alerts" in page.content
    assert b"Team chat channels" not in page.content  # a rep sets no team channel
    bad = client.post("/notifications/settings/", {"digest_hour": 30, "time_zone": "Mars/Olympus"})
    assert bad.status_code == 400
    ok = client.post("/notifications/settings/", {"daily_digest": "on", "digest_hour": 6, "time_zone": "Europe/Berlin",
                                                  "alert_vulnerability": "on"})
    assert ok.status_code == 302
    sub = Subscription.objects.get(user=org.rep_dach)
    assert (sub.digest_hour, sub.time_zone, sub.alert_big_deal_pushed) == (6, "Europe/Berlin", False)
    api = client.put("/api/notifications/subscription", {"time_zone": "Nowhere/Land"}, content_type="application/json")
    assert api.status_code == 400 and "time zone" in api.json()["detail"]
    api = client.put("/api/notifications/subscription", {"weekly_digest": True, "digest_hour": 8}, content_type="application/json")
    assert api.status_code == 200 and api.json()["weekly_digest"] is True and api.json()["time_zone"] == "Europe/Berlin"
    assert client.put("/api/notifications/subscription", {"digest_hour": 24}, content_type="application/json").status_code == 422


def test_what_was_sent_page_shows_ones_own_and_an_administrator_everyones(work, smtp):
    org = work
    run_digests("daily")
    rep, admin = Client(), Client()
    rep.force_login(org.rep_dach)
    admin.force_login(org.admin)
    mine = rep.get("/notifications/deliveries/").content.decode()
    assert "rep_dach@example.com" in mine and "rep_emea@example.com" not in mine
    everyone = admin.get("/notifications/deliveries/?status=sent").content.decode()
    assert "rep_dach@example.com" in everyone and "rep_emea@example.com" in everyone
    assert "rep_dach@example.com" not in admin.get("/notifications/deliveries/?status=failed").content.decode()
    assert admin.get("/notifications/deliveries/?status=bogus").status_code == 200  # an unknown status shows all
    api = rep.get("/api/notifications/deliveries").json()["rows"]
    assert {r["to"] for r in api} == {"rep_dach@example.com"}
