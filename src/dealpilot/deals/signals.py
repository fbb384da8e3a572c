"""Deal signals: vulnerabilities (each with its evidence and a suggested action) and buying-group
coverage, as plain functions over a `DealState` (see records.py). The thresholds are the sales
leader's `SignalSettings`; the stage norms are the organisation's own (median days per stage).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from statistics import median

from dealpilot.crm.models import StageHistory
from dealpilot.crm.visibility import OPPORTUNITY_NOT_IN_BIN

from .models import SignalSettings
from .records import DECISION_ROLES, DealState

FOLLOW_UP_KINDS = frozenset({"call", "email", "meeting"})

# The buying group, by the roles of OpportunityContactRole (domain.md section 3: decision maker,
# influencers, users; a champion; an executive sponsor to report delivered value to).
BUYING_GROUP = (
    ("decision_maker", "Decision maker", frozenset({"decision_maker", "economic_buyer"})),
    ("executive_sponsor", "Executive sponsor", frozenset({"executive_sponsor"})),
    ("champion", "Champion", frozenset({"champion"})),
    ("influencer", "Influencers", frozenset({"influencer", "technical_buyer", "evaluator"})),
    ("user", "Users", frozenset({"user"})),
)
CORE_GROUPS = ("decision_maker", "champion", "influencer", "user")


@dataclass
class StageNorms:
    """The organisation's median days in each stage and the stages' usual order."""

    median_days: dict[str, float] = field(default_factory=dict)
    order: dict[str, float] = field(default_factory=dict)

    def rank(self, stage: str) -> float | None:
        return self.order.get(stage)


def stage_norms() -> StageNorms:
    """From every recorded stage change (one query): how long deals stay in each stage before the
    next change, and each stage's order (its mean recorded probability, else its mean position)."""
    durations: dict[str, list[int]] = defaultdict(list)
    probabilities: dict[str, list[float]] = defaultdict(list)
    positions: dict[str, list[int]] = defaultdict(list)
    previous = None
    position = 0
    for opp_id, stage, changed_at, probability in (StageHistory.objects.filter(OPPORTUNITY_NOT_IN_BIN).order_by("opportunity_id", "changed_at", "id")
                                                   .values_list("opportunity_id", "stage", "changed_at", "probability")):
        if previous and previous[0] == opp_id:
            if previous[1] != stage:
                durations[previous[1]].append((changed_at - previous[2]).days)
            position += 1
        else:
            position = 0
        positions[stage].append(position)
        if probability is not None:
            probabilities[stage].append(float(probability))
        previous = (opp_id, stage, changed_at)
    order = {s: sum(p) / len(p) for s, p in probabilities.items()}
    if len(order) < len(positions):  # no probabilities recorded: the usual position in the path
        order = {s: sum(p) / len(p) for s, p in positions.items()}
    return StageNorms({s: float(median(d)) for s, d in durations.items() if d}, order)


@dataclass(frozen=True)
class Vulnerability:
    code: str
    title: str
    evidence: str
    action: str


def _engaged_contacts(state: DealState) -> set[int]:
    return {t.contact_id for t in state.touches if t.contact_id}


def _name(state: DealState, contact_id: int) -> str:
    return state.record.contact_names.get(contact_id) or f"contact {contact_id}"


def days_in_stage(state: DealState) -> int | None:
    """Days since the deal entered its current stage (the first step of the latest run of it)."""
    if not state.steps:
        return None
    entered = state.steps[-1].on
    for step in reversed(state.steps):
        if step.stage != state.steps[-1].stage:
            break
        entered = step.on
    return (state.as_of - entered).days


def close_date_slips(state: DealState) -> list[tuple[date, date, date]]:
    """Each push of the expected close date to a later one: (when, from, to)."""
    slips, previous = [], None
    for step in state.steps:
        if step.close_date is None:
            continue
        if previous is not None and step.close_date > previous:
            slips.append((step.on, previous, step.close_date))
        previous = step.close_date
    return slips


def moves_back(state: DealState, norms: StageNorms) -> list[tuple[date, str, str]]:
    moves = []
    for before, after in zip(state.steps, state.steps[1:]):
        a, b = norms.rank(before.stage), norms.rank(after.stage)
        if a is not None and b is not None and b < a:
            moves.append((after.on, before.stage, after.stage))
    return moves


def gatekeeper_stall(state: DealState, threshold: int) -> tuple[int, int, list[date]] | None:
    """A mid-level contact followed up `threshold` or more times with no activity with a
    decision-level contact since the first of those: (contact, follow-ups, their dates)."""
    roles = state.record.roles
    decision_touch_days = [t.on for t in state.touches if t.contact_id and roles.get(t.contact_id) in DECISION_ROLES]
    by_contact: dict[int, list[date]] = defaultdict(list)
    for t in state.touches:
        if t.contact_id and t.kind in FOLLOW_UP_KINDS and roles.get(t.contact_id) not in DECISION_ROLES \
                and t.direction != "inbound":
            by_contact[t.contact_id].append(t.on)
    worst = None
    for contact_id, days in by_contact.items():
        if len(days) < threshold:
            continue
        if any(d >= days[0] for d in decision_touch_days):
            continue
        if worst is None or len(days) > worst[1]:
            worst = (contact_id, len(days), days)
    return worst


