"""Read paths of the forecast: whose forecast a caller may open, a person's forecast for a period (their
deals with categories, their call, the model's forecast with its range, the stage-weighted forecast, the
target and the gap) and, for managers and leaders, the roll-up of the people and teams below them.

Access: a person's forecast is open to whoever may see that person's records (`User.objects.visible_to`:
themselves, the managers above them, leaders and admins); a person is a rep, a manager or a leader
(`FORECAST_ROLES`). Everything else answers None, which the pages and the API turn into a 404.

A person's forecast covers their scope (`owner_scope`): a rep their own deals, a manager their team's
subtree and their own deals, a leader everything. The roll-up splits it along the team tree
(`crm.Team.parent`): the people of the person's own team, and each team below it under its manager
(a team without a manager: its people and the teams below it, one level up).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from dealpilot.crm.models import Opportunity, Role, SalesTarget, Team, User
from dealpilot.crm.visibility import owner_scope, team_subtree_ids

from .models import CallKind, CategoryChange, ForecastCall, ForecastSnapshot
from .rollup import (
    CATEGORY_LABELS,
    NOTHING,
    Derived,
    Outcome,
    Period,
    crm_category,
    derive,
    outcome_range,
    week_of,
)

FORECAST_ROLES = (Role.REP, Role.MANAGER, Role.LEADER)
NO_OWNER = "No owner"
OTHERS = "Others (not in a sales role, or inactive)"
EVERYONE = "Everyone"


# ---- who ---------------------------------------------------------------------------------------------


def forecast_people(viewer) -> QuerySet[User]:
    """The people whose forecast `viewer` may open."""
    return User.objects.visible_to(viewer).filter(role__in=FORECAST_ROLES, is_active=True)


def subject_for(viewer, user_id: int) -> User | None:
    """The person `user_id` if `viewer` may open their forecast, else None (a 404)."""
    return forecast_people(viewer).select_related("team").filter(pk=user_id).first()


def home_subject(viewer) -> User | None:
    """Whose forecast /forecast/ opens: the caller's own, or for an administrator the sales leader's."""
    if viewer.role in FORECAST_ROLES and viewer.is_active:
        return viewer
    if viewer.sees_everything:
        return forecast_people(viewer).filter(role=Role.LEADER).order_by("id").first()
    return None


def scope_of(person: User) -> set[int] | None:
    """The owners of the deals a person's forecast covers; None: every deal (leaders)."""
    scope = owner_scope(person)
    return None if scope is None else set(scope.values_list("id", flat=True))


def may_override(actor: User, person: User) -> bool:
    """A manager above the person (their team subtree), a sales leader or an administrator; never oneself."""
    if actor.pk == person.pk or not actor.is_active:
        return False
    if actor.sees_everything:
        return True
    return actor.role == Role.MANAGER and forecast_people(actor).filter(pk=person.pk).exists()


# ---- deals and their categories --------------------------------------------------------------------


@dataclass
class DealRow:
    id: int
    name: str
    account: str
    owner_id: int | None
    owner: str
    stage: str
    amount: Decimal | None
    currency: str
    close_date: date | None
    is_closed: bool
    is_won: bool
    crm_category: str  # the CRM's text, as imported
    category: str  # pipeline, best_case, commit, closed, omitted
    category_version: int = 1  # 1 + the latest change's seq (1: never set in dealpilot)
    category_set_by: str = ""
    category_set_at: datetime | None = None
    category_note: str = ""
    category_is_override: bool = False
    probability: float | None = None  # the calibrated win probability (0..1)
    probability_method: str = ""  # model, rules (stored), or scored now
    rep_probability: float | None = None

    @property
    def status(self) -> str:
        return "open" if not self.is_closed else "won" if self.is_won else "lost"

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category)

    @property
    def weighted(self) -> float:
        return (self.probability or 0.0) * float(self.amount or 0)


def _deal_queryset(owner_ids: set[int] | None, period: Period):
    qs = Opportunity.objects.filter(close_date__gte=period.start, close_date__lte=period.end)
    return qs if owner_ids is None else qs.filter(owner_id__in=owner_ids)


def latest_category_changes(opportunities) -> dict[int, CategoryChange]:
    """The latest category change of each of the opportunities (a queryset or ids)."""
    latest: dict[int, CategoryChange] = {}
    for change in (CategoryChange.objects.filter(opportunity__in=opportunities).select_related("changed_by")
                   .order_by("opportunity_id", "seq")):
        latest[change.opportunity_id] = change
    return latest


