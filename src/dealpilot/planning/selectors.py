"""Reads of account planning: every account's scores, the ranked priorities a user may see, and
one account's score explained. Accounts are listed only through `Account.objects.visible_to`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join

from dealpilot.crm.models import (
    Account,
    Activity,
    Contact,
    ContactRole,
    LineItem,
    Opportunity,
    OpportunityContactRole,
    PlanUnit,
    Product,
    User,
)

from dealpilot.crm.visibility import ACTIVITY_NOT_IN_BIN, BUYER_TOUCH, OPPORTUNITY_NOT_IN_BIN
from .models import (
    AccountLead,
    AccountPlan,
    AccountRating,
    Action,
    ActionStatus,
    CellStatus,
    ContactProfile,
    Influence,
    Objective,
    ObjectiveKind,
    PlanComment,
    ResearchArea,
    Strategy,
    WhiteSpaceCell,
)
from .scoring import METRICS, QUADRANTS, ModelSpec, Scores, contributions, measure_cache, records_version, score_frame
from .services import active_model, spec_of

PRIORITY_SORTS = ("priority", "current", "future", "pipeline", "name")
# measures every priorities row shows, whatever the model uses
SHOWN_MEASURES = ("won_revenue", "open_pipeline")


_scores: dict[str, tuple[tuple, Scores]] = {}


def account_scores(spec: ModelSpec | None = None, today: date | None = None) -> Scores:
    """Both scores and the quadrant of every account (organisation-wide, see scoring.py). With the
    active model the result is kept until the model, the records' version or the ratings change,
    so a page that shows one account's score does not rescore every account."""
    model = None
    if spec is None:
        model = active_model()
        spec = spec_of(model)
    today = today or timezone.localdate()
    version = records_version()
    ratings_version, all_ratings = ratings_by_element()
    key = (model.pk, model.updated_at, version, ratings_version, today) if model is not None else None
    hit = _scores.get("active")
    if key is not None and hit is not None and hit[0] == key:
        return hit[1]
    ids = measure_cache.get_ids(version)
    metrics = {e.metric for e in spec.elements if e.kind == "computed"} | set(SHOWN_MEASURES)
    measures = {m: measure_cache.get(m, today, spec.revenue_window_days, version) for m in metrics}
    rated_keys = {e.key for e in spec.elements if e.kind == "rated"}
    ratings = {k: v for k, v in all_ratings.items() if k in rated_keys}
    scores = score_frame(spec, ids, measures, ratings, today)
    for m in SHOWN_MEASURES:
        values = measures[m].reindex(scores.frame.index).to_numpy(dtype="float64")
        scores.frame[f"measure.{m}"] = np.where(np.isnan(values), 0.0, values)
    if key is not None:
        _scores["active"] = (key, scores)
    return scores


_ratings: dict[str, tuple[tuple, dict[str, pd.Series]]] = {}


def ratings_by_element() -> tuple[tuple, dict[str, pd.Series]]:
    """(version, every rating as {element key: Series(account id -> level)}), re-read only when they changed."""
    from django.db import connection
    from django.db.models import Max

    # two index lookups: a new rating raises the highest id, a changed or withdrawn one the latest time
    version = (connection.settings_dict["NAME"], *AccountRating.objects.aggregate(top=Max("id"), at=Max("rated_at")).values())
    hit = _ratings.get("all")
    if hit is not None and hit[0] == version:
        return hit
    ratings: dict[str, pd.Series] = {}
    rows = list(AccountRating.objects.exclude(level="").values_list("element_key", "account_id", "level"))
    if rows:
        frame = pd.DataFrame(rows, columns=["key", "account", "level"])
        for key, group in frame.groupby("key"):
            ratings[str(key)] = pd.Series(group["level"].to_numpy(), index=group["account"].to_numpy())
    _ratings["all"] = (version, ratings)
    return version, ratings


@dataclass
class PriorityFilters:
    quadrant: str = ""
    q: str = ""
    owner: int | None = None
    industry: str = ""
    region: str = ""
    sort: str = "priority"


