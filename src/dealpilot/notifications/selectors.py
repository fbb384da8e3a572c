"""Reads of notifications: a person's alerts (the bell) and the deliveries an administrator checks."""

from __future__ import annotations

from django.db.models import QuerySet

from dealpilot.crm.models import Role, User

from .models import Delivery, Notification


def alerts_of(user: User, *, unread_only: bool = False, limit: int = 100) -> list[Notification]:
    qs = Notification.objects.filter(user=user).select_related("event")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return list(qs[:limit])


def unread_count(user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def deliveries_visible_to(user: User) -> QuerySet[Delivery]:
    """Administrators see every delivery (to find a mail server's failures); everyone else their own."""
    qs = Delivery.objects.select_related("user", "webhook__team")
    if user.is_active and user.role == Role.ADMIN:
        return qs
    return qs.filter(user=user)


def delivery_rows(user: User, *, status: str = "", limit: int = 200) -> list[dict]:
    qs = deliveries_visible_to(user)
    if status:
        qs = qs.filter(status=status)
    return [{"key": d.key, "channel": d.channel, "kind": d.kind, "to": d.to or (str(d.webhook) if d.webhook_id else ""),
             "subject": d.subject, "status": d.status, "attempts": d.attempts,
             "next_attempt_at": d.next_attempt_at.isoformat() if d.status == Delivery.Status.PENDING else None,
             "sent_at": d.sent_at.isoformat() if d.sent_at else None, "last_error": d.last_error}
            for d in qs[:limit]]
