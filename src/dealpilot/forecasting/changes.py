"""Deal inspection: what changed in a person's deals from one weekly snapshot to the next.

Each change is one (deal, kind) row. From two snapshots (`DealSnapshot`, the week's and the latest
earlier one):
- new: in this week's snapshot, not in the earlier one, created since the day it was taken;
- won / lost: open then, closed now;
- pushed: the close date was in the period and is now after it; pulled in: it was after the period and
  is now in it (open deals);
- amount up / down: the amount changed (open deals);
- stage back: the stage is earlier in the sales process than it was (also a move back and forth again
  between the two snapshots, found in the stage history);
- probability moved: the calibrated win probability moved by 10 points or more;
- category: the forecast category changed.
Until two snapshots exist, the week's changes are read from the stage history and the deals' dates
(new, won, lost, pushed, pulled in, amount, stage back; a probability move needs snapshots), and the
answer says so.

A stage is ranked by the stage-weighted forecast's probability of it (analytics.metrics), else the
probability recorded with it; a stage with neither is never called a step back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import timezone

from dealpilot.analytics.metrics import DEFAULT_STAGE_PROBABILITIES
from dealpilot.crm.models import Opportunity, StageHistory, Team, User
from dealpilot.crm.visibility import OPPORTUNITY_NOT_IN_BIN, team_subtree_ids

from .models import DealSnapshot, SnapshotWeek
from .rollup import CATEGORY_LABELS, Period, period_of, week_of

PROBABILITY_MOVE = 0.10

KINDS = {
    "new": "New",
    "won": "Won",
    "lost": "Lost",
    "pushed": "Pushed out of the period",
    "pulled_in": "Pulled into the period",
    "amount_up": "Amount up",
    "amount_down": "Amount down",
    "stage_back": "Stage back",
    "probability": "Probability moved 10+ points",
    "category": "Category changed",
}
SORTS = ("kind", "owner", "deal", "amount", "change", "close_date", "team")


@dataclass
class Change:
    opportunity_id: int
    deal: str
    account: str
    owner: str
    team: str
    kind: str
    before: str
    after: str
    change: float | None  # the money it moves (negative: out of the forecast), where it has one
    amount: float | None  # the deal's amount now
    close_date: date | None
    stage: str
    source: str  # snapshots or stage history

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    def as_row(self) -> dict:
        return {"kind": self.kind, "what": self.kind_label, "opportunity_id": self.opportunity_id, "deal": self.deal,
                "account": self.account, "owner": self.owner, "team": self.team, "before": self.before, "after": self.after,
                "change": self.change, "amount": self.amount, "close_date": self.close_date, "stage": self.stage,
                "source": self.source}


@dataclass
class DealChanges:
    week: date  # the week whose changes these are
    since: date | None  # the earlier snapshot's week (None: read from the stage history)
    period: Period
    source: str  # "snapshots" or "stage history"
    rows: list[Change]
    weeks: list[date] = field(default_factory=list)  # the weeks with a snapshot, latest first
    notes: list[str] = field(default_factory=list)
    bridge: list[dict] = field(default_factory=list)  # the period's open pipeline from `since` to `week`
    teams: list[Team] = field(default_factory=list)

    def counts(self) -> list[dict]:
        out = []
        for kind, label in KINDS.items():
            rows = [r for r in self.rows if r.kind == kind]
            if rows:
                out.append({"kind": kind, "what": label, "deals": len(rows),
                            "change": round(sum(r.change or 0 for r in rows), 2) if any(r.change is not None for r in rows)
                            else None})
        return out


    def by_team(self) -> list[dict]:
        """Per team (the owner's): how many deals changed, by kind, and the money moved in the period."""
        teams: dict[str, dict] = {}
        for r in self.rows:
            row = teams.setdefault(r.team or "(no team)", {"team": r.team or "(no team)", "deals": set(), "change": 0.0,
                                                           **{k: 0 for k in KINDS}})
            row[r.kind] += 1
            row["deals"].add(r.opportunity_id)
            row["change"] += r.change or 0
        return [{**row, "deals": len(row["deals"]), "change": round(row["change"], 2)}
                for _, row in sorted(teams.items())]


class ChangesError(ValueError):
    """A filter that cannot apply (a team outside the forecast, ...): a 400 with the reason."""


def stage_rank(stage: str, probability) -> float | None:
    if stage in DEFAULT_STAGE_PROBABILITIES:
        return DEFAULT_STAGE_PROBABILITIES[stage]
    if probability is not None:
        value = float(probability)
        return value / 100 if value > 1 else value
    return None


def _money(value) -> float | None:
    return None if value is None else round(float(value), 2)


def _fmt_money(value) -> str:
    return "" if value is None else f"{float(value):,.0f}"


def _fmt_date(value) -> str:
    return value.isoformat() if value else "no date"


def teams_in(scope: set[int] | None) -> list[Team]:
    """The teams a filter may pick: those of the people in scope (every team for a leader)."""
    qs = Team.objects.all() if scope is None else Team.objects.filter(members__id__in=scope).distinct()
    return list(qs.order_by("name"))


def deal_changes(person: User, scope: set[int] | None, *, week: date | None = None, period: Period | None = None,
                 kinds: list[str] | None = None, team_id: int | None = None, owner_id: int | None = None,
                 sort: str = "kind", today: date | None = None) -> DealChanges:
    """The changes in the deals of `scope` (a person's forecast scope; None: everyone's), for the week of
    `week` (default: the latest snapshot's, else this week), filtered and sorted."""
    today = today or timezone.localdate()
    weeks = list(SnapshotWeek.objects.order_by("-week").values_list("week", flat=True))
    if week is not None:
        week = week_of(week)
    elif weeks:
        week = weeks[0]
    else:
        week = week_of(today)
    if kinds:
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise ChangesError(f"unknown change {unknown[0][:40]!r}: one of {', '.join(KINDS)}")
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORTS:
        raise ChangesError(f"sort by one of {', '.join(SORTS)} (a leading - for descending), not {sort[:40]!r}")
    teams = teams_in(scope)
    owners = scope
    if team_id is not None:
        if team_id not in {t.pk for t in teams}:
            raise ChangesError(f"team {team_id} is not one of this forecast's teams")
        members = set(User.objects.filter(team_id__in=team_subtree_ids(team_id)).values_list("id", flat=True))
        owners = members if owners is None else owners & members
    if owner_id is not None:
        if owners is not None and owner_id not in owners:
            raise ChangesError(f"person {owner_id} is not in this forecast")
        owners = {owner_id}
    current = SnapshotWeek.objects.filter(week=week).first()
    earlier = SnapshotWeek.objects.filter(week__lt=week).order_by("-week").first()
    if current is not None and earlier is not None:
        period = period or Period(current.period_kind, current.period_start, current.period_end)
        result = _from_snapshots(current, earlier, period, owners)
        if (current.week - earlier.week).days > 7:
            result.notes.append(f"No snapshot between the weeks of {earlier.week:%d %b} and {current.week:%d %b %Y}: "
                                "these are the changes over that whole time.")
    else:
        period = period or period_of(week, "quarter")
        result = _from_history(week, period, owners)
        result.notes.append("Fewer than two weekly snapshots up to this week: the changes are read from the stage "
                            "history and the deals' dates (a probability move needs two snapshots).")
    result.weeks = weeks
    result.teams = teams
    if kinds:
        result.rows = [r for r in result.rows if r.kind in kinds]
    order = list(KINDS)
    sort_keys = {
        "kind": lambda r: (order.index(r.kind), r.owner, r.deal),
        "owner": lambda r: (r.owner, order.index(r.kind), r.deal),
        "team": lambda r: (r.team, r.owner, order.index(r.kind)),
        "deal": lambda r: (r.deal.lower(), order.index(r.kind)),
        "amount": lambda r: (r.amount is None, r.amount or 0),
        "change": lambda r: (r.change is None, abs(r.change or 0)),
        "close_date": lambda r: (r.close_date is None, r.close_date or date.min),
    }
    result.rows.sort(key=sort_keys[key], reverse=descending)
    if descending and key in ("amount", "change", "close_date"):  # missing values last either way
        result.rows.sort(key=lambda r: getattr(r, key) is None)
    return result


def _names(opportunity_ids: set[int]) -> dict[int, tuple[str, str]]:
    out = {}
    for o in Opportunity.objects.filter(pk__in=opportunity_ids).select_related("account").only("id", "name", "crm_id",
                                                                                                "account__name"):
        out[o.pk] = (str(o), o.account.name if o.account else "")
    return out


def _people() -> dict[int, tuple[str, str]]:
    return {u.pk: (str(u), str(u.team) if u.team_id else "") for u in User.objects.select_related("team")}


def _from_snapshots(current: SnapshotWeek, earlier: SnapshotWeek, period: Period, owners: set[int] | None) -> DealChanges:
    def rows_of(week):
        qs = DealSnapshot.objects.filter(OPPORTUNITY_NOT_IN_BIN, week=week)
        return {s.opportunity_id: s for s in qs}

    now, then = rows_of(current.week), rows_of(earlier.week)
    created = dict(Opportunity.objects.filter(pk__in=set(now) - set(then)).values_list("id", "created_date"))
    new_ids = {i for i, made in created.items() if not now[i].is_closed and (made is None or made >= earlier.as_of)}
    in_scope = {i for i, s in now.items() if owners is None or s.owner_id in owners}
    in_scope |= {i for i, s in then.items() if i not in now and (owners is None or s.owner_id in owners)}
    names, people = _names(in_scope), _people()
    changes: list[Change] = []

    def add(s, kind, before="", after="", change=None, source="snapshots"):
        name, account = names.get(s.opportunity_id, (f"Opportunity {s.opportunity_id}", ""))
        owner, team = people.get(s.owner_id, ("No owner", ""))
        changes.append(Change(s.opportunity_id, name, account, owner, team, kind, before, after, change, _money(s.amount),
                              s.close_date, s.stage, source))

    for i in sorted(in_scope):
        s, p = now.get(i), then.get(i)
        if s is None:
            continue  # out of this week's snapshot (in the recycle bin, or closed long ago)
        if p is None:
            if i in new_ids:
                add(s, "new", "", f"{s.stage}, {_fmt_money(s.amount)} closing {_fmt_date(s.close_date)}",
                    _money(s.amount) if period.contains(s.close_date) else None)
            continue
        if p.is_closed:
            continue
        in_then, in_now = period.contains(p.close_date), period.contains(s.close_date)
        if s.is_closed:
            add(s, "won" if s.is_won else "lost", p.stage, s.stage,
                _money(s.amount) if s.is_won else (-(_money(p.amount) or 0) if in_then else None))
            continue
        if in_then and not in_now and s.close_date is not None and s.close_date > period.end:
            add(s, "pushed", _fmt_date(p.close_date), _fmt_date(s.close_date), -(_money(p.amount) or 0))
        elif not in_then and in_now and (p.close_date is None or p.close_date > period.end):
            add(s, "pulled_in", _fmt_date(p.close_date), _fmt_date(s.close_date), _money(s.amount) or 0)
        if s.amount != p.amount and s.amount is not None and p.amount is not None:
            delta = float(s.amount - p.amount)
            add(s, "amount_up" if delta > 0 else "amount_down", _fmt_money(p.amount), _fmt_money(s.amount),
                round(delta, 2) if in_now else None)
        elif (s.amount is None) != (p.amount is None):
            up = p.amount is None
            add(s, "amount_up" if up else "amount_down", _fmt_money(p.amount) or "none", _fmt_money(s.amount) or "none",
                (_money(s.amount) if up else -(_money(p.amount) or 0)) if in_now else None)
        before, after = stage_rank(p.stage, p.rep_probability), stage_rank(s.stage, s.rep_probability)
        if before is not None and after is not None and after < before:
            add(s, "stage_back", p.stage, s.stage)
        if s.probability is not None and p.probability is not None and abs(s.probability - p.probability) >= PROBABILITY_MOVE - 1e-9:
            add(s, "probability", f"{p.probability:.0%}", f"{s.probability:.0%}")
        if s.category != p.category:
            add(s, "category", CATEGORY_LABELS.get(p.category, p.category), CATEGORY_LABELS.get(s.category, s.category))
    # a stage moved back and forward again between the snapshots is still a step back
    flagged = {c.opportunity_id for c in changes if c.kind == "stage_back"}
    for s, step_from, step_to, _ in _history_steps_back(set(now) & in_scope, earlier.taken_at, current.taken_at):
        if s not in flagged and now[s].opportunity_id not in flagged and not now[s].is_closed:
            flagged.add(s)
            add(now[s], "stage_back", step_from, step_to, source="stage history")
    return DealChanges(current.week, earlier.week, period, "snapshots", changes,
                       bridge=_bridge(now, then, period, in_scope, earlier.week, new_ids))


def _history_steps_back(ids: set[int], after: datetime, until: datetime):
    """(opportunity id, from stage, to stage, when) for each move to an earlier stage in the window."""
    if not ids:
        return []
    out = []
    previous: dict[int, StageHistory] = {}
    rows = (StageHistory.objects.filter(opportunity_id__in=ids, changed_at__lte=until).order_by("opportunity_id", "changed_at", "id")
            .only("opportunity_id", "stage", "probability", "changed_at"))
    for h in rows:
        p = previous.get(h.opportunity_id)
        if p is not None and h.changed_at > after:
            before, now = stage_rank(p.stage, p.probability), stage_rank(h.stage, h.probability)
            if before is not None and now is not None and now < before:
                out.append((h.opportunity_id, p.stage, h.stage, h.changed_at))
        previous[h.opportunity_id] = h
    return out


def _bridge(now: dict, then: dict, period: Period, ids: set[int], earlier_week: date, new_ids: set[int]) -> list[dict]:
    """The period's open pipeline in the earlier snapshot, what moved it, and where it is now; each deal's
    move counted once (won, lost, pushed, pulled in, new, amount, other), so the steps add up exactly."""
    def open_in(s):
        return s is not None and not s.is_closed and period.contains(s.close_date)

    start = sum(float(s.amount or 0) for i, s in then.items() if i in ids and open_in(s))
    end = sum(float(s.amount or 0) for i, s in now.items() if i in ids and open_in(s))
    steps = {k: 0.0 for k in ("won", "lost", "pushed", "new", "pulled_in", "amount", "other")}
    for i in ids:
        p, s = then.get(i), now.get(i)
        was = float(p.amount or 0) if open_in(p) else 0.0
        is_ = float(s.amount or 0) if open_in(s) else 0.0
        if was == is_:
            continue
        if open_in(p) and s is not None and s.is_closed:
            steps["won" if s.is_won else "lost"] += is_ - was
        elif open_in(p) and s is not None and not s.is_closed and s.close_date is not None and s.close_date > period.end:
            steps["pushed"] += is_ - was
        elif p is None and open_in(s) and i in new_ids:
            steps["new"] += is_ - was
        elif not open_in(p) and open_in(s) and p is not None and not p.is_closed:
            steps["pulled_in"] += is_ - was
        elif open_in(p) and open_in(s):
            steps["amount"] += is_ - was
        else:
            steps["other"] += is_ - was
    labels = {"won": "Won", "lost": "Lost", "pushed": "Pushed out", "new": "New", "pulled_in": "Pulled in",
              "amount": "Amount changes", "other": "Other"}
    out = [{"step": f"Open in {period.label}, week of {earlier_week:%d %b}", "kind": "start", "amount": round(start, 2)}]
    out += [{"step": labels[k], "kind": k, "amount": round(v, 2)} for k, v in steps.items() if round(v, 2)]
    out.append({"step": "Open now", "kind": "end", "amount": round(end, 2)})
    return out


def _from_history(week: date, period: Period, owners: set[int] | None) -> DealChanges:
    """The week's changes from the stage history and the deals' dates, without snapshots."""
    start = timezone.make_aware(datetime.combine(week, datetime.min.time()))
    end = start + timedelta(days=7)
    deals = Opportunity.objects.all() if owners is None else Opportunity.objects.filter(owner_id__in=owners)
    people = _people()
    changes: list[Change] = []

    def add(o, kind, before="", after="", change=None):
        owner, team = people.get(o.owner_id, ("No owner", ""))
        changes.append(Change(o.pk, str(o), o.account.name if o.account else "", owner, team, kind, before, after, change,
                              _money(o.amount), o.close_date, o.stage, "stage history"))

    for o in deals.filter(created_date__gte=week, created_date__lt=week + timedelta(days=7)).select_related("account"):
        add(o, "new", "", f"{o.stage}, {_fmt_money(o.amount)} closing {_fmt_date(o.close_date)}",
            _money(o.amount) if period.contains(o.close_date) and not o.is_closed else None)
    history = (StageHistory.objects.filter(OPPORTUNITY_NOT_IN_BIN, opportunity__in=deals, changed_at__lt=end)
               .filter(opportunity_id__in=StageHistory.objects.filter(changed_at__gte=start, changed_at__lt=end)
                       .values("opportunity_id"))
               .order_by("opportunity_id", "changed_at", "id"))
    by_deal: dict[int, list[StageHistory]] = {}
    for h in history:
        by_deal.setdefault(h.opportunity_id, []).append(h)
    opportunities = {o.pk: o for o in Opportunity.objects.filter(pk__in=by_deal).select_related("account")}
    for opp_id, steps in by_deal.items():
        o = opportunities.get(opp_id)
        if o is None:
            continue
        earlier = [h for h in steps if h.changed_at < start]
        inside = [h for h in steps if h.changed_at >= start]
        p = earlier[-1] if earlier else None
        last = inside[-1]
        if o.is_closed and o.close_date and week <= o.close_date < week + timedelta(days=7):
            add(o, "won" if o.is_won else "lost", p.stage if p else "", o.stage,
                _money(o.amount) if o.is_won else None)
            continue
        if p is not None:
            before_close, after_close = p.close_date, last.close_date
            if period.contains(before_close) and after_close and after_close > period.end:
                add(o, "pushed", _fmt_date(before_close), _fmt_date(after_close), -(_money(p.amount or o.amount) or 0))
            elif before_close and before_close > period.end and period.contains(after_close):
                add(o, "pulled_in", _fmt_date(before_close), _fmt_date(after_close), _money(last.amount or o.amount))
            if p.amount is not None and last.amount is not None and p.amount != last.amount:
                delta = float(last.amount - p.amount)
                add(o, "amount_up" if delta > 0 else "amount_down", _fmt_money(p.amount), _fmt_money(last.amount), round(delta, 2))
        prev = p
        for h in inside:
            if prev is not None:
                before, now = stage_rank(prev.stage, prev.probability), stage_rank(h.stage, h.probability)
                if before is not None and now is not None and now < before:
                    add(o, "stage_back", prev.stage, h.stage)
                    break
            prev = h
    return DealChanges(week, None, period, "stage history", changes)