def priority_rows(user, filters: PriorityFilters | None = None, scores: Scores | None = None) -> list[dict]:
    """The accounts `user` may see (None: every account, for the CLI) with their scores, ranked."""
    filters = filters or PriorityFilters()
    scores = scores or account_scores()
    accounts = Account.objects.all() if user is None else Account.objects.visible_to(user)
    if filters.q:
        accounts = accounts.filter(name__icontains=filters.q)
    if filters.owner:
        accounts = accounts.filter(owner_id=filters.owner)
    if filters.industry:
        accounts = accounts.filter(industry=filters.industry)
    if filters.region:
        accounts = accounts.filter(region=filters.region)
    info = pd.DataFrame(list(accounts.values_list("id", "name", "industry", "region", "currency", "owner__username",
                                                  "owner__full_name")),
                        columns=["account_id", "name", "industry", "region", "currency", "owner_username", "owner_name"])
    if info.empty:
        return []
    frame = scores.frame[["current", "future", "quadrant", "measure.won_revenue", "measure.open_pipeline"]].rename(
        columns={"measure.won_revenue": "won", "measure.open_pipeline": "pipeline"})
    table = info.join(frame, on="account_id", how="inner")
    if filters.quadrant:
        table = table[table["quadrant"] == filters.quadrant]
    table = table.assign(combined=table["current"] + table["future"])
    planned = set(AccountPlan.objects.filter(account_id__in=table["account_id"].tolist()).values_list("account_id", flat=True)) \
        if len(table) <= 5000 else set(AccountPlan.objects.values_list("account_id", flat=True))
    order = {
        "priority": (["quadrant", "combined", "name"], [True, False, True]),
        "current": (["current", "name"], [False, True]),
        "future": (["future", "name"], [False, True]),
        "pipeline": (["pipeline", "name"], [False, True]),
        "name": (["name"], [True]),
    }[filters.sort if filters.sort in PRIORITY_SORTS else "priority"]
    table = table.sort_values(order[0], ascending=order[1], kind="stable")
    out = []
    for rank, r in enumerate(table.itertuples(index=False), start=1):
        out.append({
            "rank": rank, "account_id": int(r.account_id), "account": r.name, "owner": r.owner_name or r.owner_username or "",
            "industry": r.industry, "region": r.region, "currency": r.currency,
            "current_score": round(float(r.current), 1), "future_score": round(float(r.future), 1),
            "quadrant": r.quadrant, "treatment": QUADRANTS[r.quadrant][1],
            "won_revenue": round(float(r.won), 2), "open_pipeline": round(float(r.pipeline), 2),
            "has_plan": int(r.account_id) in planned,
        })
    return out


def quadrant_counts(rows: list[dict]) -> dict[str, int]:
    counts = {q: 0 for q in QUADRANTS}
    for r in rows:
        counts[r["quadrant"]] += 1
    return counts


def account_url(account_id: int) -> str:
    return reverse("planning:account", args=[account_id])


def account_score(account: Account, scores: Scores | None = None) -> dict:
    """One (already visibility-checked) account's scores, quadrant and each element's contribution,
    with who rated the rated elements."""
    scores = scores or account_scores()
    row = scores.frame.loc[account.pk]
    parts = contributions(scores.spec, row)
    ratings = {r.element_key: r for r in AccountRating.objects.filter(account=account).exclude(level="").select_related("rated_by")}
    for p in parts:
        element = scores.spec.element(p["key"])
        p["levels"] = [lv.model_dump() for lv in element.levels]
        p["metric_label"] = METRICS[p["metric"]].label if p["metric"] else ""
        rating = ratings.get(p["key"])
        p["rated_by"] = str(rating.rated_by) if rating and rating.rated_by else ""
        p["rated_at"] = rating.rated_at if rating else None
        p["note"] = rating.note if rating else ""
    quadrant = str(row["quadrant"])
    return {
        "account_id": account.pk, "account": account.name,
        "current_score": round(float(row["current"]), 1), "future_score": round(float(row["future"]), 1),
        "current_threshold": round(scores.current_threshold, 1), "future_threshold": round(scores.future_threshold, 1),
        "quadrant": quadrant, "quadrant_meaning": QUADRANTS[quadrant][0], "treatment": QUADRANTS[quadrant][1],
        "won_revenue": float(row["measure.won_revenue"]), "open_pipeline": float(row["measure.open_pipeline"]),
        "elements": parts, "model": scores.spec.name,
    }


