"""The CRM records over JSON: lists (paginated, filtered) and details of accounts, contacts,
opportunities and activities. Every query goes through `visible_to(request.user)`; an id the
caller may not see answers 404, exactly like an id that does not exist."""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import ConfigDict

from dealpilot.api_types import Day, Description, Money, RecordId, SearchText
from dealpilot.concurrency import Conflict, etag, if_match
from dealpilot.history.schemas import HistoryOut, history_out
from dealpilot.pagination import Pages as PageNumberPagination  # the page number bounded
from dealpilot.validation import CODE_MAX, COMMENT_MAX, LINE_MAX, NOTE_MAX, STAGE_MAX
from dealpilot.recycle_bin.api import BinEntryOut, deleted_answer

from . import selectors, services
from .models import Account, Activity, Contact, Opportunity

router = Router(tags=["crm"])

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class Pages(PageNumberPagination):
    def __init__(self, **kwargs):
        super().__init__(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE, **kwargs)


class NotFound(Schema):
    detail: str


def _visible_or_404(queryset, pk: int, label: str):
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise HttpError(404, f"{label} {pk} not found")
    return obj


# ---- schemas ------------------------------------------------------------------------------------


class UserRef(Schema):
    id: int
    username: str
    name: str
    role: str

    @staticmethod
    def resolve_name(obj) -> str:
        return str(obj)


class AccountRef(Schema):
    id: int
    name: str


class PlanUnitOut(Schema):
    id: int
    crm_id: str | None
    name: str


class AccountOut(Schema):
    id: int
    crm_id: str | None
    name: str
    industry: str
    employees: int | None
    size: str
    region: str
    country: str
    annual_revenue: Decimal | None
    currency: str
    parent_id: int | None
    owner: UserRef | None
    created_at: datetime
    updated_at: datetime


class AccountListOut(AccountOut):
    open_opportunities: int = Field(description="Open opportunities you can see")
    pipeline: Decimal = Field(description="Sum of those in the account's currency")


class AccountDetailOut(AccountOut):
    parent: AccountRef | None
    subsidiaries: list[AccountRef]
    plan_units: list[PlanUnitOut]
    contact_count: int
    opportunity_count: int


class ContactOut(Schema):
    id: int
    crm_id: str | None
    account_id: int | None
    plan_unit_id: int | None
    plan_unit_name: str | None
    first_name: str
    last_name: str
    title: str
    email: str
    phone: str
    reports_to_id: int | None
    owner_id: int | None
    has_left: bool

    @staticmethod
    def resolve_plan_unit_name(obj) -> str | None:
        return obj.plan_unit.name if obj.plan_unit_id else None


class OpportunityOut(Schema):
    id: int
    crm_id: str | None
    name: str
    account: AccountRef | None
    owner: UserRef | None
    stage: str
    status: Literal["open", "won", "lost"]
    amount: Decimal | None
    currency: str
    probability: Decimal | None
    forecast_category: str
    created_date: date | None
    close_date: date | None
    is_closed: bool
    is_won: bool
    source: str
    source_detail: str
    lost_reason: str
    competitor: str
    close_comment: str


class ContactRoleOut(Schema):
    id: int
    contact_id: int
    contact_name: str
    title: str
    role: str
    role_detail: str
    is_primary: bool

    @staticmethod
    def resolve_contact_name(obj) -> str:
        return str(obj.contact)

    @staticmethod
    def resolve_title(obj) -> str:
        return obj.contact.title


class LineItemOut(Schema):
    id: int
    product_id: int
    product_name: str
    product_code: str
    quantity: Decimal
    unit_price: Decimal | None
    total_price: Decimal | None

    @staticmethod
    def resolve_product_name(obj) -> str:
        return obj.product.name

    @staticmethod
    def resolve_product_code(obj) -> str:
        return obj.product.code


class StageStepOut(Schema):
    stage: str
    changed_at: datetime
    amount: Decimal | None
    probability: Decimal | None
    close_date: date | None
    days_in_stage: int | None
    current: bool

    @staticmethod
    def resolve_days_in_stage(obj) -> int | None:
        return obj.days


class OpportunityDetailOut(OpportunityOut):
    version: int = Field(description="Send it back as If-Match: \"<version>\" with a change (also the ETag header)")
    description: str
    contact_roles: list[ContactRoleOut]
    line_items: list[LineItemOut]
    stage_history: list[StageStepOut]


class ActivityOut(Schema):
    id: int
    crm_id: str | None
    kind: str
    direction: str
    activity_date: date
    subject: str
    status: str
    owner_id: int | None
    account_id: int | None
    contact_id: int | None
    opportunity_id: int | None
    outcome: str
    notes: str
    logged_by_id: int | None = Field(description="Who logged it in dealpilot (imported activities: none)")
    version: int


