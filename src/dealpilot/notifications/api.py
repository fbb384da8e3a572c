"""Notifications over JSON: the caller's alerts (the bell), their subscription, their teams' chat webhooks
and the deliveries made for them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Router, Schema
from ninja.errors import HttpError

from dealpilot.validation import MAX_ID

from . import selectors, services, subscriptions

router = Router(tags=["notifications"])


class AlertOut(Schema):
    id: int
    kind: str
    title: str
    text: str
    url: str
    happened_at: datetime
    read: bool


class AlertsOut(Schema):
    unread: int
    rows: list[AlertOut]


class ReadIn(Schema):
    ids: list[int] | None = Field(None, max_length=1000, description="Alerts to mark read; empty: all of them")


class ReadOut(Schema):
    marked: int


class SubscriptionOut(Schema):
    daily_digest: bool
    weekly_digest: bool
    alert_vulnerability: bool
    alert_closed_lost: bool
    alert_big_deal_pushed: bool
    alerts_by_email: bool
    digest_hour: int
    time_zone: str


class SubscriptionIn(Schema):
    daily_digest: bool | None = None
    weekly_digest: bool | None = None
    alert_vulnerability: bool | None = None
    alert_closed_lost: bool | None = None
    alert_big_deal_pushed: bool | None = None
    alerts_by_email: bool | None = None
    digest_hour: int | None = Field(None, ge=0, le=23)
    time_zone: str | None = Field(None, max_length=64)


class WebhookOut(Schema):
    id: int
    team_id: int
    team: str
    name: str
    url: str = Field(description="Masked: the address is a secret")
    flavour: str
    alert_closed_lost: bool
    alert_big_deal_pushed: bool
    alert_vulnerability: bool
    is_active: bool


class WebhookIn(Schema):
    team_id: int = Field(ge=1, le=MAX_ID)
    name: str = Field(min_length=1, max_length=120)
    url: str = Field(min_length=1, max_length=500)
    flavour: Literal["slack", "teams"] = "slack"
    alert_closed_lost: bool = True
    alert_big_deal_pushed: bool = True
    alert_vulnerability: bool = False


class DeliveryOut(Schema):
    key: str
    channel: str
    kind: str
    to: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: str | None
    sent_at: str | None
    last_error: str


class DeliveriesOut(Schema):
    rows: list[DeliveryOut]


def _alert(n) -> dict:
    e = n.event
    return {"id": n.pk, "kind": e.kind, "title": e.title, "text": e.text, "url": e.url, "happened_at": e.happened_at,
            "read": n.read_at is not None}


def _hook(h) -> dict:
    return {"id": h.pk, "team_id": h.team_id, "team": str(h.team), "name": h.name, "url": h.masked_url, "flavour": h.flavour,
            "alert_closed_lost": h.alert_closed_lost, "alert_big_deal_pushed": h.alert_big_deal_pushed,
            "alert_vulnerability": h.alert_vulnerability, "is_active": h.is_active}


@router.get("", response=AlertsOut, summary="The caller's alerts, newest first, and how many are unread")
def alerts(request, unread_only: bool = False):
    rows = selectors.alerts_of(request.user, unread_only=unread_only)
    return {"unread": selectors.unread_count(request.user), "rows": [_alert(n) for n in rows]}


@router.post("/read", response=ReadOut, summary="Mark the caller's alerts read (these ids, or all)")
def read(request, body: ReadIn):
    return {"marked": services.mark_read(request.user, body.ids or None)}


@router.get("/subscription", response=SubscriptionOut, summary="The caller's digests and alerts")
def get_subscription(request):
    return subscriptions.subscription_for(request.user)


@router.put("/subscription", response=SubscriptionOut, summary="Change the caller's digests and alerts (only the fields given)")
def put_subscription(request, body: SubscriptionIn):
    try:
        return subscriptions.update_subscription(request.user, body.dict(exclude_none=True))
    except subscriptions.SubscriptionError as exc:
        raise HttpError(400, str(exc)) from None


@router.get("/webhooks", response=list[WebhookOut], summary="The chat webhooks of the teams the caller may set")
def webhooks(request):
    return [_hook(h) for h in services.webhooks_for(request.user)]


@router.post("/webhooks", response={201: WebhookOut}, summary="Add a team's chat webhook (leaders, admins; managers for their teams)")
def add_webhook(request, body: WebhookIn):
    values = body.dict()
    team_id = values.pop("team_id")
    try:
        return 201, _hook(services.add_webhook(request.user, team_id, values))
    except services.NotAllowed as exc:
        raise HttpError(404, str(exc)) from None
    except services.NotificationError as exc:
        raise HttpError(400, str(exc)) from None


@router.delete("/webhooks/{webhook_id}", response={204: None}, summary="Remove a team's chat webhook")
def delete_webhook(request, webhook_id: int):
    try:
        services.remove_webhook(request.user, webhook_id)
    except services.NotAllowed as exc:
        raise HttpError(404, str(exc)) from None
    return 204, None


@router.get("/deliveries", response=DeliveriesOut, summary="Messages made for the caller (an administrator: everyone's)")
def deliveries(request, status: Literal["", "pending", "sending", "sent", "failed"] = ""):
    return {"rows": selectors.delivery_rows(request.user, status=status)}