# ---- account plans ---------------------------------------------------------------------------------

UNIT_SECTIONS = ("goals", "pressures", "initiatives", "obstacles")


def load_plan(plan_id: int) -> AccountPlan:
    """A plan with everything the page shows, in a fixed number of queries."""
    actions = Action.objects.select_related("owner")
    strategies = Strategy.objects.prefetch_related(Prefetch("actions", queryset=actions))
    objectives = Objective.objects.select_related("unit__plan_unit").prefetch_related(Prefetch("strategies", queryset=strategies))
    return (AccountPlan.objects.select_related("account", "account__owner", "created_by")
            .prefetch_related("units__plan_unit", "research__author", Prefetch("objectives", queryset=objectives))
            .get(pk=plan_id))


def opportunity_units(account_id: int) -> dict[int, int | None]:
    """Which plan unit each of the account's opportunities is for: the unit of its primary
    contact, else of its first contact with a unit (None when no contact has one)."""
    found: dict[int, int | None] = {}
    roles = (OpportunityContactRole.objects.filter(OPPORTUNITY_NOT_IN_BIN, opportunity__account_id=account_id,
                                                   contact__plan_unit_id__isnull=False)
             .order_by("opportunity_id", "-is_primary", "id").values_list("opportunity_id", "contact__plan_unit_id"))
    for opp_id, unit_id in roles:
        found.setdefault(opp_id, unit_id)
    return found


def plan_scorecard(plan: AccountPlan, today: date | None = None) -> dict:
    """Target revenue vs won, pipeline goal vs open pipeline, per-unit revenue objectives vs their
    current opportunities, penetration of the strategic units, actions overdue."""
    today = today or timezone.localdate()
    opps = list(Opportunity.objects.filter(account_id=plan.account_id).values("id", "amount", "is_closed", "is_won", "close_date"))
    unit_of = opportunity_units(plan.account_id)
    in_period = [o for o in opps if o["close_date"] and plan.period_start <= o["close_date"] <= plan.period_end]
    in_period_ids = {o["id"] for o in in_period}
    won = sum((o["amount"] or Decimal(0)) for o in in_period if o["is_won"])
    open_pipeline = sum((o["amount"] or Decimal(0)) for o in opps if not o["is_closed"])
    current_by_unit: dict[int | None, Decimal] = defaultdict(Decimal)  # open or won, closing in the period
    active_units: set[int] = set()
    for o in opps:
        unit = unit_of.get(o["id"])
        if (not o["is_closed"]) or (o["is_won"] and o["id"] in in_period_ids):
            if unit:
                active_units.add(unit)
        if o["id"] in in_period_ids and (o["is_won"] or not o["is_closed"]):
            current_by_unit[unit] += o["amount"] or Decimal(0)
    objectives = list(plan.objectives.all())
    revenue = [ob for ob in objectives if ob.kind == ObjectiveKind.REVENUE]
    target = sum((ob.target_amount or Decimal(0)) for ob in revenue)
    strategic = [u for u in plan.units.all() if u.strategic]
    penetrated = [u for u in strategic if u.plan_unit_id in active_units]
    actions = [a for ob in objectives for s in ob.strategies.all() for a in s.actions.all()]
    overdue = [a for a in actions if a.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS) and a.due_date and a.due_date < today]
    return {
        "currency": plan.currency,
        "target_revenue": target, "won_revenue": won, "revenue_attainment": float(won / target) if target else None,
        "pipeline_goal": plan.pipeline_goal, "open_pipeline": open_pipeline,
        "pipeline_coverage": float(open_pipeline / plan.pipeline_goal) if plan.pipeline_goal else None,
        "revenue_objectives": [{
            "objective_id": ob.pk, "title": ob.title, "unit": ob.unit.plan_unit.name if ob.unit else "",
            "target": ob.target_amount, "current": current_by_unit.get(ob.unit.plan_unit_id if ob.unit else None, Decimal(0)),
        } for ob in revenue],
        "strategic_units": len(strategic), "strategic_units_penetrated": len(penetrated),
        "penetration": len(penetrated) / len(strategic) if strategic else None,
        "actions": len(actions), "actions_done": sum(a.status == ActionStatus.DONE for a in actions),
        "actions_overdue": len(overdue), "overdue": [{"id": a.pk, "title": a.title, "due_date": a.due_date} for a in overdue],
    }


