"""Writes of Today: dismiss or snooze an item, bring it back, and the leader's thresholds."""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from dealpilot.crm.models import Role, User
from dealpilot.guidance.items import KIND_LABELS
from dealpilot.validation import validation_message

from .models import Dismissal, TodaySettings

KEY = re.compile(r"^([a-z_]+):[A-Za-z0-9:._-]{1,180}$")
MAX_SNOOZE_DAYS = 90
REASON_LENGTH = 500


class TodayError(ValueError):
    """Bad input: the message says what to change."""


class NotAllowed(PermissionError):
    pass


def _kind(key: str) -> str:
    match = KEY.match(key or "")
    if not match or match.group(1) not in KIND_LABELS:
        raise TodayError("not an item of the Today list")
    return match.group(1)


def may_use_today(user: User) -> bool:
    return user.is_authenticated and user.is_active and user.role != Role.ENABLEMENT


def set_aside(user: User, key: str, *, reason: str = "", snooze_days: int | None = None, today: date | None = None) -> Dismissal:
    """Dismiss an item (a reason is required: it is what the list learns from) or snooze it for 1-90 days."""
    if not may_use_today(user):
        raise NotAllowed("Today is for the sales team")
    kind = _kind(key)
    reason = (reason or "").strip()
    if len(reason) > REASON_LENGTH:
        raise TodayError(f"the reason is at most {REASON_LENGTH} characters")
    until = None
    if snooze_days is not None:
        if not 1 <= snooze_days <= MAX_SNOOZE_DAYS:
            raise TodayError(f"snooze for 1 to {MAX_SNOOZE_DAYS} days")
        until = (today or timezone.localdate()) + timedelta(days=snooze_days)
    elif not reason:
        raise TodayError("say why you dismiss it: that is how the list learns what to leave out")
    return Dismissal.objects.create(user=user, key=key, kind=kind, reason=reason, snoozed_until=until)


def bring_back(user: User, key: str) -> int:
    """Undo: the item shows again (the record of having set it aside stays, marked by a later snooze of 0 days)."""
    _kind(key)
    today = timezone.localdate()
    with transaction.atomic():
        latest = Dismissal.objects.filter(user=user, key=key).first()
        if latest is None:
            return 0
        Dismissal.objects.create(user=user, key=key, kind=latest.kind, reason="brought back", snoozed_until=today)
    return 1


def hidden_keys(user: User, today: date | None = None) -> set[str]:
    """The keys `user` dismissed, or snoozed past today (the latest word on each key counts)."""
    today = today or timezone.localdate()
    latest: dict[str, Dismissal] = {}
    for d in Dismissal.objects.filter(user=user).only("key", "snoozed_until", "created_at"):
        latest.setdefault(d.key, d)
    return {k for k, d in latest.items() if d.snoozed_until is None or d.snoozed_until > today}


def update_settings(user: User, values: dict) -> TodaySettings:
    if not (user.is_active and user.role in (Role.LEADER, Role.ADMIN)):
        raise NotAllowed("only a sales leader or an administrator sets Today's thresholds")
    current = TodaySettings.current()
    unknown = set(values) - set(TodaySettings.FIELDS)
    if unknown:
        raise TodayError(f"unknown setting: {', '.join(sorted(unknown))}")
    for name, value in values.items():
        setattr(current, name, value)
    try:
        current.full_clean(exclude=["updated_by"])
    except ValidationError as exc:
        raise TodayError(validation_message(exc)) from None
    current.updated_by = user
    current.save()
    return current
