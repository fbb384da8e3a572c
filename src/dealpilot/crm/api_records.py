"""The CRM API's writes that record the work: create and edit accounts, contacts, opportunities (with line
items and buying-group roles), log activities with their next step, keep next steps. On the same router
as the reads (crm.api imports this module), so each path serves its GET and its writes.

Every write goes through crm.records / crm.activities / crm.services: the caller's scope, visible
references only, versions (`If-Match: "<version>"`; 409 when stale), field history. An id out of reach
is a 404 (the record) or a 400 (a reference in the body), like one that does not exist."""

from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from django.http import HttpResponse
from ninja import Field, Query, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import ConfigDict

from dealpilot.api_types import Day, Description, Line, Money, Note, RecordId
from dealpilot.concurrency import Conflict, etag, if_match

from . import activities, records, selectors, services
from .api import AccountOut, ActivityOut, ContactOut, NotFound, OpportunityDetailOut, Pages, Problem, _opportunity_out, _visible_or_404, router
from .models import ContactRole, NextStep, Source

WRITE_ANSWERS = {400: Problem, 403: Problem, 404: NotFound}


@contextmanager
def service_answers():
    """The services' refusals as the API's answers (a StaleWrite is answered 409 by the API itself)."""
    try:
        yield
    except services.NotVisible as exc:
        raise HttpError(404, str(exc)) from None
    except services.NotAllowed as exc:
        raise HttpError(403, str(exc)) from None
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None


def _versioned(response: HttpResponse, record) -> object:
    response["ETag"] = etag(record.version)
    return record


class _Strict(Schema):
    model_config = ConfigDict(extra="forbid")  # an unknown field is refused, never ignored


# ---- accounts ------------------------------------------------------------------------------------------