# ---- filters ------------------------------------------------------------------------------------


class AccountFilters(Schema):
    q: SearchText = Field("", description="Part of the account name")
    industry: SearchText = ""
    region: SearchText = ""
    owner: RecordId | None = Field(None, description="Owner's user id")
    sort: Literal[tuple(selectors.ACCOUNT_SORTS)] = "name"  # type: ignore[valid-type]


class OpportunityFilters(Schema):
    q: SearchText = Field("", description="Part of the opportunity or account name, or the CRM id")
    stage: SearchText = ""
    status: Literal["", "open", "won", "lost", "lost-no-reason"] = ""
    owner: RecordId | None = None
    account: RecordId | None = None
    close_from: Day | None = None
    close_to: Day | None = None
    sort: Literal[tuple(selectors.OPPORTUNITY_SORTS)] = "close_date"  # type: ignore[valid-type]


class ContactFilters(Schema):
    q: SearchText = Field("", description="Part of the name, email or title")
    account: RecordId | None = None


class ActivityFilters(Schema):
    kind: Literal["", "call", "meeting", "email", "task", "note"] = ""
    account: RecordId | None = None
    opportunity: RecordId | None = None
    owner: RecordId | None = None
    date_from: Day | None = None
    date_to: Day | None = None


# ---- endpoints ----------------------------------------------------------------------------------


@router.get("/accounts", response=list[AccountListOut])
@paginate(Pages)
def list_accounts(request, filters: Query[AccountFilters]):
    return selectors.account_list(request.user, **filters.dict())


@router.get("/accounts/{account_id}", response={200: AccountDetailOut, 404: NotFound})
def get_account(request, account_id: int):
    account = _visible_or_404(Account.objects.visible_to(request.user).select_related("owner"), account_id, "Account")
    d = selectors.account_detail(request.user, account, activity_limit=0)
    return {
        **{f: getattr(account, f) for f in AccountOut.model_fields if f != "owner"},
        "owner": account.owner,
        "parent": d.parent,
        "subsidiaries": d.subsidiaries,
        "plan_units": d.plan_units,
        "contact_count": len(d.contacts),
        "opportunity_count": len(d.opportunities),
    }


@router.get("/contacts", response=list[ContactOut])
@paginate(Pages)
def list_contacts(request, filters: Query[ContactFilters]):
    return selectors.contact_list(request.user, **filters.dict())


@router.get("/contacts/{contact_id}", response={200: ContactOut, 404: NotFound})
def get_contact(request, contact_id: int):
    return _visible_or_404(Contact.objects.visible_to(request.user).select_related("plan_unit"), contact_id, "Contact")


@router.get("/opportunities", response=list[OpportunityOut])
@paginate(Pages)
def list_opportunities(request, filters: Query[OpportunityFilters]):
    return selectors.opportunity_list(request.user, **filters.dict())


def _opportunity_out(request, opportunity: Opportunity, response: HttpResponse) -> dict:
    d = selectors.opportunity_detail(request.user, opportunity, activity_limit=0)
    response["ETag"] = etag(opportunity.version)
    return {
        **{f: getattr(opportunity, f) for f in OpportunityOut.model_fields},
        "version": opportunity.version,
        "description": opportunity.description,
        "contact_roles": d.contact_roles,
        "line_items": d.line_items,
        "stage_history": d.timeline,
    }


@router.get("/opportunities/{opportunity_id}", response={200: OpportunityDetailOut, 404: NotFound})
def get_opportunity(request, opportunity_id: int, response: HttpResponse):
    opportunity = _visible_or_404(
        Opportunity.objects.visible_to(request.user).select_related("account", "owner"), opportunity_id, "Opportunity"
    )
    return _opportunity_out(request, opportunity, response)


class OpportunityPatchIn(Schema):
    """The fields a seller may change (nothing else is read; an unknown field is refused). Send the
    version you loaded as `If-Match: "<version>"`; without it the change wins over any other."""

    model_config = ConfigDict(extra="forbid")

    stage: str | None = Field(None, min_length=1, max_length=STAGE_MAX)
    amount: Money | None = None
    close_date: Day | None = None
    probability: Decimal | None = Field(None, ge=0, le=100, max_digits=5, decimal_places=2)
    forecast_category: str | None = Field(None, max_length=CODE_MAX)
    lost_reason: str | None = Field(None, max_length=LINE_MAX, description="Closing as lost: one of GET /api/crm/lost-reasons")
    competitor: str | None = Field(None, max_length=LINE_MAX, description="Closing as lost to a competitor: who won")
    close_comment: str | None = Field(None, max_length=NOTE_MAX, description="Closing as lost: what decided it")
    description: Description | None = None
    owner_id: RecordId | None = Field(None, description="Managers (within their team), sales leaders and administrators only")
    stage_reason: str | None = Field(None, max_length=COMMENT_MAX, description=(
        "Moving forward with exit criteria of the stage left (or skipped) still open: why; recorded on the deal "
        "(GET /api/deals/opportunities/{id}/exit-criteria). Without it such a move is a 400 listing what is open; "
        "a stage the sales leader enforces refuses it anyway"))


