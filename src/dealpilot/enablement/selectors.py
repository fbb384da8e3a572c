"""Reads of the enablement app: the library with filters, a module's page, honest content
analytics (usage vs outcomes as correlation with sample sizes, ratings that count, the share of
content rated), the authorship leaderboard, stale content, win/loss knowledge and the prompt to
write an analysis after a large deal closes. Sales records only through `visible_to(user)`."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Avg, Count, Exists, F, OuterRef, Prefetch, Q
from django.utils import timezone

from dealpilot.crm.models import ContactRole, Opportunity, User

from .access import can_author
from .messages import deal_values, render_template
from .models import (
    ContentEvent,
    ContentModule,
    ContentRating,
    ContentStatus,
    ContentTag,
    EnablementSettings,
    EventKind,
    JourneyPhase,
    KnowledgeEntry,
    KnowledgeKind,
    TagDimension,
)
from .services import rating_refusal, tag_key
from .vptest import QUESTIONS, hints

CORRELATION_CAVEAT = (
    "Correlation, not causation: reps choose content for deals that already look promising, and good reps use "
    "more content. Read these win rates as a prompt to look closer, not as the effect of the content. "
    "Views and downloads are indicators of interest only."
)
MIN_SAMPLE = 10  # below this many closed deals a win rate is shown as too few to compare


def tag_label(dimension: str, value: str) -> str:
    if dimension == TagDimension.BUYER_ROLE and value in ContactRole.values:
        return ContactRole(value).label
    if dimension == TagDimension.PHASE and value in JourneyPhase.values:
        return JourneyPhase(value).label
    return value


def grouped_tags(module: ContentModule) -> list[tuple[str, list[str]]]:
    by_dim: dict[str, list[str]] = defaultdict(list)
    for tag in module.tags.all():
        by_dim[tag.dimension].append(tag_label(tag.dimension, tag.value))
    return [(TagDimension(d).label, by_dim[d]) for d in TagDimension.values if by_dim.get(d)]


# ---- the library ------------------------------------------------------------------------------------


def library(user, *, q: str = "", kind: str = "", phase: str = "", buyer_role: str = "", industry: str = "",
            stage: str = "", status: str = "", author: int | None = None):
    """Modules the user may read, filtered; newest change first, with tags and authors loaded."""
    rows = ContentModule.objects.visible_to(user)
    if status and can_author(user):
        rows = rows.filter(status=status)
    if kind:
        rows = rows.filter(kind=kind)
    for dimension, value in ((TagDimension.PHASE, phase), (TagDimension.BUYER_ROLE, buyer_role),
                             (TagDimension.INDUSTRY, industry), (TagDimension.STAGE, stage)):
        if value:
            rows = rows.filter(Exists(ContentTag.objects.filter(module=OuterRef("pk"), dimension=dimension, key=tag_key(value))))
    if author:
        rows = rows.filter(authors__id=author)
    if q := " ".join(q.split()):
        tagged = ContentTag.objects.filter(module=OuterRef("pk"), key__contains=tag_key(q))
        rows = rows.filter(Q(title__icontains=q) | Q(summary__icontains=q) | Q(body__icontains=q) |
                           Q(extracted_text__icontains=q) | Exists(tagged))
    return (rows.select_related("owner").prefetch_related("tags", Prefetch("authors", queryset=User.objects.order_by("full_name")))
            .annotate(use_count=Count("events", filter=Q(events__kind=EventKind.USE), distinct=True))
            .order_by("-updated_at", "-pk"))


def tag_choices(dimension: str) -> list[str]:
    values = ContentTag.objects.filter(dimension=dimension).values_list("value", flat=True).distinct()
    return sorted({v for v in values}, key=str.lower)


def value_message_grid(user) -> dict:
    """Published value messages per journey phase (columns) and buyer role (rows): where the
    library speaks to whom, and the gaps."""
    phases = JourneyPhase.values
    counts: dict[tuple[str, str], set] = defaultdict(set)
    modules = ContentModule.objects.visible_to(user).filter(kind="value_message", status=ContentStatus.PUBLISHED)
    by_module: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for module_id, dimension, value in ContentTag.objects.filter(
            module__in=modules, dimension__in=[TagDimension.PHASE, TagDimension.BUYER_ROLE]).values_list("module_id", "dimension", "value"):
        by_module[module_id][dimension].append(value)
    for module_id, tags in by_module.items():
        for phase in tags.get(TagDimension.PHASE) or phases:  # untagged fits every phase
            for role in tags.get(TagDimension.BUYER_ROLE, []):
                counts[(role, phase)].add(module_id)
    roles = [r for r in ContactRole.values if any((r, p) in counts for p in phases)]
    return {"phases": [(p, JourneyPhase(p).label) for p in phases],
            "rows": [(r, ContactRole(r).label, [(p, len(counts.get((r, p), ()))) for p in phases]) for r in roles]}


def library_stats(user) -> dict:
    published = ContentModule.objects.published()
    return {"published": published.count(), "drafts": ContentModule.objects.filter(status=ContentStatus.DRAFT).count()
            if can_author(user) else None}


# ---- a module's page ---------------------------------------------------------------------------------


@dataclass
class ModulePage:
    module: ContentModule
    tags: list
    authors: list
    counts: dict
    rating: dict
    my_rating: ContentRating | None
    rating_refusal: str | None
    can_edit: bool
    hints: list
    answers: list
    deals: list  # the user's deals to record a use with
    my_uses: list
    message: str
    message_deal: Opportunity | None
    outcome: dict | None


def module_page(user, module: ContentModule, *, opportunity_id: int | None = None) -> ModulePage:
    settings = EnablementSettings.current()
    counts = dict(module.events.values_list("kind").annotate(n=Count("id")).order_by())
    deals = list(Opportunity.objects.visible_to(user).filter(is_closed=False).select_related("account")
                 .order_by("close_date", "pk")[:200])
    message_deal = None
    if opportunity_id:
        message_deal = Opportunity.objects.visible_to(user).select_related("account", "owner").filter(pk=opportunity_id).first()
    message = ""
    if module.message_template:
        values = deal_values(message_deal) if message_deal else {}
        message = render_template(module.message_template, values) if message_deal else module.message_template
    answers = [(label, question, module.vp_answers.get(key, "")) for key, label, question in QUESTIONS]
    my_uses = list(module.events.filter(user=user, kind=EventKind.USE).select_related("opportunity").order_by("-created_at")[:5])
    return ModulePage(
        module=module, tags=grouped_tags(module), authors=list(module.authors.order_by("full_name")),
        counts={k: counts.get(k, 0) for k in EventKind.values},
        rating=rating_summary(module, settings), my_rating=module.ratings.filter(user=user).first(),
        rating_refusal=rating_refusal(user, module, settings), can_edit=can_author(user),
        hints=hints(module.value_proposition, module.vp_answers) if module.value_proposition or module.vp_answers else [],
        answers=answers, deals=deals, my_uses=my_uses, message=message, message_deal=message_deal,
        outcome=module_outcome(user, module),
    )


def counted_ratings(settings: EnablementSettings | None = None):
    """Ratings that count: from the roles allowed to rate now, not by an author of the module, and
    by someone who recorded a use (the write path enforces it; re-checked here in case roles or
    authors changed since)."""
    settings = settings or EnablementSettings.current()
    used = ContentEvent.objects.filter(module=OuterRef("module"), user=OuterRef("user"), kind=EventKind.USE)
    authored = ContentModule.authors.through.objects.filter(contentmodule=OuterRef("module"), user=OuterRef("user"))
    return (ContentRating.objects.filter(user__role__in=settings.rating_roles, user__is_active=True)
            .filter(Exists(used)).exclude(Exists(authored)).exclude(module__owner_id=F("user_id")))


def rating_summary(module: ContentModule, settings: EnablementSettings | None = None) -> dict:
    agg = counted_ratings(settings).filter(module=module).aggregate(avg=Avg("stars"), n=Count("id"))
    return {"average": round(agg["avg"], 1) if agg["avg"] is not None else None, "count": agg["n"]}


# ---- analytics -------------------------------------------------------------------------------------------


@dataclass
class Rate:
    wins: int
    total: int
    low: float | None = None
    high: float | None = None

    @property
    def rate(self) -> float | None:
        return self.wins / self.total if self.total else None

    @property
    def enough(self) -> bool:
        return self.total >= MIN_SAMPLE


def win_rate(wins: int, total: int) -> Rate:
    """A win rate with its 95% Wilson interval (scipy)."""
    if not total:
        return Rate(wins, total)
    from scipy.stats import binomtest

    ci = binomtest(wins, total).proportion_ci(confidence_level=0.95, method="wilson")
    return Rate(wins, total, float(ci.low), float(ci.high))


def _closed_deals(user):
    return Opportunity.objects.visible_to(user).filter(is_closed=True)


def usage_vs_outcome(user, module: ContentModule | None = None) -> dict:
    """Win rate of the caller's visible closed deals where (this / any) content was used vs not."""
    closed = _closed_deals(user)
    uses = ContentEvent.objects.filter(opportunity=OuterRef("pk"), kind=EventKind.USE)
    if module is not None:
        uses = uses.filter(module=module)
    rows = closed.annotate(used=Exists(uses)).values_list("used", "is_won")
    tally = Counter((bool(used), bool(won)) for used, won in rows)
    with_use = win_rate(tally[(True, True)], tally[(True, True)] + tally[(True, False)])
    without = win_rate(tally[(False, True)], tally[(False, True)] + tally[(False, False)])
    names = ("Used this module", "Did not use it") if module is not None else ("Used any content", "Used none")
    return {"used": with_use, "not_used": without, "rows": [(names[0], with_use), (names[1], without)],
            "caveat": CORRELATION_CAVEAT, "comparable": with_use.enough and without.enough, "min_sample": MIN_SAMPLE}