def vulnerabilities(state: DealState, settings: SignalSettings, norms: StageNorms) -> list[Vulnerability]:
    """Every vulnerability of an open deal on `state.as_of`, most serious first."""
    found: list[Vulnerability] = []
    rec, roles = state.record, state.record.roles
    engaged = _engaged_contacts(state)
    decision_known = [c for c, r in roles.items() if r in DECISION_ROLES]
    decision_engaged = [c for c in decision_known if c in engaged]
    answers = state.answers

    stall = gatekeeper_stall(state, settings.gatekeeper_followups)
    if stall:
        contact_id, count, days = stall
        found.append(Vulnerability(
            "gatekeeper_stall", "Gatekeeper stall",
            f"{count} follow-ups with {_name(state, contact_id)} ({roles.get(contact_id, 'no role').replace('_', ' ')}) "
            f"between {days[0]:%d %b %Y} and {days[-1]:%d %b %Y}, and no contact with a decision maker since.",
            f"Ask {_name(state, contact_id)} who decides and whether they will recommend us; "
            "if they keep stalling, contact the decision maker directly."))
    if not decision_engaged and answers.get("decision_maker_met") != "yes":
        if decision_known:
            names = ", ".join(_name(state, c) for c in decision_known)
            evidence = f"Decision maker known ({names}) but no activity with them on this deal."
            action = f"Get a meeting with {names}: ask your contact to introduce you."
        else:
            evidence = "No contact on this deal has a decision-maker, economic-buyer or executive-sponsor role."
            action = "Find out who decides and who signs; add them to the deal's contact roles."
        found.append(Vulnerability("no_decision_maker_access", "No decision-maker access", evidence, action))
    if len(engaged) < settings.min_engaged_contacts:
        who = ", ".join(_name(state, c) for c in engaged) or "nobody"
        found.append(Vulnerability(
            "single_threaded", "Single-threaded",
            f"{len(engaged)} contact{'s' if len(engaged) != 1 else ''} engaged ({who}); "
            f"{len(roles)} with a role on the deal.",
            "Build consensus: meet the decision maker, influencers and users in the units the solution touches."))
    in_stage = days_in_stage(state)
    norm = norms.median_days.get(state.stage)
    if in_stage is not None and norm is not None:
        limit = max(settings.stage_age_min_days, settings.stage_age_factor * norm)
        if in_stage > limit:
            found.append(Vulnerability(
                "stage_age", "Stuck in stage",
                f"{in_stage} days in {state.stage}; deals here usually move on after {norm:.0f} days (flag after {limit:.0f}).",
                "Agree the next step and its date with the buyer, or requalify the deal."))
    slips = close_date_slips(state)
    if len(slips) >= max(1, settings.close_date_slips):
        pushes = "; ".join(f"{a:%d %b} \u2192 {b:%d %b %Y}" for _, a, b in slips[-3:])
        found.append(Vulnerability(
            "close_date_slipped", "Close date slipped",
            f"Expected close pushed {len(slips)} times ({pushes}).",
            "Ask what must happen before the buyer signs, and who must approve it; test for a compelling event."))
    last = state.touches[-1].on if state.touches else None
    since = (state.as_of - (last or rec.created)).days if (last or rec.created) else None
    if since is not None and since > settings.no_activity_days:
        found.append(Vulnerability(
            "no_activity", "No recent activity",
            f"No activity for {since} days" + (f" (last on {last:%d %b %Y})." if last else " (none logged since creation)."),
            "Re-engage with a call that brings the buyer an insight, not a check-in."))
    back = moves_back(state, norms)
    if back:
        on, before, after = back[-1]
        found.append(Vulnerability(
            "moved_back", "Moved back a stage",
            f"Moved back from {before} to {after} on {on:%d %b %Y}" + (f" ({len(back)} times)." if len(back) > 1 else "."),
            "Find out who joined or what changed; restate the shared vision of success with the new stakeholders."))
    return found


@dataclass(frozen=True)
class CoverageGroup:
    code: str
    label: str
    known: list[str]
    engaged: list[str]


@dataclass(frozen=True)
class Coverage:
    groups: list[CoverageGroup]

    @property
    def known_core(self) -> int:
        return sum(1 for g in self.groups if g.code in CORE_GROUPS and g.known)

    @property
    def engaged_core(self) -> int:
        return sum(1 for g in self.groups if g.code in CORE_GROUPS and g.engaged)

    @property
    def core_total(self) -> int:
        return len(CORE_GROUPS)


def coverage(state: DealState) -> Coverage:
    """Which roles of the buying group are known (a contact has the role) and engaged (an activity
    with that contact on this deal up to `as_of`)."""
    engaged = _engaged_contacts(state)
    groups = []
    for code, label, roles in BUYING_GROUP:
        known = [c for c, r in state.record.roles.items() if r in roles]
        groups.append(CoverageGroup(code, label, [_name(state, c) for c in known],
                                    [_name(state, c) for c in known if c in engaged]))
    return Coverage(groups)