def current_category(opportunity: Opportunity, change: CategoryChange | None) -> str:
    if opportunity.is_closed or change is None:
        return crm_category(opportunity.forecast_category, is_closed=opportunity.is_closed, is_won=opportunity.is_won)
    return change.category


def load_deals(owner_ids: set[int] | None, period: Period, *, score_missing: bool = True) -> list[DealRow]:
    """The deals of those owners (None: everyone's) closing in the period, with category and probability."""
    qs = _deal_queryset(owner_ids, period).select_related("owner", "account", "win_score").order_by("close_date", "id")
    opportunities = list(qs)
    changes = latest_category_changes(qs.values("id"))
    rows = []
    for o in opportunities:
        change = changes.get(o.pk)
        score = getattr(o, "win_score", None) if not o.is_closed else None
        row = DealRow(
            id=o.pk, name=str(o), account=o.account.name if o.account else "", owner_id=o.owner_id,
            owner=str(o.owner) if o.owner else NO_OWNER, stage=o.stage, amount=o.amount, currency=o.currency,
            close_date=o.close_date, is_closed=o.is_closed, is_won=o.is_won, crm_category=o.forecast_category,
            category=current_category(o, change),
            probability=score.probability if score is not None else None,
            probability_method=score.method if score is not None else "",
            rep_probability=float(o.probability) / 100 if o.probability is not None else None)
        if change is not None:
            row.category_version = change.seq + 1
            row.category_set_by = str(change.changed_by) if change.changed_by else ""
            row.category_set_at = change.changed_at
            row.category_note = change.note
            row.category_is_override = change.is_override
        rows.append(row)
    if score_missing:
        _score_now([r for r in rows if not r.is_closed and r.probability is None])
    return rows


def _score_now(rows: list[DealRow]) -> None:
    """Open deals without a stored win probability are scored in memory (stored by the snapshot job and
    the deals app, never by a read)."""
    if not rows:
        return
    from dealpilot.deals.records import load_records
    from dealpilot.deals.scoring import score_records, scoring_context

    _, scores = score_records(load_records([r.id for r in rows]), scoring_context())
    found = {s.opportunity_id: s for s in scores}
    for r in rows:
        if r.id in found:
            r.probability = found[r.id].probability
            r.probability_method = f"{found[r.id].method}, scored now"


# ---- calls --------------------------------------------------------------------------------------------


@dataclass
class CallState:
    """A person's calls for a period: their latest own call, the latest override of it (an override
    stands until a newer one), and the forecast's version (1 + the latest row's seq; 1: no call yet)."""

    own: ForecastCall | None = None
    override: ForecastCall | None = None
    version: int = 1
    last: ForecastCall | None = None

    @property
    def effective(self) -> ForecastCall | None:
        return self.override or self.own

    @property
    def changed_after_override(self) -> bool:
        """The person submitted again after being overridden (the override still stands)."""
        return bool(self.own and self.override and self.own.seq > self.override.seq)


def call_states(people: list[int], period: Period) -> dict[int, CallState]:
    states: dict[int, CallState] = defaultdict(CallState)
    for call in (ForecastCall.objects.filter(person_id__in=people, period_start=period.start, period_end=period.end)
                 .select_related("submitted_by", "person").order_by("person_id", "seq")):
        state = states[call.person_id]
        state.version = call.seq + 1
        state.last = call
        if call.kind == CallKind.OVERRIDE:
            state.override = call
        else:
            state.own = call
    return states


def call_history(person: User, period: Period) -> list[ForecastCall]:
    return list(ForecastCall.objects.filter(person=person, period_start=period.start, period_end=period.end)
                .select_related("submitted_by").order_by("-seq"))


# ---- the model's forecast -------------------------------------------------------------------------------


