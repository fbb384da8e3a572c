"""Read paths of the recycle bin: what the caller may restore."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from .registry import KINDS, without_those_deleted_with_a_parent
from .services import days_left, expires_at

BIN_LIMIT = 500


@dataclass(frozen=True)
class BinEntry:
    kind: str
    kind_label: str
    id: int
    title: str
    deleted_at: datetime
    deleted_by_id: int | None
    deleted_by: str
    expires_at: datetime
    days_left: int
    restorable: bool


def bin_entries(user, now: datetime | None = None) -> list[BinEntry]:
    """The deleted records the caller may restore (and those past the period, not yet purged),
    most recently deleted first."""
    now = now or timezone.now()
    entries = []
    for key, kind in KINDS.items():
        deleted = without_those_deleted_with_a_parent(key, kind.manageable(user).filter(deleted_at__isnull=False))
        rows = deleted.select_related("deleted_by").order_by("-deleted_at")[:BIN_LIMIT]
        entries += [bin_entry(key, record, now) for record in rows]
    entries.sort(key=lambda e: e.deleted_at, reverse=True)
    return entries


def bin_entry(kind: str, record, now: datetime | None = None) -> BinEntry:
    now = now or timezone.now()
    who = record.deleted_by
    return BinEntry(kind=kind, kind_label=KINDS[kind].label, id=record.pk, title=str(record),
                    deleted_at=record.deleted_at, deleted_by_id=who.pk if who else None,
                    deleted_by=str(who) if who else "", expires_at=expires_at(record.deleted_at),
                    days_left=days_left(record.deleted_at, now), restorable=expires_at(record.deleted_at) > now)


def retention_days() -> int:
    return settings.RECYCLE_BIN_DAYS