def module_outcome(user, module: ContentModule) -> dict | None:
    if not Opportunity.objects.visible_to(user).exists():
        return None  # nobody's deals to compare (e.g. enablement authors)
    return usage_vs_outcome(user, module)


@dataclass
class ModuleStats:
    module: ContentModule
    views: int = 0
    downloads: int = 0
    uses: int = 0
    shares: int = 0
    users: int = 0
    rating: float | None = None
    ratings: int = 0


def content_analytics(user) -> dict:
    """Per published module: events, counted ratings; the share of content rated; usage vs outcome."""
    settings = EnablementSettings.current()
    modules = list(ContentModule.objects.published().prefetch_related("authors").order_by("title"))
    stats = {m.pk: ModuleStats(m) for m in modules}
    for module_id, kind, n in (ContentEvent.objects.filter(module__status=ContentStatus.PUBLISHED)
                               .values_list("module_id", "kind").annotate(n=Count("id")).order_by()):
        attr = {"view": "views", "download": "downloads", "use": "uses", "share": "shares"}[kind]
        setattr(stats[module_id], attr, n)
    for module_id, n in (ContentEvent.objects.filter(module__status=ContentStatus.PUBLISHED).values_list("module_id")
                         .annotate(n=Count("user", distinct=True)).order_by()):
        stats[module_id].users = n
    for module_id, avg, n in (counted_ratings(settings).filter(module__status=ContentStatus.PUBLISHED)
                              .values_list("module_id").annotate(avg=Avg("stars"), n=Count("id")).order_by()):
        stats[module_id].rating, stats[module_id].ratings = round(avg, 1), n
    rated = sum(1 for s in stats.values() if s.ratings)
    all_ratings = ContentRating.objects.filter(module__status=ContentStatus.PUBLISHED).count()
    counted = sum(s.ratings for s in stats.values())
    sees_deals = Opportunity.objects.visible_to(user).exists()
    return {
        "rows": sorted(stats.values(), key=lambda s: (-s.uses, -s.views, s.module.title.lower())),
        "published": len(modules),
        "rated": rated,
        "rated_share": rated / len(modules) if modules else None,
        "ratings_counted": counted,
        "ratings_not_counted": all_ratings - counted,
        "rating_roles": settings.rating_roles,
        "outcome": usage_vs_outcome(user) if sees_deals else None,
        "caveat": CORRELATION_CAVEAT,
    }


