"""Write paths of the recycle bin: move a record there, restore it, purge what has expired."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from .registry import KINDS, BinKind, cascade_kinds, children_of, parent_in_bin, went_with


class NotFound(LookupError):
    """No such record among those the caller may delete (or restore): answered as 404."""


class RestorePeriodOver(ValueError):
    """The record has been in the bin longer than the restore period: answered as 410."""


class Refused(ValueError):
    """The record may be deleted (or restored) by this user, but not now, for the reason given:
    answered as 409 (e.g. an account holding someone else's opportunities)."""


def retention() -> timedelta:
    return timedelta(days=settings.RECYCLE_BIN_DAYS)


def expires_at(deleted_at: datetime) -> datetime:
    return deleted_at + retention()


def days_left(deleted_at: datetime, now: datetime | None = None) -> int:
    left = (expires_at(deleted_at) - (now or timezone.now())).total_seconds() / 86400
    return max(0, math.ceil(left))


def kind_of(key: str) -> BinKind:
    try:
        return KINDS[key]
    except KeyError:
        raise NotFound(f"unknown kind {key!r}; one of {', '.join(KINDS)}") from None


def may_delete(user, kind: str, record: models.Model) -> bool:
    """Whether the delete button is for this user (the delete itself checks again)."""
    return kind_of(kind).manageable(user).filter(pk=record.pk).exists()


def move_to_bin(user, kind: str, pk: int) -> models.Model:
    """Delete a record the user may delete: it leaves every list, page and metric, and stays
    restorable for the restore period. The save goes through the model, so the field history
    records who deleted it and `updated_at` tells the analytics caches that the data changed."""
    entry = kind_of(kind)
    with transaction.atomic():
        record = entry.manageable(user).select_for_update(of=("self",)).filter(pk=pk, deleted_at__isnull=True).first()
        if record is None:
            raise NotFound(f"{entry.label} {pk} not found")
        children = children_of(kind, record)
        _refuse_others_records(user, entry, children)
        record.deleted_at, record.deleted_by = timezone.now(), user
        _save_with_new_version(record)
        for queryset in children.values():  # with the same moment: they come back with it, and only with it
            _mark(queryset, deleted_at=record.deleted_at, deleted_by=user)
    return record


def _refuse_others_records(user, entry: BinKind, children: dict[str, models.QuerySet]) -> None:
    """An account goes with its opportunities: not when one of them is someone else's to keep."""
    deals = children.get("opportunity")
    if deals is None:
        return
    others = deals.exclude(pk__in=KINDS["opportunity"].manageable(user).values("pk"))
    if others.exists():
        owners = sorted({str(o.owner) for o in others.select_related("owner")[:5] if o.owner})
        raise Refused(f"This {entry.label.lower()} holds {others.count()} opportunit{'y' if others.count() == 1 else 'ies'} "
                      f"of people outside your scope ({', '.join(owners) or 'no owner'}): they must be moved or deleted "
                      f"by whoever manages them first")


def _mark(queryset: models.QuerySet, **values) -> int:
    """Set the bin's fields on many records at once, with a new version where they have one and a
    new `updated_at` (the analytics caches key on it)."""
    model = queryset.model
    values["updated_at"] = timezone.now()
    if any(f.name == "version" for f in model._meta.concrete_fields):
        values["version"] = F("version") + 1
    return model.all_objects.filter(pk__in=list(queryset.values_list("pk", flat=True))).update(**values)


def _save_with_new_version(record: models.Model) -> None:
    """Going to the bin and coming back are changes: a record with a version gets a new one, so an
    edit form opened before the delete (or restore) is refused as stale instead of writing over it."""
    fields = ["deleted_at", "deleted_by", "updated_at"]
    if any(f.name == "version" for f in record._meta.concrete_fields):
        record.version = F("version") + 1
        fields.append("version")
    record.save(update_fields=fields)
    if "version" in fields:
        record.refresh_from_db(fields=["version"])


def restore(user, kind: str, pk: int, now: datetime | None = None) -> models.Model:
    """Bring a record back from the bin as it was (its fields and children were never touched)."""
    entry = kind_of(kind)
    now = now or timezone.now()
    with transaction.atomic():
        record = entry.manageable(user).select_for_update(of=("self",)).filter(pk=pk, deleted_at__isnull=False).first()
        if record is None:
            raise NotFound(f"{entry.label} {pk} is not in the recycle bin")
        if expires_at(record.deleted_at) <= now:
            raise RestorePeriodOver(
                f"{entry.label} {pk} was deleted on {record.deleted_at:%Y-%m-%d}; the recycle bin keeps records "
                f"{settings.RECYCLE_BIN_DAYS} days, so it can no longer be restored")
        parent = parent_in_bin(kind, record)
        if parent is not None:
            raise Refused(f"{entry.label} {pk} went to the recycle bin with {parent._meta.verbose_name} “{parent}”: "
                          f"restore that, and it comes back with it")
        deleted_at = record.deleted_at
        record.deleted_at, record.deleted_by = None, None
        _save_with_new_version(record)
        for child_kind in cascade_kinds(kind):  # what went with it, at the same moment
            went = KINDS[child_kind].model.all_objects.filter(went_with(kind, record, child_kind), deleted_at=deleted_at)
            _mark(went, deleted_at=None, deleted_by=None)
    return record


@dataclass(frozen=True)
class PurgeResult:
    counts: dict[str, int]  # records of each kind deleted for good (or that would be, on a dry run)
    dry_run: bool

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def purge_expired(*, dry_run: bool = False, now: datetime | None = None) -> PurgeResult:
    """Delete for good every record whose restore period is over (with its children, by the
    foreign keys' cascades), in one transaction; uploaded content files are removed once it commits."""
    cutoff = (now or timezone.now()) - retention()
    counts, files = {}, []
    with transaction.atomic():
        for key, entry in KINDS.items():
            expired = entry.all_records().filter(deleted_at__lte=cutoff)
            counts[key] = expired.count()
            if dry_run or not counts[key]:
                continue
            if key == "content":
                files += [name for name in expired.exclude(file="").values_list("file", flat=True)]
            expired.delete()
    if files:
        from django.core.files.storage import default_storage

        transaction.on_commit(lambda: [default_storage.delete(name) for name in files])
    return PurgeResult(counts=counts, dry_run=dry_run)