def plan_completeness(plan: AccountPlan) -> dict:
    """Which sections of the plan are filled, as checks with what is missing; percent = share done."""
    checks: list[dict] = []

    def check(section: str, done: bool, missing: str) -> None:
        checks.append({"section": section, "done": bool(done), "missing": "" if done else missing})

    areas = {n.area for n in plan.research.all()}
    for area, label in ResearchArea.choices:
        check("Research", area in areas, f"No research note on the {label.lower()}")
    units = list(plan.units.all())
    check("Plan units", units, "No plan unit chosen")
    check("Plan units", any(u.strategic for u in units), "No unit marked strategic")
    objectives = list(plan.objectives.all())
    for u in units:
        for section in UNIT_SECTIONS:
            check(f"Unit {u.plan_unit.name}", getattr(u, section).strip(), f"{u.plan_unit.name}: no {section}")
        check(f"Unit {u.plan_unit.name}", any(o.kind == ObjectiveKind.REVENUE and o.unit_id == u.pk for o in objectives),
              f"{u.plan_unit.name}: no revenue objective")
    check("Objectives", any(o.kind == ObjectiveKind.ACCOUNT for o in objectives), "No account objective")
    for o in objectives:
        strategies = list(o.strategies.all())
        check("Objectives", strategies, f"Objective “{o.title}”: no strategy")
        for s in strategies:
            acts = list(s.actions.all())
            check("Objectives", acts, f"Strategy “{s.text}”: no action")
            for a in acts:
                check("Actions", a.owner_id and a.due_date, f"Action “{a.title}”: no owner or due date")
    check("Cadence", plan.review_date, "No review date")
    done = sum(c["done"] for c in checks)
    return {"percent": round(100 * done / len(checks)) if checks else 0, "done": done, "total": len(checks),
            "checks": checks, "missing": [c["missing"] for c in checks if not c["done"]]}


def plan_detail(user, plan: AccountPlan) -> dict:
    plan = load_plan(plan.pk)
    chosen = {u.plan_unit_id for u in plan.units.all()}
    research = {area: [] for area, _ in ResearchArea.choices}
    for note in plan.research.all():
        research[note.area].append(note)
    scorecard = plan_scorecard(plan)
    current = {r["objective_id"]: r["current"] for r in scorecard["revenue_objectives"]}
    objectives = list(plan.objectives.all())
    for o in objectives:
        o.current_revenue = current.get(o.pk)
        for strategy in o.strategies.all():
            for a in strategy.actions.all():
                a.status_options = format_html_join("", '<option value="{}"{}>{}</option>',
                                                    ((v, " selected" if v == a.status else "", label) for v, label in ActionStatus.choices))
    people = list(User.objects.visible_to(user).filter(is_active=True).exclude(role="enablement").order_by("full_name", "username")[:500])
    # the owner choices of every "add action" form, rendered once (a plan may have many strategies)
    owner_options = format_html_join("", '<option value="{}"{}>{}</option>',
                                     ((p.pk, " selected" if p.pk == user.pk else "", str(p)) for p in people))
    return {
        "plan": plan, "account": plan.account, "units": list(plan.units.all()), "owner_options": owner_options,
        "available_units": list(PlanUnit.objects.filter(account_id=plan.account_id).exclude(pk__in=chosen).order_by("name")),
        "research": [(area, label, research[area]) for area, label in ResearchArea.choices],
        "objectives": objectives,
        "completeness": plan_completeness(plan), "scorecard": scorecard,
        "history": list(plan.history.select_related("actor")[:30]),
        "action_statuses": ActionStatus.choices, "objective_kinds": ObjectiveKind.choices,
        "people": people,
    }


