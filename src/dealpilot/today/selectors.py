"""Reads of Today: a person's worklist less what they set aside, and what people dismiss."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count
from django.utils import timezone

from dealpilot.crm.models import User
from dealpilot.guidance.items import KIND_LABELS, Item
from dealpilot.guidance.today import today_items

from .models import Dismissal, TodaySettings
from .services import hidden_keys, may_use_today


@dataclass
class Worklist:
    items: list[Item]
    hidden: list[Item]
    day: date

    def counts(self) -> list[tuple[str, int]]:
        out: dict[str, int] = {}
        for item in self.items:
            out[item.kind_label] = out.get(item.kind_label, 0) + 1
        return sorted(out.items(), key=lambda kv: -kv[1])


def worklist(user: User, today: date | None = None) -> Worklist:
    today = today or timezone.localdate()
    if not may_use_today(user):
        return Worklist([], [], today)
    items = today_items(user, TodaySettings.current().thresholds(), today)
    hidden = hidden_keys(user, today)
    return Worklist([i for i in items if i.key not in hidden], [i for i in items if i.key in hidden], today)


def what_people_set_aside(days: int = 90) -> list[dict]:
    """Per kind and reason: how often items were dismissed or snoozed lately (the leader reads what to tune)."""
    since = timezone.now() - timedelta(days=days)
    rows = (Dismissal.objects.filter(created_at__gte=since).exclude(reason="brought back")
            .values("kind", "reason").annotate(times=Count("id"), people=Count("user", distinct=True)).order_by("-times", "kind"))
    return [{"kind": KIND_LABELS.get(r["kind"], r["kind"]), "reason": r["reason"] or "(snoozed)", "times": r["times"],
             "people": r["people"]} for r in rows[:50]]
