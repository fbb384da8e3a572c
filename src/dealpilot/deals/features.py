"""The win model's features: what was known about a deal on a given day, never after.

A closed deal becomes training rows at snapshot days strictly before its close (a quarter, half
and three quarters of the way through its life): its stage, amount and expected close date come
from the stage history up to that day, its activities and qualification answers are those dated
by then, the rep's and the account's track records count only deals closed before it. Nothing is
read from the final stage, the close date or the close-time amount of a closed deal.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from .knowledge import RuleSpec, context_of, evaluate_rules
from .models import QualificationQuestion, SignalSettings
from .records import DECISION_ROLES, DealRecord, DealState, state_as_of
from .signals import CORE_GROUPS, BUYING_GROUP, StageNorms, close_date_slips, days_in_stage, gatekeeper_stall, moves_back, \
    vulnerabilities

SNAPSHOT_FRACTIONS = (0.25, 0.5, 0.75)
PRIOR_WEIGHT = 5.0  # track records are shrunk toward the base rate, as if 5 average deals came first

NUMERIC = ("log_amount", "age_days", "stage_rank", "stage_changes", "days_in_stage", "moves_back", "close_slips",
           "days_to_close", "activities", "activities_30d", "meetings", "days_since_activity", "contacts_engaged",
           "decision_maker_engaged", "core_roles_engaged", "gatekeeper_followups", "rep_closed", "rep_win_rate",
           "account_closed", "account_win_rate", "rule_score")
CATEGORICAL = ("stage", "source", "product")


@dataclass
class TrackRecords:
    """Closed deals per rep and per account, sorted by close date, to count those before a day."""

    base_rate: float
    by_owner: dict[int, tuple[list[date], list[int]]]
    by_account: dict[int, tuple[list[date], list[int]]]

    @classmethod
    def from_db(cls) -> TrackRecords:
        """From every closed deal's owner, account, close date and outcome (one query)."""
        from dealpilot.crm.models import Opportunity

        return cls.from_rows(Opportunity.objects.filter(is_closed=True, close_date__isnull=False)
                             .values_list("owner_id", "account_id", "close_date", "is_won"))

    @classmethod
    def from_rows(cls, rows) -> TrackRecords:
        """`rows`: (owner id, account id, close date, won) of closed deals."""
        rows = [r for r in rows if r[2] is not None]
        base = sum(bool(r[3]) for r in rows) / len(rows) if rows else 0.2

        def index(position):
            grouped = defaultdict(list)
            for r in rows:
                k = r[position]
                if k is not None:
                    grouped[k].append((r[2], int(bool(r[3]))))
            out = {}
            for k, items in grouped.items():
                items.sort()
                days, won = [d for d, _ in items], []
                total = 0
                for _, w in items:
                    total += w
                    won.append(total)  # cumulative wins
                out[k] = (days, won)
            return out

        return cls(base, index(0), index(1))

    def _before(self, table, key, day: date) -> tuple[int, float]:
        if key is None or key not in table:
            return 0, self.base_rate
        days, cumulative = table[key]
        n = bisect_left(days, day)
        wins = cumulative[n - 1] if n else 0
        return n, (wins + PRIOR_WEIGHT * self.base_rate) / (n + PRIOR_WEIGHT)

    def rep(self, owner_id, day):
        return self._before(self.by_owner, owner_id, day)

    def account(self, account_id, day):
        return self._before(self.by_account, account_id, day)


@dataclass
class FeatureContext:
    questions: list[str]
    rules: list[RuleSpec]
    settings: SignalSettings
    norms: StageNorms
    tracks: TrackRecords

    @classmethod
    def build(cls, rules, settings, norms, tracks: TrackRecords | None = None) -> FeatureContext:
        questions = list(QualificationQuestion.objects.filter(is_active=True).values_list("key", flat=True))
        return cls(questions, rules, settings, norms, tracks or TrackRecords.from_db())

    @property
    def columns(self) -> list[str]:
        return [*NUMERIC, *CATEGORICAL, *(f"q:{k}" for k in self.questions)]

    @property
    def categorical(self) -> list[str]:
        return [*CATEGORICAL, *(f"q:{k}" for k in self.questions)]