class Problem(Schema):
    detail: str


@router.patch("/opportunities/{opportunity_id}",
              response={200: OpportunityDetailOut, 400: Problem, 403: Problem, 404: NotFound, 409: Conflict})
def patch_opportunity(request, opportunity_id: int, body: OpportunityPatchIn, response: HttpResponse):
    expected = if_match(request)
    changes = body.dict(exclude_unset=True)
    if changes.get("stage", "") is None:
        raise HttpError(400, "the stage cannot be empty")
    if "owner_id" in changes and changes["owner_id"] is None:
        raise HttpError(400, "an opportunity keeps an owner: send the new owner's id")
    try:
        opportunity = services.update_opportunity(request.user, opportunity_id, expected_version=expected, **changes)
    except services.NotVisible as exc:
        raise HttpError(404, str(exc)) from None
    except services.NotAllowed as exc:
        raise HttpError(403, str(exc)) from None
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    return _opportunity_out(request, opportunity, response)


class LostReasonOut(Schema):
    label: str
    needs_competitor: bool


@router.get("/lost-reasons", response=list[LostReasonOut])
def lost_reasons(request):
    """The reasons a deal may be closed lost with (the sales leader's list, in its order)."""
    return list(services.active_lost_reasons())


@router.get("/data-quality/lost-without-reason", response=list[OpportunityOut])
@paginate(Pages)
def lost_without_reason(request):
    """Deals closed lost without a lost reason (imported so from the CRM): the win/loss analysis cannot
    count them until someone says why."""
    return selectors.lost_without_reason(request.user)


@router.delete("/accounts/{account_id}", response={200: BinEntryOut, 404: NotFound, 409: NotFound})
def delete_account(request, account_id: int):
    """Move the account to the recycle bin with its contacts, opportunities and activities (its owner's
    scope may; 409 when it holds opportunities of people outside the caller's scope)."""
    return deleted_answer(request.user, "account", account_id)


@router.delete("/contacts/{contact_id}", response={200: BinEntryOut, 404: NotFound})
def delete_contact(request, contact_id: int):
    """Move the contact to the recycle bin with its activities; it leaves the buying groups it was in."""
    return deleted_answer(request.user, "contact", contact_id)


@router.delete("/activities/{activity_id}", response={200: BinEntryOut, 404: NotFound})
def delete_activity(request, activity_id: int):
    """Move the activity to the recycle bin (whoever sees it may)."""
    return deleted_answer(request.user, "activity", activity_id)


@router.delete("/opportunities/{opportunity_id}", response={200: BinEntryOut, 404: NotFound})
def delete_opportunity(request, opportunity_id: int):
    """Move the opportunity to the recycle bin (whoever may edit it may delete it)."""
    return deleted_answer(request.user, "opportunity", opportunity_id)


# ---- field history ------------------------------------------------------------------------------


@router.get("/opportunities/{opportunity_id}/history", response={200: HistoryOut, 404: NotFound})
def opportunity_history(request, opportunity_id: int):
    """Who changed which field when (newest first); changes from imports are listed under Imports."""
    return history_out(_visible_or_404(Opportunity.objects.visible_to(request.user), opportunity_id, "Opportunity"))


@router.get("/accounts/{account_id}/history", response={200: HistoryOut, 404: NotFound})
def account_history(request, account_id: int):
    return history_out(_visible_or_404(Account.objects.visible_to(request.user), account_id, "Account"))


@router.get("/contacts/{contact_id}/history", response={200: HistoryOut, 404: NotFound})
def contact_history(request, contact_id: int):
    return history_out(_visible_or_404(Contact.objects.visible_to(request.user), contact_id, "Contact"))


@router.get("/activities", response=list[ActivityOut])
@paginate(Pages)
def list_activities(request, filters: Query[ActivityFilters]):
    return selectors.activity_list(request.user, **filters.dict())


@router.get("/activities/{activity_id}", response={200: ActivityOut, 404: NotFound})
def get_activity(request, activity_id: int):
    return _visible_or_404(Activity.objects.visible_to(request.user), activity_id, "Activity")


# the writes that record the work (create, log, next steps) sit on this router too: a path serves its GET and its writes
from . import api_records  # noqa: E402,F401