# ---- people and influence, relationships ----------------------------------------------------------------

DECIDERS = (ContactRole.DECISION_MAKER, ContactRole.ECONOMIC_BUYER)
KEY_ROLES = (ContactRole.DECISION_MAKER, ContactRole.ECONOMIC_BUYER, ContactRole.EXECUTIVE_SPONSOR, ContactRole.CHAMPION)


def people_map(account: Account, today: date | None = None) -> dict:
    """The account's contacts with their part in decisions (the team's profile, else their latest
    role on a deal), reports-to and influence lines, last contact and who initiated it, and gaps."""
    from dealpilot.guidance.items import lapse_days
    from dealpilot.today.models import TodaySettings

    today = today or timezone.localdate()
    th = TodaySettings.current().thresholds()
    contacts = list(Contact.objects.filter(account=account).select_related("plan_unit").order_by("last_name", "first_name", "id"))
    ids = [c.pk for c in contacts]
    profiles = {p.contact_id: p for p in ContactProfile.objects.filter(contact_id__in=ids)}
    deal_roles: dict[int, str] = {}
    for contact_id, role in (OpportunityContactRole.objects.filter(OPPORTUNITY_NOT_IN_BIN, contact_id__in=ids)
                             .order_by("contact_id", "-opportunity__created_date", "-id").values_list("contact_id", "role")):
        deal_roles.setdefault(contact_id, role)
    last: dict[int, dict] = {}
    for contact_id, day, direction, owner in (Activity.objects.filter(ACTIVITY_NOT_IN_BIN, BUYER_TOUCH, contact_id__in=ids, activity_date__lte=today)
                                              .order_by("contact_id", "-activity_date", "-id")
                                              .values_list("contact_id", "activity_date", "direction", "owner__full_name")):
        if contact_id not in last:
            last[contact_id] = {"date": day, "direction": direction, "by": owner or ""}
            last[contact_id]["inbound"] = 0
            last[contact_id]["touches"] = 0
        last[contact_id]["touches"] += 1
        last[contact_id]["inbound"] += direction == "inbound"
    labels = dict(ContactRole.choices)
    people = []
    for c in contacts:
        p = profiles.get(c.pk)
        role = (p.decision_role if p and p.decision_role else deal_roles.get(c.pk, ""))
        seen = last.get(c.pk)
        days = (today - seen["date"]).days if seen else None
        key = bool(p and p.key_person) or role in KEY_ROLES
        people.append({
            "id": c.pk, "name": str(c), "title": c.title, "unit": c.plan_unit.name if c.plan_unit_id else "",
            "reports_to_id": c.reports_to_id if c.reports_to_id in ids else None, "has_left": c.has_left,
            "decision_role": role, "decision_role_label": labels.get(role, ""), "role_from": "team" if p and p.decision_role else ("deals" if role else ""),
            "power": p.power if p else "", "attitude": p.attitude if p else "", "decision_style": p.decision_style if p else "",
            "key_person": key, "last_contact": seen["date"] if seen else None, "days_since_contact": days,
            "last_direction": seen["direction"] if seen else "", "last_by": seen["by"] if seen else "",
            "client_initiated_share": (seen["inbound"] / seen["touches"]) if seen else None,
            "lapsed": key and not c.has_left and (days is None or days > lapse_days(th, p.attitude if p else "")),
        })
    current = [p for p in people if not p["has_left"]]
    influences = list(Influence.objects.filter(source_id__in=ids, target_id__in=ids).values("id", "source_id", "target_id", "note"))
    account_last = scoring_measure_days(account.pk, today)
    gaps = []
    if not current:
        gaps.append("No contact known")
    elif len(current) == 1:
        gaps.append("Only one contact")
    if current and not any(p["decision_role"] in DECIDERS for p in current):
        gaps.append("No decision maker known")
    if account_last is None or account_last > th.contact_lapse_days:
        gaps.append(f"No contact in {th.contact_lapse_days} days")
    for p in people:
        if p["has_left"] and p["key_person"]:
            gaps.append(f"Key contact {p['name']} has left")
    alerts = [f"No contact with {p['name']} ({p['decision_role_label'] or 'key person'}) for "
              + (f"{p['days_since_contact']} days" if p["days_since_contact"] is not None else "ever") for p in people if p["lapsed"]]
    return {"people": people, "influences": influences, "gaps": gaps, "alerts": alerts, "days_since_contact": account_last,
            "issue_count": len(gaps) + len(alerts)}


