"""Win/loss analysis (issue 17 §4): how closed deals ended and why, by stage reached, segment, product,
competitor, deal size and rep; competitor win rates; and, for an open deal, the closed deals like it.

Read-only plain functions over `Opportunity.objects.visible_to(user)`: a rep reads their own deals, a
manager their team's, a leader everyone's. Honest analytics, as the content analytics do it
(enablement.selectors): every figure carries the number of deals behind it, a 95% interval, and a
*too few to tell* flag below `MIN_SAMPLE` closed deals; the caveats say what the numbers cannot.

Definitions (docs/deals.md, *Win/loss analysis*):
- a deal counts in the period when it **closed** (its close date) between `start` and `end`, both included;
- **stage reached**: the furthest open stage in its stage history, in the order of the sales leader's stages
  (`/deals/stages/`); when none of its stages is listed there, the last open stage it was in; *Not recorded*
  without any history;
- **segment**: the account's industry and size band (`Account.size`, from its head count), e.g. *Software ·
  large*;
- **product**: the products on its line items; a deal with several products counts once in each;
- **deal size**: its amount in fixed bands (`SIZE_BANDS`, in the deal's own currency, not converted), fixed so a
  rep's bands and the team's mean the same thing;
- **competitor**: the competitor named on the deal (for a loss, who won it), grouped without case;
- **reasons**: a lost deal's lost reason (the leader's list); a won deal's close comment, the only win reason
  dealpilot records (closing won asks for the amount and the day), grouped when the same text.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Exists, OuterRef

from dealpilot.crm.models import LineItem, Opportunity, StageHistory, User

DIMENSIONS = ("stage_reached", "segment", "product", "competitor", "size", "rep", "reasons")
DIMENSION_LABELS = {"stage_reached": "Stage reached", "segment": "Segment", "product": "Product",
                    "competitor": "Competitor", "size": "Deal size", "rep": "Rep", "reasons": "Reasons"}
MIN_SAMPLE = 10  # below this many closed deals a group's win rate is "too few to tell" (as content analytics)
TOP_REASONS = 3
Z95 = 1.959964  # the normal quantile of a two-sided 95% interval

# Deal size bands: (upper limit exclusive, label); the last has no limit.
SIZE_BANDS: tuple[tuple[Decimal | None, str], ...] = (
    (Decimal(10_000), "under 10k"), (Decimal(50_000), "10k-50k"), (Decimal(100_000), "50k-100k"),
    (Decimal(250_000), "100k-250k"), (None, "250k and more"))
NO_AMOUNT = "No amount"
NOT_RECORDED = "Not recorded"
NONE_NAMED = "None named"
NO_PRODUCT = "No product"
NO_COMMENT = "No comment recorded"

CAVEATS = (
    "Correlation, not causation: a group's win rate says how its deals ended, not why; deals differ in more ways "
    "than the one grouped by.",
    f"Groups with fewer than {MIN_SAMPLE} closed deals are marked too few to tell; the interval (95%, Wilson) shows "
    "how far the rate could be from the truth on so few deals.",
    "Lost reasons are the rep's account of the loss, picked from the sales leader's list; deals a CRM closed lost "
    "without one count as 'Not recorded'.",
    "Win reasons are the close comments of won deals (free text, grouped only when identical): dealpilot does not ask "
    "why a deal was won.",
    "Competitor win rates are only as good as the record: a competitor is asked for when a deal is lost to one, not "
    "when one is beaten, so unless reps name competitors on won deals too these rates read low.",
    "A deal with several products counts once for each; deal size is the amount in the deal's own currency.",
)


class UnknownDimension(ValueError):
    """A dimension not in DIMENSIONS."""


def wilson_interval(wins: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval of a win rate wins/n.

    Why Wilson and not p ± z·sqrt(p(1-p)/n): on small samples and rates near 0 or 1 (typical of a rep's
    dozen deals) the plain interval runs outside [0, 1] and is far too narrow (at 3 of 3 won it is 100%-100%).
    Wilson's stays inside [0, 1] and keeps its coverage on small n:

        centre = (p + z²/2n) / (1 + z²/n)
        half   = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²)
    """
    if not n:
        return None, None
    p = wins / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def size_band(amount) -> str:
    if amount is None or amount <= 0:
        return NO_AMOUNT
    amount = Decimal(amount)
    return next(label for limit, label in SIZE_BANDS if limit is None or amount < limit)


def segment_of(industry: str | None, size: str | None) -> str:
    """Industry and account size band, e.g. 'Software · large'; '' when neither is known."""
    industry, size = (industry or "").strip(), (size or "").strip()
    if not industry and not size:
        return ""
    return f"{industry or 'Unknown industry'} · {size or 'unknown size'}"


