"""The recycle bin over JSON: what the caller may restore, and restoring it. Deleting is each
record's own `DELETE` route (opportunities, accounts, contacts, activities, account plans, content modules)."""

from datetime import datetime
from typing import Literal

from ninja import Router, Schema
from ninja.errors import HttpError

from . import selectors, services
from .registry import KINDS

router = Router(tags=["recycle bin"])
BinKindKey = Literal[tuple(KINDS)]  # type: ignore[valid-type]  (the schema lists the kinds)


class BinEntryOut(Schema):
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


class BinOut(Schema):
    retention_days: int
    entries: list[BinEntryOut]


class RestoredOut(Schema):
    kind: str
    id: int
    title: str
    url: str


class Message(Schema):
    detail: str


def deleted_answer(user, kind: str, pk: int) -> dict:
    """What a `DELETE` route answers: the record as it now stands in the bin."""
    try:
        record = services.move_to_bin(user, kind, pk)
    except services.NotFound as exc:
        raise HttpError(404, str(exc)) from None
    except services.Refused as exc:
        raise HttpError(409, str(exc)) from None
    return selectors.bin_entry(kind, record)


@router.get("", response=BinOut)
def list_bin(request):
    return {"retention_days": selectors.retention_days(), "entries": selectors.bin_entries(request.user)}


@router.post("/{kind}/{record_id}/restore", response={200: RestoredOut, 404: Message, 409: Message, 410: Message})
def restore(request, kind: BinKindKey, record_id: int):
    try:
        record = services.restore(request.user, kind, record_id)
    except services.NotFound as exc:
        raise HttpError(404, str(exc)) from None
    except services.RestorePeriodOver as exc:
        raise HttpError(410, str(exc)) from None
    except services.Refused as exc:  # it went to the bin with its account (or contact): restore that
        raise HttpError(409, str(exc)) from None
    return {"kind": kind, "id": record.pk, "title": str(record), "url": services.kind_of(kind).page_url(record)}
