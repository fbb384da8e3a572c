"""A person's subscription, made with their role's defaults the first time it is read, and its changes."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from django.core import signing
from django.core.exceptions import ValidationError

from dealpilot.crm.models import Role, User
from dealpilot.validation import validation_message

from .models import Subscription

# What each role gets unless they change it: reps their own deals' news, managers their team's as well,
# leaders the big deals; administrators and content authors nothing.
ROLE_DEFAULTS = {
    Role.REP: {"daily_digest": True, "weekly_digest": False, "alert_vulnerability": True, "alert_closed_lost": False,
               "alert_big_deal_pushed": True},
    Role.MANAGER: {"daily_digest": True, "weekly_digest": True, "alert_vulnerability": True, "alert_closed_lost": True,
                   "alert_big_deal_pushed": True},
    Role.LEADER: {"daily_digest": True, "weekly_digest": True, "alert_vulnerability": False, "alert_closed_lost": False,
                  "alert_big_deal_pushed": True},
}
NOTHING = {"daily_digest": False, "weekly_digest": False, "alert_vulnerability": False, "alert_closed_lost": False,
           "alert_big_deal_pushed": False}
UNSUBSCRIBE_SALT = "dealpilot.notifications.unsubscribe"
PERIODS = ("daily", "weekly", "alerts")


class SubscriptionError(ValueError):
    """Bad input: the message says what to change."""


def subscription_for(user: User) -> Subscription:
    existing = Subscription.objects.filter(user=user).first()
    if existing is not None:
        return existing
    sub, _ = Subscription.objects.get_or_create(user=user, defaults=ROLE_DEFAULTS.get(user.role, NOTHING))
    return sub


def subscriptions_of(users: list[User]) -> dict[int, Subscription]:
    """Each person's subscription, by user id: one query, the missing ones made with their role's defaults."""
    found = {s.user_id: s for s in Subscription.objects.filter(user__in=users)}
    return {u.pk: found.get(u.pk) or subscription_for(u) for u in users}


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def update_subscription(user: User, values: dict) -> Subscription:
    """Change the caller's own subscription (nobody changes another person's)."""
    unknown = set(values) - set(Subscription.FIELDS)
    if unknown:
        raise SubscriptionError(f"unknown setting: {', '.join(sorted(unknown))}")
    if "time_zone" in values and values["time_zone"] not in time_zones():
        raise SubscriptionError(f"{values['time_zone']!r} is not a time zone (e.g. Europe/Berlin, America/New_York)")
    sub = subscription_for(user)
    for name, value in values.items():
        setattr(sub, name, value)
    try:
        sub.full_clean(exclude=["user"])
    except ValidationError as exc:
        raise SubscriptionError(validation_message(exc)) from None
    sub.save()
    return sub


def unsubscribe_token(user: User, what: str) -> str:
    """A link's proof that the mail reached `user`: it switches off one kind of mail without a login."""
    return signing.dumps({"u": user.pk, "w": what}, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> tuple[User, str] | None:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    user = User.objects.filter(pk=data.get("u"), is_active=True).first()
    if user is None or data.get("w") not in PERIODS:
        return None
    return user, data["w"]


def unsubscribe(user: User, what: str) -> Subscription:
    """Switch off the daily or the weekly digest, or alert e-mails."""
    field = {"daily": "daily_digest", "weekly": "weekly_digest", "alerts": "alerts_by_email"}[what]
    return update_subscription(user, {field: False})
