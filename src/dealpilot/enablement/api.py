"""The Enablement API (mounted at /api/enablement/): the library, modules (authors write), events,
ratings, suggestions for an opportunity, analytics and win/loss knowledge. Modules and deals the
caller may not see are 404; a rule that refuses (e.g. an author rating their own module) is 403
with the reason; bad input is 400/422 and writes nothing."""


from datetime import date, datetime
from typing import Literal

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate

from dealpilot.api_types import Code, Comment, Day, Document, Name, Note, RecordId, SearchText, Short
from dealpilot.pagination import Pages as PageNumberPagination  # the page number bounded
from dealpilot.validation import LANGUAGE_MAX, validation_message

from dealpilot.concurrency import Conflict, etag, if_match
from dealpilot.history.schemas import HistoryOut, history_out
from dealpilot.recycle_bin.api import BinEntryOut, deleted_answer

from . import selectors, services
from .access import can_author
from .models import ContentKind, ContentModule, ContentStatus, JourneyPhase, KnowledgeEntry, KnowledgeKind, TagDimension
from .suggest import suggestions_for

router = Router(tags=["enablement"])


class Pages(PageNumberPagination):
    def __init__(self, **kwargs):
        super().__init__(page_size=50, max_page_size=500, **kwargs)


class Message(Schema):
    detail: str


class AuthorOut(Schema):
    id: int
    name: str

    @staticmethod
    def resolve_name(obj) -> str:
        return str(obj)


class TagOut(Schema):
    dimension: str
    value: str


class ModuleOut(Schema):
    id: int
    title: str
    kind: str
    summary: str
    status: str
    language: str
    review_date: date | None
    owner_id: int | None
    authors: list[AuthorOut]
    tags: list[TagOut]
    has_file: bool
    file_name: str
    text_status: str = Field(description="the file's text for search: '' no file, pending (being read), ready, failed")
    updated_at: datetime

    @staticmethod
    def resolve_authors(obj) -> list:
        return list(obj.authors.all())

    @staticmethod
    def resolve_tags(obj) -> list:
        return list(obj.tags.all())

    @staticmethod
    def resolve_has_file(obj) -> bool:
        return bool(obj.file)


class ModuleDetailOut(ModuleOut):
    version: int = Field(description="Send it back as If-Match: \"<version>\" with a change (also the ETag header)")
    body: str
    message_template: str
    value_proposition: str
    vp_answers: dict[str, str]


Tag = Name  # a tag's value (the column)


class TagsIn(Schema):
    challenge: list[Tag] = []
    industry: list[Tag] = []
    buyer_role: list[Tag] = []
    phase: list[JourneyPhase] = []
    stage: list[Tag] = []
    product: list[Tag] = []


class ModuleIn(Schema):
    """The fields a module write may set (nothing else is read)."""

    title: Name
    kind: ContentKind
    status: ContentStatus = ContentStatus.DRAFT
    summary: Short = ""
    body: Document = ""
    message_template: Document = ""
    value_proposition: Document = ""
    vp_answers: dict[Code, Note] = {}
    language: str = Field("en", max_length=LANGUAGE_MAX)
    review_date: Day | None = None
    tags: TagsIn = TagsIn()
    author_ids: list[RecordId] | None = None


class ModulePatch(Schema):
    title: Name | None = None
    kind: ContentKind | None = None
    status: ContentStatus | None = None
    summary: Short | None = None
    body: Document | None = None
    message_template: Document | None = None
    value_proposition: Document | None = None
    vp_answers: dict[Code, Note] | None = None
    language: str | None = Field(None, max_length=LANGUAGE_MAX)
    review_date: Day | None = None
    tags: TagsIn | None = None
    author_ids: list[RecordId] | None = None


class LibraryFilters(Schema):
    q: SearchText = ""
    kind: Literal["", *ContentKind.values] = ""  # type: ignore[valid-type]
    phase: Literal["", *JourneyPhase.values] = ""  # type: ignore[valid-type]
    buyer_role: SearchText = ""
    industry: SearchText = ""
    stage: SearchText = ""
    status: Literal["", *ContentStatus.values] = ""  # type: ignore[valid-type]


class EventIn(Schema):
    kind: Literal["view", "download", "use", "share"]
    opportunity_id: RecordId | None = None
    note: Short = ""


class EventOut(Schema):
    id: int
    module_id: int
    kind: str
    opportunity_id: int | None
    created_at: datetime


class RatingIn(Schema):
    stars: int = Field(..., ge=1, le=5)
    comment: Comment = ""


class RatingOut(Schema):
    module_id: int
    stars: int
    comment: str


