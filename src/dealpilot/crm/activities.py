"""Logging the work: calls, meetings, e-mails and notes on a deal, an account or a contact, with who
took part, how it went and the next step; and next steps (the seller's tasks) kept, done or cancelled.

Same rules as every write (crm.records): the caller's scope, visible references only, versions,
field history. Raises NotVisible (404), NotAllowed (403), ValueError (400) or StaleWrite (409).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone

from dealpilot.concurrency import save_if_current
from dealpilot.validation import LINE_MAX, NOTE_MAX

from .models import Activity, ActivityKind, Contact, Direction, NextStep, NextStepStatus, Opportunity, User
from .records import day, owner_for, require_recorder, text, visible_account
from .services import NotVisible

ACTIVITY_FIELDS = ("kind", "activity_date", "subject", "outcome", "notes", "direction", "contact_ids")
# only a meeting is logged ahead of time (the invitation); a call, an e-mail or a note has happened
MAY_BE_AHEAD = (ActivityKind.MEETING,)


@dataclass
class Subject:
    """What a piece of work is about: a deal (and so its account), an account, or a contact."""

    opportunity: Opportunity | None
    account: object | None
    contact: Contact | None


def subject_for(user: User, *, opportunity_id: int | None = None, account_id: int | None = None,
                contact_id: int | None = None) -> Subject:
    """The deal, account and contact a log or a next step is about, each visible to `user` and
    consistent with the others (the contact of the account, the deal at the account)."""
    if opportunity_id is None and account_id is None and contact_id is None:
        raise ValueError("say what it is about: an opportunity, an account or a contact")
    opportunity = None
    if opportunity_id is not None:
        opportunity = Opportunity.objects.visible_to(user).select_related("account").filter(pk=opportunity_id).first()
        if opportunity is None:
            raise NotVisible(f"Opportunity {opportunity_id} not found")
    account = visible_account(user, account_id) if account_id is not None else (opportunity.account if opportunity else None)
    if opportunity is not None and account is not None and opportunity.account_id not in (None, account.pk):
        raise ValueError("the opportunity is not at that account")
    contact = None
    if contact_id is not None:
        contact = _contacts(user, [contact_id], account)[0]
        account = account or contact.account
    return Subject(opportunity, account, contact)


def _contacts(user: User, ids, account) -> list[Contact]:
    ids = list(dict.fromkeys(ids or []))
    found = {c.pk: c for c in Contact.objects.visible_to(user).select_related("account").filter(pk__in=ids)}
    for pk in ids:
        if pk not in found or (account is not None and found[pk].account_id not in (None, account.pk)):
            raise ValueError(f"contact {pk} is not a contact of this account you can see")
    return [found[pk] for pk in ids]


def _kind(value) -> str:
    value = (value or "").strip()
    if value not in ActivityKind.values:
        raise ValueError(f"{value[:20]!r} is not an activity kind; one of: {', '.join(ActivityKind.values)}")
    return value


def _direction(value) -> str:
    value = (value or "").strip()
    if value not in Direction.values:
        raise ValueError(f"{value[:20]!r} is not a direction; one of: inbound, outbound (or empty)")
    return value


def _activity_fields(values: dict, *, kind: str) -> dict:
    fields = {}
    if "activity_date" in values:
        fields["activity_date"] = day(values["activity_date"], "the day") or timezone.localdate()
        if kind not in MAY_BE_AHEAD and fields["activity_date"] > timezone.localdate():
            raise ValueError(f"a {ActivityKind(kind).label.lower()} is logged once it has happened: the day is in the future")
    if "subject" in values:
        fields["subject"] = text(values["subject"], LINE_MAX, "the subject")
    if "outcome" in values:
        fields["outcome"] = text(values["outcome"], LINE_MAX, "the outcome")
    if "notes" in values:
        fields["notes"] = text(values["notes"], NOTE_MAX, "the notes")
    if "direction" in values:
        fields["direction"] = _direction(values["direction"])
    return fields


def log_activity(user: User, *, kind: str, opportunity_id: int | None = None, account_id: int | None = None,
                 contact_ids: list[int] | None = None, owner_id: int | None = None, next_step: dict | None = None,
                 **values) -> tuple[Activity, NextStep | None]:
    """Log a call, meeting, e-mail or note (today and by the caller unless said otherwise) on a deal,
    an account or a contact, with the contacts who took part (the first is its main contact), and
    the next step it agreed ({"subject", "due_date", "owner_id"}), all in one write."""
    require_recorder(user)
    unknown = set(values) - set(ACTIVITY_FIELDS)
    if unknown:
        raise ValueError(f"these fields cannot be set here: {', '.join(sorted(unknown))}")
    kind = _kind(kind)
    contact_ids = list(contact_ids or [])
    about = subject_for(user, opportunity_id=opportunity_id, account_id=account_id,
                        contact_id=contact_ids[0] if contact_ids else None)
    contacts = _contacts(user, contact_ids, about.account)
    values.setdefault("activity_date", None)
    fields = _activity_fields(values, kind=kind)
    if not fields.get("subject"):
        fields["subject"] = ActivityKind(kind).label + (f" with {contacts[0]}" if contacts else "")
    owner = owner_for(user, owner_id)
    with transaction.atomic():
        activity = Activity.objects.create(kind=kind, owner=owner, logged_by=user, opportunity=about.opportunity,
                                           account=about.account, contact=contacts[0] if contacts else None, **fields)
        activity.contacts.set(contacts)
        step = None
        if next_step and (next_step.get("subject") or "").strip():
            step = create_next_step(user, opportunity_id=opportunity_id,
                                    account_id=about.account.pk if about.account else None,
                                    contact_id=contacts[0].pk if contacts else None, activity=activity, **next_step)
    return activity, step


def update_activity(user: User, activity_id: int, *, expected_version: int | None, contact_ids: list[int] | None = None,
                    **changes) -> Activity:
    """Correct a logged activity (subject, outcome, notes, day, kind, direction, who took part)."""
    activity = Activity.objects.visible_to(user).select_related("account").filter(pk=activity_id).first()
    if activity is None:
        raise NotVisible(f"Activity {activity_id} not found")
    require_recorder(user)
    unknown = set(changes) - set(ACTIVITY_FIELDS)
    if unknown:
        raise ValueError(f"these fields cannot be changed here: {', '.join(sorted(unknown))}")
    kind = _kind(changes.pop("kind")) if "kind" in changes else activity.kind
    fields = _activity_fields(changes, kind=kind)
    if kind != activity.kind:
        fields["kind"] = kind
        if "activity_date" not in fields and kind not in MAY_BE_AHEAD and activity.activity_date > timezone.localdate():
            raise ValueError("only a meeting is logged ahead of time")
    contacts = _contacts(user, contact_ids, activity.account) if contact_ids is not None else None
    with transaction.atomic():
        if contacts is not None:
            fields["contact"] = contacts[0] if contacts else None
        save_if_current(activity, expected_version, label="activity", **fields)
        if contacts is not None:
            activity.contacts.set(contacts)
    return activity


# ---- next steps ----------------------------------------------------------------------------------------

NEXT_STEP_FIELDS = ("subject", "due_date", "owner_id")


def create_next_step(user: User, *, subject: str, due_date: date | str | None = None, owner_id: int | None = None,
                     opportunity_id: int | None = None, account_id: int | None = None, contact_id: int | None = None,
                     activity: Activity | None = None) -> NextStep:
    """What happens next, who does it (the caller unless they give it to someone in their scope) and
    by when (default: in two working days)."""
    require_recorder(user)
    about = subject_for(user, opportunity_id=opportunity_id, account_id=account_id, contact_id=contact_id)
    due = day(due_date, "the due date") or default_due_date()
    return NextStep.objects.create(
        subject=text(subject, LINE_MAX, "the next step", required=True), due_date=due, owner=owner_for(user, owner_id),
        opportunity=about.opportunity, account=about.account, contact=about.contact, activity=activity, created_by=user)


def default_due_date(today: date | None = None) -> date:
    """Two working days ahead: soon enough to keep a deal moving, far enough to be done."""
    from datetime import timedelta

    due, left = today or timezone.localdate(), 2
    while left:
        due += timedelta(days=1)
        left -= due.weekday() < 5
    return due


def update_next_step(user: User, step_id: int, *, expected_version: int | None, status: str | None = None,
                     **changes) -> NextStep:
    """Reschedule, reword, hand on (within the caller's scope), or close a next step as done or
    cancelled (and reopen it). Whoever sees the step may."""
    step = NextStep.objects.visible_to(user).filter(pk=step_id).first()
    if step is None:
        raise NotVisible(f"Next step {step_id} not found")
    require_recorder(user)
    unknown = set(changes) - set(NEXT_STEP_FIELDS)
    if unknown:
        raise ValueError(f"these fields cannot be changed here: {', '.join(sorted(unknown))}")
    fields = {}
    if "subject" in changes:
        fields["subject"] = text(changes["subject"], LINE_MAX, "the next step", required=True)
    if "due_date" in changes:
        fields["due_date"] = day(changes["due_date"], "the due date")
        if fields["due_date"] is None:
            raise ValueError("a next step keeps a due date")
    if "owner_id" in changes:
        fields["owner"] = owner_for(user, changes["owner_id"])
    if status is not None:
        if status not in NextStepStatus.values:
            raise ValueError(f"{status[:20]!r} is not a status; one of: {', '.join(NextStepStatus.values)}")
        if status != step.status:
            fields["status"] = status
            closing = status != NextStepStatus.OPEN
            fields["closed_at"], fields["closed_by"] = (timezone.now(), user) if closing else (None, None)
    with transaction.atomic():
        save_if_current(step, expected_version, label="next step", **fields)
    return step