def scoring_measure_days(account_id: int, today: date) -> int | None:
    """Days since the last activity with the account, its deals or its contacts (as the scoring's measure)."""
    from django.db.models import Max, Q

    latest = Activity.objects.filter(Q(account_id=account_id) | Q(opportunity__account_id=account_id) | Q(contact__account_id=account_id),
                                     ACTIVITY_NOT_IN_BIN, BUYER_TOUCH, activity_date__lte=today).aggregate(d=Max("activity_date"))["d"]
    return (today - latest).days if latest else None


# ---- white space ------------------------------------------------------------------------------------------


def white_space(account: Account) -> dict:
    """Plan units x products: sold (a won deal), in pursuit (an open deal), else white space;
    a cell set by hand (potential, not applicable, ...) wins. Units: the plan's, else all the account's."""
    plan = AccountPlan.objects.filter(account=account).first()
    units = [s.plan_unit for s in plan.units.select_related("plan_unit")] if plan else []
    if not units:
        units = list(account.plan_units.order_by("name"))
    products = list(Product.objects.filter(is_active=True).order_by("family", "name")[:40])
    unit_of = opportunity_units(account.pk)
    computed: dict[tuple[int, int], str] = {}
    lines = (LineItem.objects.filter(OPPORTUNITY_NOT_IN_BIN, opportunity__account=account)
             .values_list("opportunity_id", "product_id", "opportunity__is_closed", "opportunity__is_won"))
    for opp_id, product_id, closed, won in lines:
        unit = unit_of.get(opp_id)
        if unit is None:
            continue
        status = "sold" if won else ("in_pursuit" if not closed else None)
        if status and computed.get((unit, product_id)) != "sold":
            computed[(unit, product_id)] = status
    manual = {(c.plan_unit_id, c.product_id): c for c in WhiteSpaceCell.objects.filter(plan_unit__in=units)}
    labels = dict(CellStatus.choices)
    rows = []
    for u in units:
        cells = []
        for p in products:
            cell = manual.get((u.pk, p.pk))
            status = cell.status if cell else computed.get((u.pk, p.pk), CellStatus.WHITE_SPACE)
            cells.append({"unit_id": u.pk, "product_id": p.pk, "product_name": p.name, "status": status, "label": labels[status],
                          "computed_label": labels[computed.get((u.pk, p.pk), CellStatus.WHITE_SPACE)],
                          "manual": cell is not None, "computed": computed.get((u.pk, p.pk), CellStatus.WHITE_SPACE),
                          "note": cell.note if cell else ""})
        rows.append({"unit": u, "cells": cells})
    return {"products": products, "rows": rows, "statuses": CellStatus.choices,
            "leads": list(AccountLead.objects.filter(account=account).select_related("plan_unit", "product", "opportunity"))}


# ---- discussion ------------------------------------------------------------------------------------------


def plan_comments(plan: AccountPlan, limit: int = 50) -> list[PlanComment]:
    return list(PlanComment.objects.filter(plan=plan).select_related("author").prefetch_related("mentions")[:limit])


def my_mentions(user, limit: int = 10) -> list[PlanComment]:
    """Recent comments that mention the user, on plans of accounts they may (still) see."""
    visible = Account.objects.visible_to(user).values("id")
    return list(PlanComment.objects.filter(mentions=user, plan__account_id__in=visible)
                .select_related("author", "plan__account")[:limit])
