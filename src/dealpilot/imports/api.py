"""Re-import conflicts and field owners over JSON (administrators only; others 403, no login 401).

A conflict is a field that both the CRM and dealpilot changed since the last import (imports/sync.py);
the import applied the field's owner and kept the other value in the conflict until an admin resolves it."""

from datetime import datetime
from typing import Literal

from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from dealpilot.api_types import RecordId

from . import selectors, services

router = Router(tags=["imports"])


class Problem(Schema):
    detail: str


class ConflictOut(Schema):
    id: int
    target: str = Field(description="The kind of record: account, contact, opportunity, activity")
    record_id: int
    crm_id: str
    record_label: str
    field: str
    imported_before: str | None = Field(description="The CRM's value as the previous import wrote it")
    crm_value: str | None = Field(description="The CRM's value in this import")
    dealpilot_value: str | None = Field(description="The value dealpilot held when the import ran")
    kept: Literal["crm", "dealpilot"] = Field(description="Whose value the import left in the record (the field's owner)")
    import_run_id: int | None
    created_at: datetime
    resolution: Literal["", "crm", "dealpilot"]
    resolved_by_id: int | None
    resolved_at: datetime | None


class ConflictFilters(Schema):
    state: Literal["open", "resolved", "all"] = "open"
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=10_000_000)


class ConflictsOut(Schema):
    count: int
    conflicts: list[ConflictOut]


class ResolveIn(Schema):
    keep: Literal["crm", "dealpilot"] = Field(description="Keep the CRM's value or dealpilot's")


class FieldOwnerOut(Schema):
    target: str
    field: str
    owner: Literal["crm", "dealpilot"]


class FieldOwnerIn(Schema):
    target: str = Field(max_length=40)
    field: str = Field(max_length=80)
    owner: Literal["crm", "dealpilot"]


def _admin(request) -> None:
    if not services.is_sync_admin(request.user):
        raise HttpError(403, "Only administrators resolve import conflicts and set field owners.")


@router.get("/conflicts", response={200: ConflictsOut, 403: Problem})
def list_conflicts(request, filters: Query[ConflictFilters]):
    """The re-import conflicts, newest first (open ones by default)."""
    _admin(request)
    queryset = selectors.conflicts(filters.state)
    return {"count": queryset.count(), "conflicts": list(queryset[filters.offset:filters.offset + filters.limit])}


@router.post("/conflicts/{conflict_id}/resolve", response={200: ConflictOut, 400: Problem, 403: Problem, 404: Problem, 409: Problem})
def resolve_conflict(request, conflict_id: RecordId, payload: ResolveIn):
    """Keep the CRM's value or dealpilot's: written to the record (version bumped, field history kept) when it
    holds the other one. 404: no such conflict; 409: already resolved."""
    _admin(request)
    try:
        return services.resolve_conflict(request.user, conflict_id, payload.keep)
    except services.ConflictNotFound as exc:
        raise HttpError(404, str(exc)) from None
    except services.AlreadyResolved as exc:
        raise HttpError(409, str(exc)) from None
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None


@router.get("/field-owners", response={200: list[FieldOwnerOut], 403: Problem})
def list_field_owners(request):
    """Every CRM field of the records people edit in dealpilot, and who wins it when both sides changed it."""
    _admin(request)
    return selectors.field_owners()


@router.put("/field-owners", response={200: FieldOwnerOut, 400: Problem, 403: Problem})
def set_field_owner(request, payload: FieldOwnerIn):
    """Set a field's owner: "crm" (the default: the CRM's value is written, dealpilot's kept in the conflict) or
    "dealpilot" (dealpilot's value stays, the CRM's is kept in the conflict)."""
    _admin(request)
    try:
        owner = services.set_field_owner(request.user, payload.target, payload.field, payload.owner)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    return {"target": payload.target, "field": payload.field, "owner": owner}