class AccountFields(_Strict):
    industry: str = Field("", max_length=records.SHORT_LIMIT)
    region: str = Field("", max_length=records.SHORT_LIMIT)
    country: str = Field("", max_length=records.SHORT_LIMIT)
    employees: int | None = Field(None, ge=0, le=10_000_000)
    annual_revenue: Money | None = None
    currency: str = Field("USD", min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$")
    parent_id: RecordId | None = Field(None, description="An account you can see")
    owner_id: RecordId | None = Field(None, description="Default: you. Managers and leaders: someone in their scope")


class AccountIn(AccountFields):
    name: str = Field(min_length=1, max_length=records.NAME_LIMIT)
    allow_duplicate: bool = Field(False, description="Create it although an account you can see has the same name")


class AccountPatchIn(AccountFields):
    name: str | None = Field(None, min_length=1, max_length=records.NAME_LIMIT)
    currency: str | None = Field(None, min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$")


class AccountWrittenOut(AccountOut):
    version: int


@router.post("/accounts", response={201: AccountWrittenOut, **WRITE_ANSWERS})
def create_account(request, body: AccountIn, response: HttpResponse):
    """A new account, owned by you unless you give it to someone in your scope. An account you can see
    with the same name is refused (400, naming it) unless `allow_duplicate`."""
    values = body.dict()
    allow = values.pop("allow_duplicate")
    with service_answers():
        account = records.create_account(request.user, allow_duplicate=allow, **values)
    return Status(201, _versioned(response, account))


@router.patch("/accounts/{account_id}", response={200: AccountWrittenOut, 409: Conflict, **WRITE_ANSWERS})
def patch_account(request, account_id: int, body: AccountPatchIn, response: HttpResponse):
    """Change the fields sent (`If-Match: "<version>"` to refuse a stale change)."""
    with service_answers():
        account = records.update_account(request.user, account_id, expected_version=if_match(request),
                                         **body.dict(exclude_unset=True))
    return _versioned(response, account)


# ---- contacts ------------------------------------------------------------------------------------------


class ContactFields(_Strict):
    first_name: str = Field("", max_length=records.SHORT_LIMIT)
    title: str = Field("", max_length=records.NAME_LIMIT)
    email: str = Field("", max_length=records.NAME_LIMIT)
    phone: str = Field("", max_length=records.PHONE_LIMIT)
    reports_to_id: RecordId | None = None
    has_left: bool = False
    owner_id: RecordId | None = None


class ContactIn(ContactFields):
    last_name: str = Field(min_length=1, max_length=records.SHORT_LIMIT)
    account_id: RecordId | None = Field(None, description="Required unless opportunity_id is given (then the deal's account)")
    opportunity_id: RecordId | None = Field(None, description="Also put the contact in this deal's buying group")
    role: Literal[tuple(ContactRole.values)] | None = Field(None, description="Their role on that deal")  # type: ignore[valid-type]


class ContactPatchIn(ContactFields):
    last_name: str | None = Field(None, min_length=1, max_length=records.SHORT_LIMIT)
    account_id: RecordId | None = None
    has_left: bool | None = None


class ContactWrittenOut(ContactOut):
    version: int


@router.post("/contacts", response={201: ContactWrittenOut, **WRITE_ANSWERS})
def create_contact(request, body: ContactIn, response: HttpResponse):
    values = body.dict(exclude_unset=True)
    with service_answers():
        contact = records.create_contact(request.user, opportunity_id=values.pop("opportunity_id", None),
                                         role=values.pop("role", None), **values)
    return Status(201, _versioned(response, contact))


@router.patch("/contacts/{contact_id}", response={200: ContactWrittenOut, 409: Conflict, **WRITE_ANSWERS})
def patch_contact(request, contact_id: int, body: ContactPatchIn, response: HttpResponse):
    with service_answers():
        contact = records.update_contact(request.user, contact_id, expected_version=if_match(request),
                                         **body.dict(exclude_unset=True))
    return _versioned(response, contact)


# ---- opportunities -------------------------------------------------------------------------------------


class LineItemIn(_Strict):
    product_id: RecordId
    quantity: Decimal = Field(Decimal(1), gt=0, max_digits=14, decimal_places=2)
    unit_price: Money | None = Field(None, description="Default: the product's list price")


class OpportunityIn(_Strict):
    name: str = Field(min_length=1, max_length=records.NAME_LIMIT)
    account_id: RecordId | None = None
    stage: str | None = Field(None, max_length=120, description="Default: where new deals start")
    amount: Money | None = Field(None, description="Default: the total of the line items")
    currency: str | None = Field(None, min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$", description="Default: the account's")
    close_date: Day
    probability: Decimal | None = Field(None, ge=0, le=100, max_digits=5, decimal_places=2)
    source: Literal[tuple(Source.values)] = ""  # type: ignore[valid-type]
    forecast_category: str = Field("", max_length=60)
    description: Description = ""
    owner_id: RecordId | None = None
    lost_reason: Line = ""
    competitor: Line = ""
    close_comment: Note = ""
    line_items: list[LineItemIn] = Field(default_factory=list, max_length=200)


@router.post("/opportunities", response={201: OpportunityDetailOut, **WRITE_ANSWERS})
def create_opportunity(request, body: OpportunityIn, response: HttpResponse):
    """A new deal (its first stage in the stage history), with its line items. Created closed, it needs
    what a close needs (won: amount and day; lost: reason, competitor where it applies, comment)."""
    values = body.dict()
    items = values.pop("line_items")
    with service_answers():
        opportunity = records.create_opportunity(request.user, line_items=items, **values)
    return Status(201, _opportunity_out(request, opportunity, response))


@router.post("/opportunities/{opportunity_id}/line-items", response={201: OpportunityDetailOut, 409: Conflict, **WRITE_ANSWERS})
def add_line_item(request, opportunity_id: int, body: LineItemIn, response: HttpResponse):
    """Add a product line; an amount that was the lines' total (or empty) follows the new total."""
    with service_answers():
        records.add_line_item(request.user, opportunity_id, expected_version=if_match(request), **body.dict())
        opportunity = services.editable_opportunity(request.user, opportunity_id)
    return Status(201, _opportunity_out(request, opportunity, response))


@router.delete("/opportunities/{opportunity_id}/line-items/{line_id}", response={200: OpportunityDetailOut, 409: Conflict, **WRITE_ANSWERS})
def remove_line_item(request, opportunity_id: int, line_id: int, response: HttpResponse):
    with service_answers():
        records.remove_line_item(request.user, opportunity_id, line_id, expected_version=if_match(request))
        opportunity = services.editable_opportunity(request.user, opportunity_id)
    return _opportunity_out(request, opportunity, response)


class ContactRoleIn(_Strict):
    contact_id: RecordId
    role: Literal[tuple(ContactRole.values)] = ContactRole.OTHER  # type: ignore[valid-type]
    is_primary: bool = False


@router.put("/opportunities/{opportunity_id}/contact-roles", response={200: OpportunityDetailOut, **WRITE_ANSWERS})
def set_contact_role(request, opportunity_id: int, body: ContactRoleIn, response: HttpResponse):
    """Put a contact of the deal's account in its buying group, or change their role."""
    with service_answers():
        records.set_contact_role(request.user, opportunity_id, **body.dict())
        opportunity = services.editable_opportunity(request.user, opportunity_id)
    return _opportunity_out(request, opportunity, response)


@router.delete("/opportunities/{opportunity_id}/contact-roles/{role_id}", response={200: OpportunityDetailOut, **WRITE_ANSWERS})
def remove_contact_role(request, opportunity_id: int, role_id: int, response: HttpResponse):
    with service_answers():
        records.remove_contact_role(request.user, opportunity_id, role_id)
        opportunity = services.editable_opportunity(request.user, opportunity_id)
    return _opportunity_out(request, opportunity, response)


# ---- activities and next steps ---------------------------------------------------------------------------


class NextStepOut(Schema):
    id: int
    subject: str
    due_date: date
    status: str
    owner_id: int
    opportunity_id: int | None
    account_id: int | None
    contact_id: int | None
    activity_id: int | None
    closed_at: datetime | None
    created_at: datetime
    version: int
    overdue: bool

    @staticmethod
    def resolve_overdue(obj) -> bool:
        from django.utils import timezone

        return obj.is_open and obj.due_date < timezone.localdate()


class LoggedActivityOut(ActivityOut):
    contact_ids: list[int] = Field(description="Everyone of the buyer's side who took part (contact_id is the main one)")
    next_step: NextStepOut | None = None

    @staticmethod
    def resolve_contact_ids(obj) -> list[int]:
        return [c.pk for c in obj.contacts.all()]


class NextStepFields(_Strict):
    subject: Line = Field(min_length=1)
    due_date: Day | None = Field(None, description="Default: in two working days")
    owner_id: RecordId | None = Field(None, description="Default: you")


class ActivityIn(_Strict):
    kind: Literal["call", "meeting", "email", "note"]
    activity_date: Day | None = Field(None, description="Default: today; only a meeting may be ahead")
    subject: Line = ""
    outcome: Line = ""
    notes: Note = ""
    direction: Literal["", "inbound", "outbound"] = ""
    opportunity_id: RecordId | None = None
    account_id: RecordId | None = None
    contact_ids: list[RecordId] = Field(default_factory=list, max_length=50, description="Who took part; the first is the main contact")
    owner_id: RecordId | None = None
    next_step: NextStepFields | None = None


class ActivityPatchIn(_Strict):
    kind: Literal["call", "meeting", "email", "note", "task"] | None = None
    activity_date: Day | None = None
    subject: Line | None = None
    outcome: Line | None = None
    notes: Note | None = None
    direction: Literal["", "inbound", "outbound"] | None = None
    contact_ids: list[RecordId] | None = Field(None, max_length=50)


@router.post("/activities", response={201: LoggedActivityOut, **WRITE_ANSWERS})
def log_activity(request, body: ActivityIn, response: HttpResponse):
    """Log a call, meeting, e-mail or note on a deal, an account or a contact, with the next step it agreed."""
    values = body.dict()
    if values["next_step"] is None:
        values.pop("next_step")
    for name in ("activity_date", "subject", "outcome", "notes", "direction"):
        if values[name] is None:
            values.pop(name)
    with service_answers():
        activity, step = activities.log_activity(request.user, **values)
    activity.next_step = step
    return Status(201, _versioned(response, activity))


@router.patch("/activities/{activity_id}", response={200: LoggedActivityOut, 409: Conflict, **WRITE_ANSWERS})
def patch_activity(request, activity_id: int, body: ActivityPatchIn, response: HttpResponse):
    changes = body.dict(exclude_unset=True)
    with service_answers():
        activity = activities.update_activity(request.user, activity_id, expected_version=if_match(request), **changes)
    return _versioned(response, activity)


class NextStepFilters(Schema):
    status: Literal["open", "done", "cancelled", ""] = "open"
    when: Literal[tuple(selectors.NEXT_STEP_WHEN)] = "all"  # type: ignore[valid-type]
    owner: RecordId | None = None
    opportunity: RecordId | None = None
    account: RecordId | None = None
    contact: RecordId | None = None


@router.get("/next-steps", response=list[NextStepOut])
@paginate(Pages)
def list_next_steps(request, filters: Query[NextStepFilters]):
    """Next steps you can see, soonest first (`when`: overdue, today, week — overdue included —, later, all)."""
    return selectors.next_steps(request.user, **filters.dict())


class NextStepIn(NextStepFields):
    opportunity_id: RecordId | None = None
    account_id: RecordId | None = None
    contact_id: RecordId | None = None


@router.post("/next-steps", response={201: NextStepOut, **WRITE_ANSWERS})
def create_next_step(request, body: NextStepIn, response: HttpResponse):
    with service_answers():
        step = activities.create_next_step(request.user, **body.dict())
    return Status(201, _versioned(response, step))


@router.get("/next-steps/{step_id}", response={200: NextStepOut, 404: NotFound})
def get_next_step(request, step_id: int, response: HttpResponse):
    return _versioned(response, _visible_or_404(NextStep.objects.visible_to(request.user), step_id, "Next step"))


class NextStepPatchIn(_Strict):
    subject: Line | None = Field(None, min_length=1)
    due_date: Day | None = None
    owner_id: RecordId | None = None
    status: Literal["open", "done", "cancelled"] | None = None


@router.patch("/next-steps/{step_id}", response={200: NextStepOut, 409: Conflict, **WRITE_ANSWERS})
def patch_next_step(request, step_id: int, body: NextStepPatchIn, response: HttpResponse):
    """Done, cancelled, reopened, rescheduled, reworded or handed on (within your scope)."""
    changes = body.dict(exclude_unset=True)
    if any(changes.get(name, "") is None for name in ("subject", "due_date", "owner_id", "status")):
        raise HttpError(400, "send a value for each field you change (a next step keeps its subject, due date, owner and status)")
    with service_answers():
        step = activities.update_next_step(request.user, step_id, expected_version=if_match(request), **changes)
    return _versioned(response, step)