class SuggestionOut(Schema):
    module_id: int
    title: str
    kind: str
    kind_label: str
    summary: str
    authors: list[str]
    score: float
    reasons: list[str]
    message: str


class RateOut(Schema):
    wins: int
    total: int
    rate: float | None
    low: float | None
    high: float | None


class OutcomeOut(Schema):
    used: RateOut
    not_used: RateOut
    comparable: bool
    caveat: str


class ModuleStatsOut(Schema):
    module_id: int
    title: str
    views: int
    downloads: int
    uses: int
    shares: int
    users: int
    rating: float | None
    ratings: int


class AuthorCreditOut(Schema):
    author_id: int
    name: str
    modules: int
    uses: int
    deals: int
    rating: float | None
    ratings: int
    knowledge: int


class StaleOut(Schema):
    module_id: int
    title: str
    review_date: date | None
    overdue: bool
    never_used: bool


class AnalyticsOut(Schema):
    published: int
    rated: int
    rated_share: float | None
    ratings_counted: int
    ratings_not_counted: int
    rating_roles: list[str]
    outcome: OutcomeOut | None
    caveat: str
    modules: list[ModuleStatsOut]
    leaderboard: list[AuthorCreditOut]
    stale: list[StaleOut]


class KnowledgeIn(Schema):
    kind: KnowledgeKind
    title: Name
    body: Document
    opportunity_id: RecordId | None = None
    author_ids: list[RecordId] | None = None


class KnowledgeOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    outcome: str
    industry: str
    opportunity_id: int | None = Field(None, description="Only when you may see the deal")
    authors: list[AuthorOut]
    created_at: datetime


def _module(request, module_id: int) -> ContentModule:
    module = (ContentModule.objects.visible_to(request.user).prefetch_related("authors", "tags").filter(pk=module_id).first())
    if module is None:
        raise HttpError(404, f"Content module {module_id} not found")
    return module


def _bad_request(exc: ValidationError) -> HttpError:
    return HttpError(400, validation_message(exc))


def _tags(tags: TagsIn) -> dict:
    return {TagDimension(d): [str(v) for v in getattr(tags, d)] for d in TagDimension.values}


# ---- modules ----------------------------------------------------------------------------------


@router.get("/modules", response=list[ModuleOut])
@paginate(Pages)
def list_modules(request, filters: Query[LibraryFilters]):
    return selectors.library(request.user, **filters.dict())


def _with_etag(module: ContentModule, response: HttpResponse) -> ContentModule:
    response["ETag"] = etag(module.version)
    return module


@router.get("/modules/{module_id}", response={200: ModuleDetailOut, 404: Message})
def get_module(request, module_id: int, response: HttpResponse):
    return _with_etag(_module(request, module_id), response)


@router.post("/modules", response={201: ModuleDetailOut, 400: Message, 404: Message})
def create_module(request, payload: ModuleIn, response: HttpResponse):
    if not can_author(request.user):
        raise HttpError(404, "Not found")  # not for this role: like a page that does not exist
    data = payload.dict()
    try:
        module = services.save_module(request.user, fields={k: data[k] for k in services.MODULE_FIELDS},
                                      tags=_tags(payload.tags), author_ids=payload.author_ids, vp_answers=payload.vp_answers)
    except ValidationError as exc:
        raise _bad_request(exc) from None
    return Status(201, _with_etag(_module(request, module.pk), response))


@router.patch("/modules/{module_id}", response={200: ModuleDetailOut, 400: Message, 404: Message, 409: Conflict})
def update_module(request, module_id: int, payload: ModulePatch, response: HttpResponse):
    """Send the version you loaded as If-Match: \"<version>\" (409 when someone changed the module
    since); without If-Match the change is accepted whatever the version."""
    if not can_author(request.user):
        raise HttpError(404, f"Content module {module_id} not found")
    module = _module(request, module_id)
    expected = if_match(request)
    data = payload.dict(exclude_unset=True)
    fields = {k: data[k] for k in services.MODULE_FIELDS if k in data and (data[k] is not None or k == "review_date")}
    try:
        services.save_module(request.user, module=module, fields=fields,
                             tags=_tags(payload.tags) if payload.tags is not None else None,
                             author_ids=payload.author_ids, vp_answers=payload.vp_answers, expected_version=expected)
    except ValidationError as exc:
        raise _bad_request(exc) from None
    return _with_etag(_module(request, module_id), response)


@router.delete("/modules/{module_id}", response={200: BinEntryOut, 404: Message})
def delete_module(request, module_id: int):
    """Move the module to the recycle bin: its owner, credited authors, and the authoring roles may."""
    return deleted_answer(request.user, "content", module_id)