@dataclass
class Group:
    group: str
    won: int = 0
    lost: int = 0
    lost_reasons: Counter = field(default_factory=Counter)
    win_reasons: Counter = field(default_factory=Counter)
    order: float = 0.0

    def row(self) -> dict:
        closed = self.won + self.lost
        low, high = wilson_interval(self.won, closed)
        small = closed < MIN_SAMPLE
        return {
            "group": self.group, "won": self.won, "lost": self.lost, "closed": closed,
            "win_rate": self.won / closed if closed else None, "win_rate_low": low, "win_rate_high": high,
            "small_sample": small, "caveat": f"Too few to tell: {closed} closed deal{'s' if closed != 1 else ''}" if small else "",
            "top_lost_reasons": _top(self.lost_reasons), "top_win_reasons": _top(self.win_reasons),
        }


def _top(counter: Counter) -> list[dict]:
    return [{"reason": reason, "deals": n} for reason, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]]


def _check_dimension(dimension: str) -> None:
    if dimension not in DIMENSIONS:
        raise UnknownDimension(f"unknown dimension {dimension!r}; one of {', '.join(DIMENSIONS)}")


def closed_deals(user: User, start: date | None = None, end: date | None = None):
    """The closed deals `user` may see that closed between start and end (both included, either open-ended)."""
    deals = Opportunity.objects.visible_to(user).filter(is_closed=True)
    if start is not None:
        deals = deals.filter(close_date__gte=start)
    if end is not None:
        deals = deals.filter(close_date__lte=end)
    return deals


_FIELDS = ("id", "stage", "is_won", "amount", "lost_reason", "competitor", "close_comment", "account__industry",
           "account__size", "owner_id", "owner__full_name", "owner__first_name", "owner__last_name", "owner__username")


def _owner_name(d: dict) -> str:
    if not d["owner_id"]:
        return "No owner"
    return (d["owner__full_name"] or f"{d['owner__first_name']} {d['owner__last_name']}".strip()
            or d["owner__username"])


def _lost_reason(d: dict) -> str:
    return (d["lost_reason"] or "").strip() or NOT_RECORDED


def _win_reason(d: dict) -> str:
    return " ".join((d["close_comment"] or "").split()) or NO_COMMENT


def _stage_order() -> dict[str, int]:
    from .models import SalesStage

    return {name.casefold(): i for i, name in enumerate(SalesStage.objects.order_by("position", "id").values_list("name", flat=True))}


def _stages_reached(deals: list[dict]) -> dict[int, tuple[str, float]]:
    """Per deal id: (the furthest open stage it reached, its sort key). One query for the stage history."""
    closed_stages = {d["stage"] for d in deals}  # a closed deal's own stage is a closing stage
    order = _stage_order()
    reached: dict[int, tuple[str, float]] = {}
    ids = [d["id"] for d in deals]
    history: dict[int, list[str]] = defaultdict(list)
    for chunk in (ids[i:i + 2000] for i in range(0, len(ids), 2000)):
        for opp_id, stage in (StageHistory.objects.filter(opportunity_id__in=chunk).order_by("opportunity_id", "changed_at", "id")
                              .values_list("opportunity_id", "stage")):
            if stage not in closed_stages:
                history[opp_id].append(stage)
    for opp_id, stages in history.items():
        listed = [s for s in stages if s.casefold() in order]
        if listed:
            best = max(listed, key=lambda s: order[s.casefold()])
            reached[opp_id] = (best, order[best.casefold()])
        else:
            reached[opp_id] = (stages[-1], len(order) + 0.5)  # unlisted stages sort after the listed ones
    return reached


def _products(ids: list[int]) -> dict[int, set[str]]:
    products: dict[int, set[str]] = defaultdict(set)
    for chunk in (ids[i:i + 2000] for i in range(0, len(ids), 2000)):
        for opp_id, name in LineItem.objects.filter(opportunity_id__in=chunk).values_list("opportunity_id", "product__name"):
            products[opp_id].add(name)
    return products


