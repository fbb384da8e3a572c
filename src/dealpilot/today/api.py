"""Today over JSON: the caller's worklist (as the page shows it) and setting an item aside."""

from __future__ import annotations

from datetime import date
from typing import Literal

from ninja import Field, Router, Schema
from ninja.errors import HttpError

from . import selectors, services

router = Router(tags=["today"])


class TodayItemOut(Schema):
    key: str
    kind: str
    kind_label: str
    title: str
    why: str
    action: str
    url: str
    owner: str
    due: date | None
    amount: float | None
    currency: str


class TodayOut(Schema):
    day: date
    count: int
    hidden: int
    rows: list[TodayItemOut]


class SetAsideIn(Schema):
    key: str = Field(max_length=200)
    action: Literal["dismiss", "snooze", "bring_back"] = "dismiss"
    reason: str = Field("", max_length=services.REASON_LENGTH)
    snooze_days: int | None = Field(None, ge=1, le=services.MAX_SNOOZE_DAYS)


class SetAsideOut(Schema):
    key: str
    action: str
    snoozed_until: date | None


@router.get("", response=TodayOut, summary="The caller's Today list, most urgent first (less what they set aside)")
def today(request):
    if not services.may_use_today(request.user):
        raise HttpError(404, "Today is for the sales team")
    worklist = selectors.worklist(request.user)
    return {"day": worklist.day, "count": len(worklist.items), "hidden": len(worklist.hidden),
            "rows": [i.as_row() for i in worklist.items]}


@router.post("/set-aside", response={201: SetAsideOut}, summary="Dismiss (with a reason), snooze (1-90 days) or bring back an item")
def set_aside(request, body: SetAsideIn):
    try:
        if body.action == "bring_back":
            services.bring_back(request.user, body.key)
            return 201, {"key": body.key, "action": body.action, "snoozed_until": None}
        if body.action == "snooze" and body.snooze_days is None:
            raise services.TodayError("say for how many days (snooze_days, 1-90)")
        d = services.set_aside(request.user, body.key, reason=body.reason,
                               snooze_days=body.snooze_days if body.action == "snooze" else None)
    except services.NotAllowed as exc:
        raise HttpError(404, str(exc)) from None
    except services.TodayError as exc:
        raise HttpError(400, str(exc)) from None
    return 201, {"key": d.key, "action": body.action, "snoozed_until": d.snoozed_until}
