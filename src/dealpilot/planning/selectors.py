"""Reads of account planning: every account's scores, the ranked priorities a user may see, and
one account's score explained. Accounts are listed only through `Account.objects.visible_to`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from django.urls import reverse
from django.utils import timezone

from dealpilot.crm.models import Account

from .models import AccountRating
from .scoring import METRICS, QUADRANTS, ModelSpec, Scores, contributions, measure_cache, records_version, score_frame
from .services import active_spec

PRIORITY_SORTS = ("priority", "current", "future", "pipeline", "name")
# measures every priorities row shows, whatever the model uses
SHOWN_MEASURES = ("won_revenue", "open_pipeline")


def account_scores(spec: ModelSpec | None = None, today: date | None = None) -> Scores:
    """Both scores and the quadrant of every account (organisation-wide, see scoring.py)."""
    spec = spec or active_spec()
    today = today or timezone.localdate()
    version = records_version()
    ids = measure_cache.get_ids(version)
    metrics = {e.metric for e in spec.elements if e.kind == "computed"} | set(SHOWN_MEASURES)
    measures = {m: measure_cache.get(m, today, spec.revenue_window_days, version) for m in metrics}
    rated_keys = [e.key for e in spec.elements if e.kind == "rated"]
    ratings: dict[str, pd.Series] = {}
    rows = list(AccountRating.objects.filter(element_key__in=rated_keys).values_list("element_key", "account_id", "level"))
    if rows:
        frame = pd.DataFrame(rows, columns=["key", "account", "level"])
        for key, group in frame.groupby("key"):
            ratings[key] = pd.Series(group["level"].to_numpy(), index=group["account"].to_numpy())
    scores = score_frame(spec, ids, measures, ratings, today)
    for m in SHOWN_MEASURES:
        values = measures[m].reindex(scores.frame.index).to_numpy(dtype="float64")
        scores.frame[f"measure.{m}"] = np.where(np.isnan(values), 0.0, values)
    return scores


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
    ratings = {r.element_key: r for r in AccountRating.objects.filter(account=account).select_related("rated_by")}
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
