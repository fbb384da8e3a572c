"""The daily and weekly digests by e-mail: made once per person and period, rendered in HTML and text.

The content comes from guidance.digests (read-only); here it gets rendered, recorded as a Delivery
whose key names the person and the local day (or week), and sent. Running it again the same day finds
the key taken and makes nothing new."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from dealpilot.crm.models import Role, User
from dealpilot.forecasting.rollup import week_of
from dealpilot.guidance.digests import Digest, daily_digest, weekly_digest
from dealpilot.today.models import TodaySettings
from dealpilot.today.selectors import worklist

from . import delivery
from .models import Delivery, Subscription
from .subscriptions import subscriptions_of, unsubscribe_token

PERIODS = ("daily", "weekly")
FIELD = {"daily": "daily_digest", "weekly": "weekly_digest"}


def absolute(path: str) -> str:
    return settings.DEALPILOT_BASE_URL.rstrip("/") + path


def local_now(sub: Subscription, now: datetime) -> datetime:
    try:
        return now.astimezone(zoneinfo.ZoneInfo(sub.time_zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.localtime(now)


def is_due(sub: Subscription, period: str, local: datetime) -> bool:
    """The scheduler's rule: after the person's morning hour (daily), and from Monday's on (weekly: once a week)."""
    if period == "weekly" and local.weekday() == 0:
        return local.hour >= sub.digest_hour
    return period == "weekly" or local.hour >= sub.digest_hour


def digest_key(period: str, user: User, day: date) -> str:
    return f"digest:{period}:{(week_of(day) if period == 'weekly' else day).isoformat()}:{user.pk}"


def build(period: str, user: User, day: date) -> Digest | None:
    if period == "daily":
        return daily_digest(user, worklist(user, day).items, day)
    return weekly_digest(user, day, TodaySettings.current().thresholds())


def render(digest: Digest) -> tuple[str, str, str, str]:
    """(subject, text, html, unsubscribe URL)."""
    unsubscribe = absolute(reverse("notifications:unsubscribe", args=[unsubscribe_token(digest.user, digest.period)]))
    context = {"digest": digest, "base": settings.DEALPILOT_BASE_URL.rstrip("/"), "unsubscribe": unsubscribe,
               "settings_url": absolute(reverse("notifications:settings")), "today_url": absolute(reverse("today:index"))}
    subject = f"dealpilot \u00b7 {digest.title}"
    return (subject, render_to_string("notifications/digest.txt", context),
            render_to_string("notifications/digest.html", context), unsubscribe)


@dataclass
class DigestRun:
    period: str
    made: list[str] = field(default_factory=list)  # keys of new deliveries
    already: int = 0  # sent (or waiting) before: nothing new
    empty: int = 0  # nothing to say: no mail
    no_address: list[str] = field(default_factory=list)
    not_due: int = 0
    previews: list[tuple[str, str, str]] = field(default_factory=list)  # dry run: (to, subject, text)
    sent: delivery.Sent = field(default_factory=delivery.Sent)
    email_off: bool = False


def recipients(period: str, users: list[User] | None) -> list[tuple[User, Subscription]]:
    """The active people subscribed to the `period` digest (of `users`, or everyone), with their subscription."""
    qs = User.objects.filter(is_active=True).exclude(role=Role.ENABLEMENT).order_by("id")
    if users is not None:
        qs = qs.filter(id__in=[u.pk for u in users])
    people = list(qs)
    subs = subscriptions_of(people)
    return [(u, subs[u.pk]) for u in people if getattr(subs[u.pk], FIELD[period])]


def run_digests(period: str, *, users: list[User] | None = None, now: datetime | None = None, due_only: bool = False,
                dry_run: bool = False, send: bool = True) -> DigestRun:
    """Make (and send) the `period` digest of every subscribed person (or of `users`) for their local day.

    due_only: the scheduler's run (only people whose local morning has come); by hand: everyone now."""
    if period not in PERIODS:
        raise ValueError(f"the digest is daily or weekly, not {period!r}")
    now = now or timezone.now()
    run = DigestRun(period)
    if not dry_run and not delivery.email_enabled():
        run.email_off = True
        return run
    for user, sub in recipients(period, users):
        local = local_now(sub, now)
        if due_only and not is_due(sub, period, local):
            run.not_due += 1
            continue
        key = digest_key(period, user, local.date())
        if not dry_run and Delivery.objects.filter(key=key).exists():
            run.already += 1
            continue
        if not user.email:
            run.no_address.append(user.username)
            continue
        digest = build(period, user, local.date())
        if digest is None or digest.is_empty:
            run.empty += 1
            continue
        subject, text, html, unsubscribe = render(digest)
        if dry_run:
            run.previews.append((user.email, subject, text))
            continue
        try:
            with transaction.atomic():
                Delivery.objects.create(key=key, channel=Delivery.Channel.EMAIL, kind=period, user=user, to=user.email,
                                        subject=subject[:300], body_text=text, body_html=html,
                                        payload={"unsubscribe": unsubscribe}, next_attempt_at=now)
        except IntegrityError:  # another worker made it a moment ago
            run.already += 1
            continue
        run.made.append(key)
    if send and run.made:
        run.sent = delivery.send_pending(now + timedelta(seconds=1), keys=run.made)
    return run