@dataclass
class ModelForecast:
    """Won so far in the period + the open deals closing in it at their calibrated probability, with
    the P10-P90 range of that sum."""

    won: float
    won_deals: int
    open_deals: int
    open_amount: float
    outcome: Outcome  # of the open deals alone
    no_amount: int = 0
    methods: dict = field(default_factory=dict)  # how many deals scored by the model, by the rules, now

    @property
    def expected(self) -> float:
        return round(self.won + self.outcome.expected, 2)

    @property
    def p10(self) -> float:
        return round(self.won + self.outcome.p10, 2)

    @property
    def p50(self) -> float:
        return round(self.won + self.outcome.p50, 2)

    @property
    def p90(self) -> float:
        return round(self.won + self.outcome.p90, 2)

    def as_dict(self) -> dict:
        return {"expected": self.expected, "p10": self.p10, "p50": self.p50, "p90": self.p90, "won": round(self.won, 2),
                "won_deals": self.won_deals, "open_deals": self.open_deals, "open_amount": round(self.open_amount, 2),
                "deals_without_amount": self.no_amount, "range_method": self.outcome.method,
                "range_resolution": self.outcome.resolution, "probabilities": dict(self.methods)}


def model_forecast(deals: list[DealRow]) -> ModelForecast:
    won = [d for d in deals if d.is_won]
    open_ = [d for d in deals if not d.is_closed]
    methods = Counter(("scored now" if "now" in d.probability_method else d.probability_method or "none") for d in open_)
    return ModelForecast(won=float(sum((d.amount or 0) for d in won)), won_deals=len(won), open_deals=len(open_),
                         open_amount=float(sum((d.amount or 0) for d in open_)),
                         outcome=outcome_range([(d.probability or 0.0, d.amount) for d in open_]),
                         no_amount=sum(1 for d in open_ if not d.amount), methods=dict(methods))


def model_history() -> dict:
    """What the calibrated probabilities rest on: the active win model's training, else the closed deals
    behind the stage win rates and rules."""
    from dealpilot.deals.scoring import active_run

    closed = Opportunity.objects.filter(is_closed=True).aggregate(n=Count("id"), won=Count("id", filter=Q(is_won=True)))
    run = active_run()
    out = {"closed_deals": closed["n"], "won_deals": closed["won"], "model": None}
    if run is not None:
        metrics = run.metrics or {}
        out["model"] = {"run": run.pk, "trained_on": run.deals_train, "tested_on": run.deals_test,
                        "trained_at": run.finished_at or run.created_at, "auc": metrics.get("auc"), "ece": metrics.get("ece")}
        out["text"] = (f"win model trained on {run.deals_train:,} closed deals and tested on the {run.deals_test:,} latest"
                       + (f" (AUC {metrics['auc']:.2f})" if metrics.get("auc") is not None else ""))
    else:
        out["text"] = (f"no trained win model yet: stage win rates and knowledge rules over {closed['n']:,} closed deals"
                       if closed["n"] else "no closed deals yet: the knowledge rules' starting points")
    return out


# ---- stage-weighted forecast and targets -----------------------------------------------------------------


def stage_weighted_by_owner(person: User | None, period: Period) -> dict[int | None, dict]:
    """The existing stage-weighted forecast (analytics.metrics), per owner, over the person's scope (None: all)."""
    from dealpilot.analytics.frames import frames_for
    from dealpilot.analytics.metrics import forecast_by_owner

    return forecast_by_owner(frames_for(person), period.start, period.end)


def targets_by_owner(owner_ids: set[int] | None, period: Period) -> dict[int, Decimal]:
    """Each owner's targets that fall inside the period (monthly ones add up to the quarter)."""
    qs = SalesTarget.objects.filter(period_start__gte=period.start, period_end__lte=period.end)
    if owner_ids is not None:
        qs = qs.filter(owner_id__in=owner_ids)
    return {row["owner_id"]: row["total"] for row in qs.values("owner_id").annotate(total=Sum("amount"))}


# ---- the roll-up ----------------------------------------------------------------------------------------


