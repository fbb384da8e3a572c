"""What deal intelligence reads about a set of deals, loaded in a fixed number of queries (one per
kind of record, never one per deal), and cut "as of" a date.

The same `DealState` feeds the signals shown today and the win model's training snapshots of
closed deals, so a closed deal is described exactly as it looked at the snapshot date: only the
stage changes, activities and qualification answers dated before it count.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterable

from django.db.models import QuerySet
from django.utils import timezone

from dealpilot.crm.models import Activity, LineItem, Opportunity, OpportunityContactRole, StageHistory
from dealpilot.crm.visibility import BUYER_TOUCH

from .models import QualificationAnswerChange

CHUNK = 2000  # ids per IN (...) query: well under SQLite's and PostgreSQL's parameter limits

DECISION_ROLES = frozenset({"decision_maker", "economic_buyer", "executive_sponsor"})


@dataclass(slots=True)
class StageStep:
    stage: str
    on: date
    close_date: date | None
    amount: float | None


@dataclass(slots=True)
class Touch:
    """An activity on the deal."""

    on: date
    kind: str
    direction: str
    contact_id: int | None


@dataclass(slots=True)
class DealRecord:
    id: int
    name: str
    owner_id: int | None
    account_id: int | None
    stage: str
    amount: float | None
    currency: str
    created: date | None
    close_date: date | None
    is_closed: bool
    is_won: bool
    source: str
    rep_probability: float | None
    product: str = ""
    steps: list[StageStep] = field(default_factory=list)
    touches: list[Touch] = field(default_factory=list)
    roles: dict[int, str] = field(default_factory=dict)  # contact id -> role (the first one recorded)
    contact_names: dict[int, str] = field(default_factory=dict)
    answer_changes: list[tuple[datetime, str, str]] = field(default_factory=list)  # (when, question key, new value)


@dataclass(slots=True)
class DealState:
    """A deal as it stood on `as_of`."""

    record: DealRecord
    as_of: date
    stage: str
    steps: list[StageStep]
    touches: list[Touch]
    answers: dict[str, str]
    amount: float | None
    close_date: date | None

    @property
    def age_days(self) -> int | None:
        return (self.as_of - self.record.created).days if self.record.created else None


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def _day(value) -> date:
    return timezone.localdate(value) if isinstance(value, datetime) else value


def load_records(opportunities: QuerySet[Opportunity] | Iterable[int]) -> dict[int, DealRecord]:
    """The deals with their stage path, activities, contact roles, lead product and answer history."""
    if isinstance(opportunities, QuerySet):
        rows = list(opportunities.values("id", "name", "owner_id", "account_id", "stage", "amount", "currency", "created_date",
                                         "close_date", "is_closed", "is_won", "source", "probability"))
    else:
        ids = list(opportunities)
        rows = []
        for chunk in _chunks(ids):
            rows.extend(Opportunity.objects.filter(id__in=chunk).values(
                "id", "name", "owner_id", "account_id", "stage", "amount", "currency", "created_date", "close_date", "is_closed",
                "is_won", "source", "probability"))
    records = {
        r["id"]: DealRecord(
            id=r["id"], name=r["name"], owner_id=r["owner_id"], account_id=r["account_id"], stage=r["stage"],
            amount=float(r["amount"]) if r["amount"] is not None else None, currency=r["currency"], created=r["created_date"],
            close_date=r["close_date"], is_closed=r["is_closed"], is_won=r["is_won"], source=r["source"] or "",
            rep_probability=float(r["probability"]) / 100 if r["probability"] is not None else None)
        for r in rows
    }
    ids = sorted(records)
    for chunk in _chunks(ids):
        for opp_id, stage, changed_at, close_date, amount in (
                StageHistory.objects.filter(opportunity_id__in=chunk).order_by("opportunity_id", "changed_at", "id")
                .values_list("opportunity_id", "stage", "changed_at", "close_date", "amount")):
            records[opp_id].steps.append(StageStep(stage, _day(changed_at), close_date,
                                                   float(amount) if amount is not None else None))
        for opp_id, on, kind, direction, contact_id in (
                Activity.objects.filter(BUYER_TOUCH, opportunity_id__in=chunk).order_by("opportunity_id", "activity_date", "id")
                .values_list("opportunity_id", "activity_date", "kind", "direction", "contact_id")):
            records[opp_id].touches.append(Touch(on, kind, direction, contact_id))
        for opp_id, contact_id, role, first, last in (
                OpportunityContactRole.objects.filter(opportunity_id__in=chunk).order_by("opportunity_id", "-is_primary", "id")
                .values_list("opportunity_id", "contact_id", "role", "contact__first_name", "contact__last_name")):
            rec = records[opp_id]
            rec.roles.setdefault(contact_id, role)
            rec.contact_names[contact_id] = f"{first} {last}".strip()
        best: dict[int, float] = {}
        for opp_id, name, total in (LineItem.objects.filter(opportunity_id__in=chunk)
                                    .values_list("opportunity_id", "product__name", "total_price")):
            value = float(total or 0)
            if opp_id not in best or value > best[opp_id]:
                best[opp_id] = value
                records[opp_id].product = name
        for opp_id, changed_at, key, value in (
                QualificationAnswerChange.objects.filter(opportunity_id__in=chunk).order_by("changed_at", "id")
                .values_list("opportunity_id", "changed_at", "question__key", "new_value")):
            records[opp_id].answer_changes.append((changed_at, key, value))
    return records


def contact_names(records: dict[int, DealRecord]) -> None:
    """Fill the names of contacts met in activities but without a role (for evidence texts)."""
    from dealpilot.crm.models import Contact

    missing = {t.contact_id for r in records.values() for t in r.touches if t.contact_id and t.contact_id not in r.contact_names}
    names = {}
    for chunk in _chunks(sorted(missing)):
        for cid, first, last in Contact.objects.filter(id__in=chunk).values_list("id", "first_name", "last_name"):
            names[cid] = f"{first} {last}".strip()
    for r in records.values():
        for t in r.touches:
            if t.contact_id and t.contact_id not in r.contact_names and t.contact_id in names:
                r.contact_names[t.contact_id] = names[t.contact_id]


def state_as_of(record: DealRecord, as_of: date) -> DealState:
    """The deal on `as_of`: stage changes and activities up to that day, answers given by its end."""
    days = [s.on for s in record.steps]
    steps = record.steps[:bisect_right(days, as_of)]
    touches = [t for t in record.touches if t.on <= as_of]
    answers: dict[str, str] = {}
    for when, key, value in record.answer_changes:
        if _day(when) <= as_of:
            if value:
                answers[key] = value
            else:
                answers.pop(key, None)
    if record.is_closed:
        # never the final stage or the close-time amount of a closed deal: only what history says
        stage = steps[-1].stage if steps else ""
        amount = next((s.amount for s in reversed(steps) if s.amount is not None), None)
        close_date = next((s.close_date for s in reversed(steps) if s.close_date is not None), None)
    else:
        stage, amount, close_date = record.stage, record.amount, record.close_date
    return DealState(record=record, as_of=as_of, stage=stage, steps=steps, touches=touches, answers=answers, amount=amount,
                     close_date=close_date)


def current_state(record: DealRecord, today: date | None = None) -> DealState:
    return state_as_of(record, today or timezone.localdate())


def group_by(items: Iterable, key) -> dict:
    out = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return out
