"""Sending: e-mail through SMTP (DEALPILOT_EMAIL_URL) and posts to chat webhooks, with claims and back-off.

Each Delivery is claimed by one worker at a time (a conditional UPDATE: only one of two workers gets
the row), sent, and marked sent; a failure is logged, counted and retried later (1, 2, 4 ... minutes,
up to MAX_ATTEMPTS), then marked failed and kept: never dropped silently. A worker that dies while
sending leaves a claim that expires, so another worker retries it."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import Q
from django.utils import timezone

from .models import Delivery

log = logging.getLogger("dealpilot.notifications")

MAX_ATTEMPTS = 6
CLAIM = timedelta(minutes=5)
SEND_TIMEOUT = 15  # seconds: a mail server or chat service that hangs must not hold the worker
SCHEMES = {"smtp": {}, "smtp+tls": {"use_tls": True}, "submission": {"use_tls": True}, "smtps": {"use_ssl": True}}


class EmailUrlError(ValueError):
    pass


def email_settings(url: str | None = None) -> dict | None:
    """SMTP connection settings from DEALPILOT_EMAIL_URL (smtp://, smtp+tls://, smtps://, user:password@,
    ?from=...); None when it is unset: then no e-mail is made or sent."""
    url = url if url is not None else getattr(settings, "DEALPILOT_EMAIL_URL", "")
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise EmailUrlError(f"DEALPILOT_EMAIL_URL: the scheme is one of {', '.join(SCHEMES)}, not {parts.scheme!r}")
    if not parts.hostname:
        raise EmailUrlError("DEALPILOT_EMAIL_URL names no host")
    query = parse_qs(parts.query)
    return {"host": parts.hostname, "port": parts.port or (465 if parts.scheme == "smtps" else 587 if "tls" in parts.scheme
                                                              or parts.scheme == "submission" else 25),
            "username": unquote(parts.username or ""), "password": unquote(parts.password or ""),
            "from_email": query.get("from", [settings.DEFAULT_FROM_EMAIL])[0], **SCHEMES[parts.scheme]}


def email_enabled() -> bool:
    return email_settings() is not None


def _send_email(d: Delivery) -> None:
    config = dict(email_settings() or {})
    if not config:
        raise RuntimeError("no mail server: DEALPILOT_EMAIL_URL is unset")
    from_email = config.pop("from_email")
    connection = get_connection("django.core.mail.backends.smtp.EmailBackend", fail_silently=False, timeout=SEND_TIMEOUT,
                                **config)
    headers = {}
    unsubscribe = (d.payload or {}).get("unsubscribe")
    if unsubscribe:
        headers = {"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    message = EmailMultiAlternatives(d.subject, d.body_text, from_email, [d.to], headers=headers, connection=connection)
    if d.body_html:
        message.attach_alternative(d.body_html, "text/html")
    message.send()


def _post_webhook(d: Delivery) -> None:
    if d.webhook is None or not d.webhook.is_active:
        raise RuntimeError("the webhook was switched off or removed")
    request = urllib.request.Request(d.webhook.url, data=json.dumps(d.payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "dealpilot"})
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:  # noqa: S310 (http(s) only: a URLField)
            if not 200 <= response.status < 300:
                raise RuntimeError(f"the chat service answered {response.status}")
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"the chat service answered {exc.code}") from None


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** max(0, attempts - 1), 6 * 60))


def _claim(d: Delivery, now: datetime) -> bool:
    """Take the delivery for this worker; False when another worker has it or it is done."""
    return Delivery.objects.filter(Q(status=Delivery.Status.PENDING) | Q(status=Delivery.Status.SENDING,
                                                                         claimed_until__lt=now),
                                   pk=d.pk).update(status=Delivery.Status.SENDING, claimed_until=now + CLAIM) == 1


@dataclass
class Sent:
    sent: int = 0
    failed: int = 0  # failed this time (retried later, or given up)
    gave_up: int = 0


def send_one(d: Delivery, now: datetime | None = None) -> bool | None:
    """Send `d` if this worker can claim it: True sent, False failed (retried later), None not claimed."""
    now = now or timezone.now()
    if not _claim(d, now):
        return None
    try:
        (_send_email if d.channel == Delivery.Channel.EMAIL else _post_webhook)(d)
    except Exception as exc:  # any failure of the far side: keep the delivery, say why, try again later
        attempts = d.attempts + 1
        gave_up = attempts >= MAX_ATTEMPTS
        error = f"{type(exc).__name__}: {exc}"[:500]
        Delivery.objects.filter(pk=d.pk).update(
            attempts=attempts, last_error=error, claimed_until=None, next_attempt_at=now + backoff(attempts),
            status=Delivery.Status.FAILED if gave_up else Delivery.Status.PENDING)
        (log.error if gave_up else log.warning)("delivery %s (%s) failed, attempt %d of %d%s: %s", d.key, d.to or d.webhook,
                                                 attempts, MAX_ATTEMPTS, ", giving up" if gave_up else "", error)
        return False
    Delivery.objects.filter(pk=d.pk).update(status=Delivery.Status.SENT, sent_at=timezone.now(), attempts=d.attempts + 1,
                                            claimed_until=None, last_error="")
    return True


def send_pending(now: datetime | None = None, *, keys: list[str] | None = None) -> Sent:
    """Send every delivery that is due (waiting and due, or stuck in a claim that expired)."""
    now = now or timezone.now()
    due = Delivery.objects.filter(Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
                                  | Q(status=Delivery.Status.SENDING, claimed_until__lt=now)).select_related("webhook")
    if keys is not None:
        due = due.filter(key__in=keys)
    result = Sent()
    for d in due.order_by("next_attempt_at", "id")[:500]:
        outcome = send_one(d, now)
        if outcome:
            result.sent += 1
        elif outcome is False:
            result.failed += 1
            d.refresh_from_db(fields=["status"])
            result.gave_up += d.status == Delivery.Status.FAILED
    return result