def rule_context(state: DealState, codes: list[str]) -> dict[str, str]:
    return context_of(state.answers, codes, {"source": state.record.source})


def features(state: DealState, ctx: FeatureContext, *, signal_codes: list[str] | None = None) -> dict:
    """One row of features for a deal as it stood on `state.as_of`."""
    rec, day = state.record, state.as_of
    roles = rec.roles
    touches = state.touches
    engaged = {t.contact_id for t in touches if t.contact_id}
    engaged_groups = {code for code, _, rs in BUYING_GROUP for c in engaged if roles.get(c) in rs}
    last = touches[-1].on if touches else None
    stall = gatekeeper_stall(state, 1)
    if signal_codes is None:
        signal_codes = [v.code for v in vulnerabilities(state, ctx.settings, ctx.norms)]
    score, _ = evaluate_rules(ctx.rules, rule_context(state, signal_codes))
    rep_n, rep_rate = ctx.tracks.rep(rec.owner_id, day)
    acc_n, acc_rate = ctx.tracks.account(rec.account_id, day)
    cutoff = day - timedelta(days=30)
    row = {
        "log_amount": math.log1p(state.amount) if state.amount is not None and state.amount >= 0 else math.nan,
        "age_days": state.age_days if state.age_days is not None else math.nan,
        "stage_rank": ctx.norms.rank(state.stage) if state.stage in ctx.norms.order else math.nan,
        "stage_changes": len(state.steps),
        "days_in_stage": days_in_stage(state) if state.steps else math.nan,
        "moves_back": len(moves_back(state, ctx.norms)),
        "close_slips": len(close_date_slips(state)),
        "days_to_close": (state.close_date - day).days if state.close_date else math.nan,
        "activities": len(touches),
        "activities_30d": sum(1 for t in touches if t.on > cutoff),
        "meetings": sum(1 for t in touches if t.kind == "meeting"),
        "days_since_activity": (day - last).days if last else math.nan,
        "contacts_engaged": len(engaged),
        "decision_maker_engaged": int(any(roles.get(c) in DECISION_ROLES for c in engaged)),
        "core_roles_engaged": len(engaged_groups & set(CORE_GROUPS)),
        "gatekeeper_followups": stall[1] if stall else 0,
        "rep_closed": rep_n,
        "rep_win_rate": rep_rate,
        "account_closed": acc_n,
        "account_win_rate": acc_rate,
        "rule_score": score,
        "stage": state.stage,
        "source": rec.source,
        "product": rec.product,
    }
    for key in ctx.questions:
        row[f"q:{key}"] = state.answers.get(key, "")
    return row


def snapshot_days(rec: DealRecord) -> list[date]:
    """Days strictly before a closed deal's close on which to describe it for training."""
    start = rec.created or (rec.steps[0].on if rec.steps else None)
    end = rec.close_date
    if start is None or end is None or (end - start).days < 2:
        return []
    span = (end - start).days
    return sorted({start + timedelta(days=max(1, min(span - 1, int(span * f)))) for f in SNAPSHOT_FRACTIONS})


def training_rows(records: dict[int, DealRecord], ctx: FeatureContext) -> tuple[list[dict], list[int], list[int], list[date]]:
    """Rows, labels (1 won), deal ids and the deals' close dates (for the time-ordered split)."""
    rows, labels, ids, closes = [], [], [], []
    for rec in records.values():
        if not rec.is_closed:
            continue
        for day in snapshot_days(rec):
            rows.append(features(state_as_of(rec, day), ctx))
            labels.append(int(rec.is_won))
            ids.append(rec.id)
            closes.append(rec.close_date)
    return rows, labels, ids, closes
