"""The field history over JSON: the same entries the pages show."""

from datetime import datetime

from ninja import Schema

from .diffs import HISTORY_LIMIT, IMPORTS_NOTE, field_history


class FieldChangeOut(Schema):
    field: str
    label: str
    old: str
    new: str


class HistoryEntryOut(Schema):
    at: datetime
    user_id: int | None
    user: str
    action: str
    changes: list[FieldChangeOut]


class HistoryOut(Schema):
    entries: list[HistoryEntryOut]
    limit: int
    note: str


def history_out(instance) -> dict:
    """The API answer for one record the caller may see."""
    return {"entries": field_history(instance), "limit": HISTORY_LIMIT, "note": IMPORTS_NOTE}
