"""Optimistic concurrency: a write is accepted only when the caller saw the record's current
version, so a change made by someone else in the meantime is never silently overwritten.

Opportunities, account plans and content modules carry a `version` (1, 2, 3, ...). Readers get it
(API: the body and an `ETag: "<version>"` header; forms: a hidden field) and send it back with
their write (API: `If-Match`; forms: the hidden field). The check and the bump are ONE conditional
UPDATE (`... WHERE pk = %s AND version = %s`), so of two writers who saw the same version exactly
one wins, also when both are truly concurrent: PostgreSQL makes the second UPDATE wait for the
first's row lock and then re-checks its WHERE against the committed row (0 rows); SQLite lets one
writer at a time. A read-compare-write in Python would let both win.

A write without a version (no If-Match, an old script) is accepted: last write wins, and the
version is still bumped so that every form opened before it becomes stale.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from ninja import Schema


class StaleWrite(Exception):
    """The record changed since the caller loaded it (answered 409 by the API, a message on pages).
    Nothing of the refused write is saved."""

    def __init__(self, label: str, *, current_version: int, expected_version: int, changed_at: datetime | None = None,
                 changed_by=None):
        self.label = label
        self.current_version = current_version
        self.expected_version = expected_version
        self.changed_at = changed_at
        self.changed_by = changed_by
        super().__init__(self.message)

    @property
    def message(self) -> str:
        by = f" by {self.changed_by}" if self.changed_by else ""
        at = f" at {timezone.localtime(self.changed_at):%Y-%m-%d %H:%M}" if self.changed_at else ""
        last = f" Last change{by}{at}." if by or at else ""
        return (f"This {self.label} was changed since you loaded it (now version {self.current_version}, you had "
                f"{self.expected_version}).{last} Reload and apply your change again.")


class BadVersion(ValueError):
    """An If-Match header or version field that is not a version number (a 400)."""


_VERSION = re.compile(r'^\s*(?:W/)?"?\s*(\d{1,9})\s*"?\s*$')


def parse_version(raw: str | int | None) -> int | None:
    """The version a caller expects, from an If-Match header (`"3"`, `3`, `W/"3"`) or a form field.
    None (empty, absent, or `*`) means the caller sends none: last write wins."""
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        if raw < 1:
            raise BadVersion("a version is a positive number")
        return raw
    raw = raw.strip()
    if raw in ("", "*"):
        return None
    match = _VERSION.match(raw)
    if match is None or int(match.group(1)) < 1:
        raise BadVersion(f"{raw[:40]!r} is not a version: send the ETag you received, e.g. If-Match: \"3\"")
    return int(match.group(1))


def etag(version: int) -> str:
    return f'"{version}"'


def _label(model: type[models.Model]) -> str:
    return str(model._meta.verbose_name)


def _has_updated_at(model: type[models.Model]) -> bool:
    return any(f.name == "updated_at" for f in model._meta.concrete_fields)


def _stale(queryset: models.QuerySet, expected_version: int, label: str | None) -> StaleWrite | None:
    """Why a conditional UPDATE matched nothing: a StaleWrite, or None when the record is gone."""
    model = queryset.model
    fields = ["version"] + (["updated_at"] if _has_updated_at(model) else [])
    row = queryset.order_by().values(*fields).first()
    if row is None:
        return None
    return StaleWrite(label or _label(model), current_version=row["version"], expected_version=expected_version,
                      changed_at=row.get("updated_at"))


def _one_row(target) -> tuple[models.QuerySet, models.Model | None]:
    if isinstance(target, models.Model):
        return type(target)._default_manager.filter(pk=target.pk), target
    return target, None


def save_if_current(target, expected_version: int | None, *, label: str | None = None, **changes) -> int:
    """Write `changes` to one record and bump its version, only if its version still equals
    `expected_version` (None: unconditionally). Returns the new version; raises `StaleWrite`
    (nothing written) when someone else changed the record first, and the model's DoesNotExist
    when it is gone.

    `target` is a one-row queryset (the changes go into the conditional UPDATE itself) or a model
    instance: then the conditional UPDATE claims the row (bumps the version, holds the row until
    the transaction ends), the instance is reloaded, gets `changes` and is saved with `save()`, so
    that signals (e.g. field history) see an ordinary save. Call it inside `transaction.atomic()`
    when other writes belong to the same change: a StaleWrite then rolls them back too.
    """
    queryset, instance = _one_row(target)
    model = queryset.model
    stamp = {"updated_at": timezone.now()} if _has_updated_at(model) and "updated_at" not in changes else {}
    with transaction.atomic():
        guarded = queryset if expected_version is None else queryset.filter(version=expected_version)
        in_update = changes if instance is None else {}
        if guarded.update(version=F("version") + 1, **stamp, **in_update) != 1:
            stale = _stale(queryset, expected_version, label) if expected_version is not None else None
            if stale is None:
                raise model.DoesNotExist(f"{_label(model)} not found")
            raise stale
        # our own UPDATE holds the row until the transaction ends: this reads our version
        version = expected_version + 1 if expected_version is not None else queryset.values_list("version", flat=True).get()
        if instance is not None:
            instance.refresh_from_db()
            for name, value in changes.items():
                setattr(instance, name, value)
            instance.save()
    return version


def hold_if_current(queryset: models.QuerySet, expected_version: int | None, *, label: str | None = None) -> None:
    """Inside a transaction, before a change made of several writes (an account plan's parts):
    check that the record is still at `expected_version` and hold its row until the transaction
    ends, so no other writer can slip in between the check and the writes. One conditional UPDATE
    that leaves the version as it is (the writes bump it). None: nothing to check."""
    if expected_version is None:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("hold_if_current() protects the rest of a transaction: call it inside transaction.atomic()")
    if queryset.filter(version=expected_version).update(version=F("version")) != 1:
        stale = _stale(queryset, expected_version, label)
        if stale is None:
            raise queryset.model.DoesNotExist(f"{_label(queryset.model)} not found")
        raise stale


def if_match(request) -> int | None:
    """The version an API caller expects, from its If-Match header (BadVersion when malformed)."""
    return parse_version(request.headers.get("If-Match"))


class Conflict(Schema):
    """The API's answer to a stale write (409), in the OpenAPI schema of every write that checks a version."""

    detail: str
    current_version: int