@router.get("/modules/{module_id}/history", response={200: HistoryOut, 404: Message})
def module_history(request, module_id: int):
    """Who changed which field when, newest first."""
    return history_out(_module(request, module_id))


@router.post("/modules/{module_id}/events", response={201: EventOut, 400: Message, 404: Message})
def record_event(request, module_id: int, payload: EventIn):
    module = _module(request, module_id)
    try:
        event = services.record_event(request.user, module, payload.kind, opportunity_id=payload.opportunity_id, note=payload.note)
    except services.NotVisible as exc:
        raise HttpError(404, str(exc)) from None
    except ValidationError as exc:
        raise _bad_request(exc) from None
    return Status(201, event)


@router.put("/modules/{module_id}/rating", response={200: RatingOut, 403: Message, 404: Message})
def rate(request, module_id: int, payload: RatingIn):
    module = _module(request, module_id)
    try:
        rating = services.rate_module(request.user, module, stars=payload.stars, comment=payload.comment)
    except services.NotAllowed as exc:
        raise HttpError(403, str(exc)) from None
    return rating


# ---- suggestions and analytics --------------------------------------------------------------------


@router.get("/opportunities/{opportunity_id}/suggestions", response={200: list[SuggestionOut], 404: Message})
def suggestions(request, opportunity_id: int, limit: int = Query(6, ge=1, le=50)):
    found = suggestions_for(request.user, opportunity_id, limit=limit)
    if found is None:
        raise HttpError(404, f"Opportunity {opportunity_id} not found")
    return found


def _rate(r) -> dict:
    return {"wins": r.wins, "total": r.total, "rate": r.rate, "low": r.low, "high": r.high}


@router.get("/analytics", response={200: AnalyticsOut, 404: Message})
def analytics(request):
    from .views import can_see_analytics

    if not can_see_analytics(request.user):
        raise HttpError(404, "Not found")
    a = selectors.content_analytics(request.user)
    outcome = a["outcome"]
    return {
        **{k: a[k] for k in ("published", "rated", "rated_share", "ratings_counted", "ratings_not_counted", "rating_roles", "caveat")},
        "outcome": {"used": _rate(outcome["used"]), "not_used": _rate(outcome["not_used"]), "comparable": outcome["comparable"],
                    "caveat": outcome["caveat"]} if outcome else None,
        "modules": [{"module_id": r.module.pk, "title": r.module.title, **{k: getattr(r, k) for k in (
            "views", "downloads", "uses", "shares", "users", "rating", "ratings")}} for r in a["rows"]],
        "leaderboard": [{"author_id": c.user.pk, "name": str(c.user), **{k: getattr(c, k) for k in (
            "modules", "uses", "deals", "rating", "ratings", "knowledge")}} for c in selectors.leaderboard()],
        "stale": [{"module_id": s["module"].pk, "title": s["module"].title, "review_date": s["module"].review_date,
                   "overdue": s["overdue"], "never_used": s["never_used"]} for s in selectors.stale_content()],
    }


# ---- knowledge ------------------------------------------------------------------------------------------


def _knowledge_out(row: dict) -> dict:
    e = row["entry"]
    return {"id": e.pk, "kind": e.kind, "title": e.title, "body": e.body, "outcome": e.outcome, "industry": e.industry,
            "opportunity_id": row["deal"].pk if row["deal"] else None, "authors": list(e.authors.all()), "created_at": e.created_at}


@router.get("/knowledge", response=list[KnowledgeOut])
def list_knowledge(request, q: SearchText = "", kind: Literal["", "win_loss", "best_practice"] = "", limit: int = Query(50, ge=1, le=200)):
    return [_knowledge_out(r) for r in selectors.knowledge(request.user, q=q[:200], kind=kind, limit=limit)]


@router.post("/knowledge", response={201: KnowledgeOut, 400: Message, 404: Message})
def create_knowledge(request, payload: KnowledgeIn):
    try:
        entry = services.save_knowledge(request.user, kind=payload.kind, title=payload.title, body=payload.body,
                                        opportunity_id=payload.opportunity_id, author_ids=payload.author_ids)
    except services.NotVisible as exc:
        raise HttpError(404, str(exc)) from None
    except ValidationError as exc:
        raise _bad_request(exc) from None
    return Status(201, _knowledge_out(selectors.attach_deals(request.user, [KnowledgeEntry.objects.get(pk=entry.pk)])[0]))


@router.get("/knowledge/{entry_id}", response={200: KnowledgeOut, 404: Message})
def get_knowledge(request, entry_id: int):
    entry = KnowledgeEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        raise HttpError(404, f"Entry {entry_id} not found")
    return _knowledge_out(selectors.attach_deals(request.user, [entry])[0])