def win_loss_breakdown(user: User, dimension: str, start: date | None = None, end: date | None = None) -> dict:
    """Closed deals grouped by `dimension` (one of DIMENSIONS): per group won, lost, closed (the sample size),
    the win rate with its 95% Wilson interval, `small_sample` (fewer than MIN_SAMPLE closed: too few to tell)
    and the top lost and win reasons. Dimension `reasons`: one row per reason (`kind` lost or won), with the
    number of deals and their share of the lost (or won) deals. Raises UnknownDimension."""
    _check_dimension(dimension)
    deals = list(closed_deals(user, start, end).values(*_FIELDS))
    total_won = sum(1 for d in deals if d["is_won"])
    summary = {"dimension": dimension, "label": DIMENSION_LABELS[dimension], "start": start, "end": end,
               **{k: v for k, v in Group("All", won=total_won, lost=len(deals) - total_won).row().items()
                  if k in ("won", "lost", "closed", "win_rate", "win_rate_low", "win_rate_high", "small_sample")},
               "min_sample": MIN_SAMPLE, "caveats": list(CAVEATS)}
    if dimension == "reasons":
        return {**summary, "rows": _reason_rows(deals, total_won)}
    keys = _group_keys(dimension, deals)
    groups: dict[str, Group] = {}
    for d in deals:
        for key, order in keys(d):
            g = groups.setdefault(key, Group(key, order=order))
            if d["is_won"]:
                g.won += 1
                g.win_reasons[_win_reason(d)] += 1
            else:
                g.lost += 1
                g.lost_reasons[_lost_reason(d)] += 1
    if dimension == "stage_reached":
        ordered = sorted(groups.values(), key=lambda g: (g.order, g.group.casefold()))
    else:
        ordered = sorted(groups.values(), key=lambda g: (-(g.won + g.lost), g.group.casefold()))
    return {**summary, "rows": [g.row() for g in ordered]}


def _group_keys(dimension: str, deals: list[dict]):
    """A function: deal -> the (group, sort key) pairs it counts in."""
    if dimension == "stage_reached":
        reached = _stages_reached(deals)
        return lambda d: [reached.get(d["id"], (NOT_RECORDED, math.inf))]
    if dimension == "product":
        products = _products([d["id"] for d in deals])
        return lambda d: [(p, 0) for p in sorted(products.get(d["id"], ()))] or [(NO_PRODUCT, 0)]
    if dimension == "competitor":
        spelling: dict[str, str] = {}
        for d in deals:  # one spelling per competitor: the first met
            name = " ".join((d["competitor"] or "").split())
            if name:
                spelling.setdefault(name.casefold(), name)
        return lambda d: [(spelling.get(" ".join((d["competitor"] or "").split()).casefold(), NONE_NAMED), 0)]
    if dimension == "segment":
        return lambda d: [(segment_of(d["account__industry"], d["account__size"]) or NOT_RECORDED, 0)]
    if dimension == "size":
        return lambda d: [(size_band(d["amount"]), 0)]
    return lambda d: [(_owner_name(d), 0)]  # rep


def _reason_rows(deals: list[dict], total_won: int) -> list[dict]:
    total_lost = len(deals) - total_won
    lost = Counter(_lost_reason(d) for d in deals if not d["is_won"])
    won = Counter(_win_reason(d) for d in deals if d["is_won"])
    rows = []
    for kind, counter, total in (("lost", lost, total_lost), ("won", won, total_won)):
        for reason, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])):
            rows.append({"kind": kind, "reason": reason, "deals": n, "share": n / total if total else None,
                         "of": total, "small_sample": total < MIN_SAMPLE})
    return rows


def competitor_win_rates(user: User, start: date | None = None, end: date | None = None) -> dict:
    """Win rate against each named competitor (deals with that competitor named, won and lost), with its
    interval and sample size; deals naming none are left out (their number is `none_named`)."""
    breakdown = win_loss_breakdown(user, "competitor", start, end)
    rows = [r for r in breakdown["rows"] if r["group"] != NONE_NAMED]
    none = next((r["closed"] for r in breakdown["rows"] if r["group"] == NONE_NAMED), 0)
    return {**breakdown, "rows": rows, "none_named": none}


# ---- deals like this one ---------------------------------------------------------------------------------------

CRITERIA = ("segment", "size", "competitor", "stage_path")  # most telling first; relaxed from the end
CRITERION_LABELS = {"segment": "segment", "size": "deal size", "competitor": "competitor", "stage_path": "stage path"}
MIN_SIMILAR = 5  # fewer matches than this: relax the next criterion


