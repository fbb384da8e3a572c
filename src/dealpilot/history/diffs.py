"""Field history of one record, as the pages and the API show it: newest first, each save with
who made it, when, and each field that changed (old -> new), computed by simple-history's
`diff_against` between consecutive historical records. One function for every record type."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models

from .baseline import BASELINE_REASON

HISTORY_LIMIT = 50
MAX_VALUE_CHARS = 200
IMPORTS_NOTE = "Changes from CRM imports are not listed here: they are listed under Imports (one entry per import run)."
BIN_FIELDS = {"deleted_at", "deleted_by"}  # shown as the entry's action, not as field changes


@dataclass(frozen=True)
class FieldChange:
    field: str  # the field's name
    label: str  # what the page calls it
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    user_id: int | None
    user: str  # the name of who made the change ("" where unknown: imports, scripts)
    action: str  # created, changed, moved to the recycle bin, restored, deleted, before the first recorded change
    changes: list[FieldChange] = field(default_factory=list)


def _display(model_field: models.Field, value: Any, related: dict) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(model_field, models.ForeignKey):
        key = (model_field.related_model, value)
        if key not in related:
            obj = model_field.related_model._base_manager.filter(pk=value).first()
            related[key] = str(obj) if obj is not None else f"#{value} (deleted)"
        return related[key]
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, (date, Decimal, int)):
        return str(value)
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _action(record, older) -> str:
    if record.history_type == "+":
        return "created"
    if record.history_type == "-":
        return "deleted for good"
    if record.history_change_reason == BASELINE_REASON:
        return "as it was before the first recorded change"
    if older is not None and hasattr(record, "deleted_at"):
        if older.deleted_at is None and record.deleted_at is not None:
            return "moved to the recycle bin"
        if older.deleted_at is not None and record.deleted_at is None:
            return "restored from the recycle bin"
    return "changed"


def field_history(instance: models.Model, limit: int = HISTORY_LIMIT) -> list[HistoryEntry]:
    """The last `limit` saves of `instance` that changed something, newest first. The caller has
    checked that the user may see the record."""
    history = getattr(instance, type(instance)._meta.simple_history_manager_attribute)
    records = list(history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1])
    if not records:
        return []
    model = type(instance)
    fields = {f.name for f in records[0].tracked_fields} - BIN_FIELDS - {model._meta.pk.name}
    related: dict = {}
    entries = []
    for i, record in enumerate(records[:limit]):
        older = records[i + 1] if i + 1 < len(records) else None
        action = _action(record, older)
        changes = []
        if older is not None and record.history_type == "~":
            delta = record.diff_against(older, included_fields=fields)
            for change in sorted(delta.changes, key=lambda c: c.field):
                model_field = model._meta.get_field(change.field)
                changes.append(FieldChange(field=change.field, label=str(model_field.verbose_name).capitalize(),
                                           old=_display(model_field, change.old, related),
                                           new=_display(model_field, change.new, related)))
        if action == "changed" and not changes:
            continue  # a save that changed nothing tracked (or the oldest save we kept)
        user = record.history_user
        entries.append(HistoryEntry(at=record.history_date, user_id=user.pk if user else None,
                                    user=str(user) if user else "", action=action, changes=changes))
    return entries


def history_context(instance: models.Model) -> dict:
    """What `history/_panel.html` needs."""
    return {"field_history": field_history(instance), "field_history_limit": HISTORY_LIMIT}
