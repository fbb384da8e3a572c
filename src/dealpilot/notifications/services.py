"""Writes of notifications: reading alerts, and the team chat webhooks (who may add which)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from dealpilot.crm.models import Role, Team, User

from .models import Notification, TeamWebhook

WEBHOOK_FIELDS = ("name", "url", "flavour", "alert_closed_lost", "alert_big_deal_pushed", "alert_vulnerability", "is_active")


class NotificationError(ValueError):
    """Bad input: the message says what to change."""


class NotAllowed(PermissionError):
    pass


def mark_read(user: User, ids: list[int] | None = None) -> int:
    """Mark the caller's alerts read (these ids, or all); others' alerts are never touched."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(id__in=ids)
    return qs.update(read_at=timezone.now())


def teams_for_webhooks(user: User):
    """The teams whose chat channel `user` may set: every team for a leader or an administrator, the
    manager's own teams; nobody else's."""
    if not user.is_active:
        return Team.objects.none()
    if user.role in (Role.LEADER, Role.ADMIN):
        return Team.objects.all()
    if user.role == Role.MANAGER:
        return Team.objects.visible_to(user)
    return Team.objects.none()


def webhooks_for(user: User):
    return TeamWebhook.objects.filter(team__in=teams_for_webhooks(user)).select_related("team")


def _check(values: dict) -> dict:
    unknown = set(values) - set(WEBHOOK_FIELDS) - {"team_id"}
    if unknown:
        raise NotificationError(f"unknown field: {', '.join(sorted(unknown))}")
    if "url" in values:
        url = (values["url"] or "").strip()
        try:
            URLValidator(schemes=["https", "http"])(url)
        except ValidationError:
            raise NotificationError("the webhook URL is an http(s) address, e.g. https://hooks.slack.com/services/...") from None
        if urlsplit(url).username or urlsplit(url).password:
            raise NotificationError("the webhook URL carries no user name or password")
        values["url"] = url
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
        if not values["name"] or len(values["name"]) > 120:
            raise NotificationError("name the channel (1 to 120 characters), e.g. #sales-emea")
    if "flavour" in values and values["flavour"] not in TeamWebhook.Flavour.values:
        raise NotificationError(f"the flavour is one of {', '.join(TeamWebhook.Flavour.values)}")
    return values


def add_webhook(user: User, team_id: int, values: dict) -> TeamWebhook:
    team = teams_for_webhooks(user).filter(pk=team_id).first()
    if team is None:
        raise NotAllowed("you may set the chat channel of your own teams only")
    values = _check(dict(values))
    if not values.get("url") or not values.get("name"):
        raise NotificationError("a webhook needs a name and a URL")
    return TeamWebhook.objects.create(team=team, created_by=user, **values)


def change_webhook(user: User, webhook_id: int, values: dict) -> TeamWebhook:
    hook = webhooks_for(user).filter(pk=webhook_id).first()
    if hook is None:
        raise NotAllowed("no such webhook among your teams'")
    for name, value in _check(dict(values)).items():
        setattr(hook, name, value)
    hook.save()
    return hook


def remove_webhook(user: User, webhook_id: int) -> None:
    hook = webhooks_for(user).filter(pk=webhook_id).first()
    if hook is None:
        raise NotAllowed("no such webhook among your teams'")
    hook.delete()