@dataclass
class Unit:
    """One person's forecast (a rep's deals, or a manager's / leader's team below them), or the deals
    without an owner."""

    person: User | None
    label: str
    own_ids: set  # owners whose deals belong to this unit directly
    children: list[Unit] = field(default_factory=list)
    is_own_deals: bool = False  # a manager's own deals, shown as a row of their roll-up
    # filled by _fill
    deals: list[DealRow] = field(default_factory=list)
    model: ModelForecast | None = None
    stage_weighted: float = 0.0
    target: Decimal | None = None
    derived: Derived = NOTHING
    calls: CallState = field(default_factory=CallState)

    @property
    def covers(self) -> set:
        out = set(self.own_ids)
        for child in self.children:
            out |= child.covers
        return out

    @property
    def call(self) -> ForecastCall | None:
        return self.calls.effective

    @property
    def has_team(self) -> bool:
        return bool(self.children)

    @property
    def gap_to_call(self) -> Decimal | None:
        return None if self.target is None or self.call is None else self.target - self.call.commit

    @property
    def gap_to_model(self) -> float | None:
        return None if self.target is None or self.model is None else round(float(self.target) - self.model.expected, 2)

    @property
    def team(self) -> str:
        return str(self.person.team) if self.person is not None and self.person.team_id else ""


def _active_people(team_ids: set[int]) -> list[User]:
    return list(User.objects.filter(team_id__in=team_ids, is_active=True, role__in=FORECAST_ROLES)
                .select_related("team").order_by("full_name", "username"))


def _build(person: User, team_children: dict, members_of: dict, heads: dict, seen: set) -> Unit:
    unit = Unit(person=person, label=str(person), own_ids={person.pk})
    seen.add(person.pk)
    if person.role == Role.REP or person.team_id is None:
        return unit
    if person.role == Role.MANAGER or person.role == Role.LEADER:
        unit.children = _team_rows(person.team_id, person, team_children, members_of, heads, seen)
    return unit


def _team_rows(team_id: int, leader: User | None, team_children, members_of, heads, seen) -> list[Unit]:
    rows = []
    for member in members_of.get(team_id, []):
        if member.pk in seen or (leader is not None and member.pk == leader.pk):
            continue
        seen.add(member.pk)
        rows.append(Unit(person=member, label=str(member), own_ids={member.pk}))
    for child in team_children.get(team_id, []):
        head = heads.get(child)
        if head is not None and head.pk not in seen:
            rows.append(_build(head, team_children, members_of, heads, seen))
        else:
            rows.extend(_team_rows(child, None, team_children, members_of, heads, seen))
    return rows


def build_tree(person: User | None, scope: set[int] | None) -> Unit:
    """The roll-up tree of a person's forecast (see the module's docstring); person None: everyone's, from
    the top teams down (reports run without a person, on data without a sales leader)."""
    teams = dict(Team.objects.values_list("id", "parent_id"))
    team_children: dict[int | None, list[int]] = defaultdict(list)
    for tid, parent in sorted(teams.items()):
        team_children[parent].append(tid)
    subtree = team_subtree_ids(person.team_id) if person is not None and person.team_id else set()
    people = _active_people(subtree) if scope is not None else list(
        User.objects.filter(is_active=True, role__in=FORECAST_ROLES).select_related("team").order_by("full_name", "username"))
    members_of: dict[int | None, list[User]] = defaultdict(list)
    for p in people:
        members_of[p.team_id].append(p)
    heads: dict[int, User] = {}
    for p in sorted(people, key=lambda u: u.pk):
        if p.team_id is not None and p.role in (Role.MANAGER, Role.LEADER) and p.team_id not in heads:
            heads[p.team_id] = p
    seen: set[int] = set()
    if person is None:
        root = Unit(person=None, label=EVERYONE, own_ids=set())
        for top in team_children.get(None, []):
            head = heads.get(top)
            if head is not None and head.pk not in seen:
                root.children.append(_build(head, team_children, members_of, heads, seen))
            else:
                root.children.extend(_team_rows(top, None, team_children, members_of, heads, seen))
    else:
        root = _build(person, team_children, members_of, heads, seen)
    if scope is None:  # a leader: everyone else, then the deals that have no owner
        for p in people:
            if p.pk not in seen and (person is None or p.pk != person.pk):
                seen.add(p.pk)
                root.children.append(Unit(person=p, label=str(p), own_ids={p.pk}))
    return root