@dataclass
class AuthorCredit:
    user: User
    modules: int = 0
    uses: int = 0
    deals: int = 0
    rating: float | None = None
    ratings: int = 0
    knowledge: int = 0
    titles: list = field(default_factory=list)


def leaderboard(limit: int = 20) -> list[AuthorCredit]:
    """Credit to every author of published content (authorship, not ownership): modules, their uses
    with customers, distinct deals, counted ratings, and knowledge entries written."""
    settings = EnablementSettings.current()
    through = ContentModule.authors.through
    pairs = list(through.objects.filter(contentmodule__status=ContentStatus.PUBLISHED)
                 .values_list("user_id", "contentmodule_id", "contentmodule__title"))
    uses = dict(ContentEvent.objects.filter(kind=EventKind.USE).values_list("module_id").annotate(n=Count("id")).order_by())
    deals: dict[int, set] = defaultdict(set)
    for module_id, opp_id in ContentEvent.objects.filter(kind=EventKind.USE, opportunity__isnull=False).values_list(
            "module_id", "opportunity_id").distinct():
        deals[module_id].add(opp_id)
    ratings = {m: (avg, n) for m, avg, n in counted_ratings(settings).values_list("module_id").annotate(
        avg=Avg("stars"), n=Count("id")).order_by()}
    credits: dict[int, AuthorCredit] = {}
    author_deals: dict[int, set] = defaultdict(set)
    star_sum: dict[int, float] = defaultdict(float)
    users = {u.pk: u for u in User.objects.filter(pk__in={p[0] for p in pairs})}
    for user_id, module_id, title in pairs:
        c = credits.setdefault(user_id, AuthorCredit(users[user_id]))
        c.modules += 1
        c.titles.append(title)
        c.uses += uses.get(module_id, 0)
        author_deals[user_id] |= deals.get(module_id, set())
        if module_id in ratings:
            avg, n = ratings[module_id]
            star_sum[user_id] += avg * n
            c.ratings += n
    for user_id, n in (KnowledgeEntry.authors.through.objects.values_list("user_id").annotate(n=Count("id")).order_by()):
        if user_id in credits:
            credits[user_id].knowledge = n
    for user_id, c in credits.items():
        c.deals = len(author_deals[user_id])
        c.rating = round(star_sum[user_id] / c.ratings, 1) if c.ratings else None
    return sorted(credits.values(), key=lambda c: (-c.uses, -c.modules, str(c.user)))[:limit]