def deals_like_this(user: User, opportunity: Opportunity, limit: int = 10) -> dict:
    """Closed deals `user` may see that resemble `opportunity`, how they ended and why, and the win/loss
    knowledge entries written about them.

    Similar means, for each criterion the open deal has a value for:
    - **segment**: the same account industry and size band;
    - **size**: its amount in the same deal-size band (SIZE_BANDS);
    - **competitor**: the same competitor named (without case);
    - **stage path**: the closed deal went through every stage this deal has been in so far (its stage history
      and its current stage): it got at least as far along the same road. Order and time are not compared.
    A criterion the open deal has no value for (no account, no amount, no competitor named) is not applied and
    is listed in `not_applicable`.

    All applicable criteria are tried first. While fewer than MIN_SIMILAR closed deals match, the least telling
    one is dropped, in this order: stage path, competitor, deal size; the segment (or, without one, the last
    criterion left) is never dropped, so the answer stays about deals like this one and may be short. The
    dropped criteria are listed in `relaxed`.

    Two queries: the candidates (with the stage-path test as a subquery, and the open deal's own visibility in
    the same WHERE: a deal the caller may not see gets no similar deals) and the knowledge entries.
    """
    from dealpilot.enablement.models import KnowledgeEntry, KnowledgeKind

    account = opportunity.account if opportunity.account_id else None
    segment = segment_of(account.industry, account.size) if account else ""
    band = size_band(opportunity.amount)
    competitor = " ".join((opportunity.competitor or "").split()).casefold()
    applicable = [c for c, has in (("segment", bool(segment)), ("size", band != NO_AMOUNT),
                                   ("competitor", bool(competitor)), ("stage_path", True)) if has]
    not_applicable = [CRITERION_LABELS[c] for c in CRITERIA if c not in applicable]

    candidates = (Opportunity.objects.visible_to(user).filter(is_closed=True).exclude(pk=opportunity.pk)
                  .filter(Exists(Opportunity.objects.visible_to(user).filter(pk=opportunity.pk))))
    if applicable[0] == "segment":  # never relaxed: filter in SQL
        candidates = candidates.filter(account__industry=account.industry, account__size=account.size)
    # the stage path: no stage of the open deal (history or current) that the candidate never had
    own_stages = StageHistory.objects.filter(opportunity_id=opportunity.pk).values("stage")
    theirs = StageHistory.objects.filter(opportunity_id=OuterRef(OuterRef("pk"))).values("stage")
    candidates = candidates.annotate(
        path=~Exists(own_stages.exclude(stage__in=theirs).values("pk"))
        & Exists(StageHistory.objects.filter(opportunity_id=OuterRef("pk"), stage=opportunity.stage)))
    rows = list(candidates.order_by("-close_date", "-id").values(
        "id", "name", "is_won", "amount", "currency", "close_date", "lost_reason", "competitor", "close_comment",
        "account__industry", "account__size", "account__name", "path",
        "owner_id", "owner__full_name", "owner__first_name", "owner__last_name", "owner__username"))

    def matches(d: dict, criterion: str) -> bool:
        if criterion == "segment":
            return segment_of(d["account__industry"], d["account__size"]) == segment
        if criterion == "size":
            return size_band(d["amount"]) == band
        if criterion == "competitor":
            return " ".join((d["competitor"] or "").split()).casefold() == competitor
        return bool(d["path"])

    kept = list(applicable)
    while True:
        matched = [d for d in rows if all(matches(d, c) for c in kept)]
        if len(matched) >= MIN_SIMILAR or len(kept) == 1:
            break
        kept.pop()
    relaxed = [CRITERION_LABELS[c] for c in reversed(applicable) if c not in kept]  # in the order dropped

    shown = matched[:limit]
    entries: dict[int, list[dict]] = defaultdict(list)
    if shown:
        for e in (KnowledgeEntry.objects.filter(kind=KnowledgeKind.WIN_LOSS, opportunity_id__in=[d["id"] for d in shown])
                  .order_by("-created_at").values("id", "title", "opportunity_id", "outcome", "created_at")):
            entries[e["opportunity_id"]].append({"id": e["id"], "title": e["title"], "created_at": e["created_at"]})
    won = sum(1 for d in matched if d["is_won"])
    low, high = wilson_interval(won, len(matched))
    lost_reasons = Counter(_lost_reason(d) for d in matched if not d["is_won"])
    deals = [{
        "id": d["id"], "name": d["name"] or f"Opportunity {d['id']}", "account": d["account__name"] or "",
        "owner": _owner_name(d), "outcome": "won" if d["is_won"] else "lost", "amount": d["amount"],
        "currency": d["currency"], "close_date": d["close_date"],
        "lost_reason": "" if d["is_won"] else _lost_reason(d), "competitor": d["competitor"] or "",
        "close_comment": d["close_comment"] or "", "knowledge": entries.get(d["id"], []),
    } for d in shown]
    return {
        "opportunity_id": opportunity.pk, "criteria": [CRITERION_LABELS[c] for c in kept], "relaxed": relaxed,
        "not_applicable": not_applicable, "segment": segment, "size_band": band, "competitor": opportunity.competitor or "",
        "matched": len(matched), "won": won, "lost": len(matched) - won,
        "win_rate": won / len(matched) if matched else None, "win_rate_low": low, "win_rate_high": high,
        "small_sample": len(matched) < MIN_SAMPLE, "top_lost_reasons": _top(lost_reasons), "deals": deals,
        "min_similar": MIN_SIMILAR, "min_sample": MIN_SAMPLE,
    }