def _fill(unit: Unit, by_owner: dict, weighted: dict, targets: dict, calls: dict[int, CallState]) -> None:
    for child in unit.children:
        _fill(child, by_owner, weighted, targets, calls)
    own = [d for owner in unit.own_ids for d in by_owner.get(owner, [])]
    unit.deals = own + [d for child in unit.children for d in child.deals]
    unit.model = model_forecast(unit.deals)
    unit.stage_weighted = round(sum(weighted.get(o, {}).get("weighted", 0.0) + weighted.get(o, {}).get("closed_won", 0.0)
                                    for o in unit.covers), 2)
    owned = [targets[o] for o in unit.covers if o in targets]
    unit.target = sum(owned, Decimal(0)) if owned else None
    if unit.person is not None:
        unit.calls = calls.get(unit.person.pk, CallState())
    won = sum((d.amount or Decimal(0)) for d in own if d.is_won)
    derived = derive(Decimal(won), [(d.category, d.amount) for d in own if not d.is_closed])
    for child in unit.children:
        derived = derived + _as_called(child)
    unit.derived = derived


def _as_called(unit: Unit) -> Derived:
    """What a row of a roll-up adds to the team's call: its call when it has one, else what its deals imply."""
    call = unit.call if unit.person is not None and not unit.is_own_deals else None
    if call is None:
        return unit.derived
    extra = unit.derived.pipeline - unit.derived.best_case
    return Derived(unit.derived.won, call.commit, call.best_case, call.best_case + max(extra, Decimal(0)))


@dataclass
class PersonForecast:
    person: User | None  # None: everyone's (a report without a person)
    period: Period
    week: date
    scope: set[int] | None
    unit: Unit
    rows: list[Unit]
    history: dict

    @property
    def calls(self) -> CallState:
        return self.unit.calls

    @property
    def call(self) -> ForecastCall | None:
        return self.unit.call

    @property
    def model(self) -> ModelForecast:
        return self.unit.model

    @property
    def derived(self) -> Derived:
        return self.unit.derived

    @property
    def deals(self) -> list[DealRow]:
        return self.unit.deals

    @property
    def version(self) -> int:
        return self.unit.calls.version

    @property
    def is_rollup(self) -> bool:
        return bool(self.rows)


def person_forecast(person: User | None, period: Period, *, today: date | None = None, score_missing: bool = True,
                    weighted: dict | None = None, history: dict | None = None) -> PersonForecast:
    """A person's forecast for a period (the caller has checked they may open it); None: everyone's."""
    today = today or timezone.localdate()
    scope = scope_of(person) if person is not None else None
    root = build_tree(person, scope)
    deals = load_deals(scope, period, score_missing=score_missing)
    by_owner: dict[int | None, list[DealRow]] = defaultdict(list)
    for d in deals:
        by_owner[d.owner_id].append(d)
    # deals in scope that no row covers: no owner (a leader's scope), or people outside the forecast
    # roles or no longer active (an administrator, a rep who left): rows of their own, so totals add up
    uncovered = set(by_owner) - root.covers
    if None in uncovered:
        root.children.append(Unit(person=None, label=NO_OWNER, own_ids={None}))
    if uncovered - {None}:
        root.children.append(Unit(person=None, label=OTHERS, own_ids=uncovered - {None}))
    people = [u.person.pk for u in _units(root) if u.person is not None]
    if weighted is None:
        weighted = stage_weighted_by_owner(person, period)
    _fill(root, by_owner, weighted, targets_by_owner(scope, period), call_states(people, period))
    rows = list(root.children)
    if person is not None and rows and by_owner.get(person.pk):  # a manager's or leader's own deals, as a row
        own = Unit(person=person, label=f"{person} (own deals)", own_ids={person.pk}, is_own_deals=True)
        _fill(own, by_owner, weighted, targets_by_owner({person.pk}, period), {})
        own.calls = CallState()
        rows.insert(0, own)
    return PersonForecast(person=person, period=period, week=week_of(today), scope=scope, unit=root, rows=rows,
                          history=history if history is not None else model_history())


def _units(unit: Unit):
    yield unit
    for child in unit.children:
        yield from _units(child)


def snapshots_of(person: User, period: Period) -> list[ForecastSnapshot]:
    return list(ForecastSnapshot.objects.filter(person=person, period_start=period.start, period_end=period.end)
                .order_by("week"))


def period_choices(today: date, current: Period) -> list[Period]:
    """The periods offered on the page: last, this and the next two quarters, this and next month, this year
    (and the one shown, if it is none of those)."""
    from .rollup import period_of

    quarter = period_of(today, "quarter")
    month = period_of(today, "month")
    out = [quarter.previous(), quarter, quarter.next(), quarter.next().next(), month, month.next(), period_of(today, "year")]
    if current not in out:
        out.insert(0, current)
    return out