def stale_content(today: dt.date | None = None) -> list[dict]:
    """Published modules past their review date, or never used with a customer."""
    today = today or timezone.localdate()
    used = ContentEvent.objects.filter(module=OuterRef("pk"), kind=EventKind.USE)
    rows = (ContentModule.objects.published().annotate(used=Exists(used))
            .filter(Q(review_date__lt=today) | Q(used=False)).prefetch_related("authors").order_by("review_date", "title"))
    return [{"module": m, "overdue": bool(m.review_date and m.review_date < today), "never_used": not m.used} for m in rows]


# ---- win/loss knowledge ----------------------------------------------------------------------------------


def knowledge(user, *, q: str = "", kind: str = "", limit: int = 100) -> list[dict]:
    """Entries (everyone signed in reads them), searched in full text; each with its deal when the user may see it."""
    from . import fulltext

    rows = KnowledgeEntry.objects.all()
    if kind:
        rows = rows.filter(kind=kind)
    entries = fulltext.search(rows.select_related("opportunity").prefetch_related("authors"), q, limit=limit)
    return attach_deals(user, entries)


def attach_deals(user, entries) -> list[dict]:
    opp_ids = {e.opportunity_id for e in entries if e.opportunity_id}
    visible = set(Opportunity.objects.visible_to(user).filter(pk__in=opp_ids).values_list("pk", flat=True))
    return [{"entry": e, "deal": e.opportunity if e.opportunity_id in visible else None} for e in entries]


def large_deals_without_analysis(user, today: dt.date | None = None) -> list[Opportunity]:
    """Closed deals at or above the leader's threshold (in their own currency), closed in the
    last N days, without a win/loss analysis: the prompt for their owners and managers."""
    settings = EnablementSettings.current()
    today = today or timezone.localdate()
    analysed = KnowledgeEntry.objects.filter(opportunity=OuterRef("pk"), kind=KnowledgeKind.WIN_LOSS)
    return list(Opportunity.objects.visible_to(user)
                .filter(is_closed=True, amount__gte=settings.large_deal_amount,
                        close_date__gte=today - dt.timedelta(days=settings.large_deal_days), close_date__lte=today)
                .exclude(Exists(analysed)).select_related("account", "owner").order_by("-amount", "-close_date")[:20])


