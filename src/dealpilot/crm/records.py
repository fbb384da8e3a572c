"""Creating and editing the CRM records in dealpilot: accounts, contacts (and their role on a deal),
opportunities with their line items. The web forms, the API and the CLI all write through here.

The rules are the ones edits already follow (crm.services): a person records work only in their own
scope (a rep for themselves, a manager for their team, leaders and admins for everyone; enablement
authors not at all), every record referred to must be visible to them (an id out of reach gets the
same answer as one that does not exist), a change names the version it saw (`expected_version`;
None: last write wins) and is saved through the model, so the field history records who made it.
Raises NotVisible (404), NotAllowed (403), ValueError (400) or StaleWrite (409); nothing is written then.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from dealpilot.concurrency import save_if_current
from dealpilot.validation import DESCRIPTION_MAX, LINE_MAX, STAGE_MAX, day_problem, text_problem

from .models import (
    DEFAULT_CURRENCY,
    MAX_SAFE_AMOUNT,
    Account,
    Contact,
    ContactRole,
    LineItem,
    Opportunity,
    OpportunityContactRole,
    Product,
    Role,
    Source,
    StageHistory,
    User,
)
from .services import NotAllowed, NotVisible, assignable_owners, check_close, stage_outcome

NAME_LIMIT = 255  # the columns' own length for names, titles, e-mail addresses
SHORT_LIMIT = 120  # industry, region, country, first and last names
PHONE_LIMIT = 60
CURRENCY = re.compile(r"^[A-Z]{3}$")


# ---- shared checks -------------------------------------------------------------------------------------


def may_record(user: User) -> bool:
    """Whether `user` records sales work at all (enablement authors write content, not deals)."""
    return bool(user.is_active and (user.role != Role.ENABLEMENT or user.sees_everything))


def require_recorder(user: User) -> None:
    if not may_record(user):
        raise NotAllowed("Enablement authors do not record sales work; ask a seller or their manager.")


def owner_for(user: User, owner_id: int | None) -> User:
    """The owner of a record `user` creates or hands on: themselves by default, else someone in their
    scope (a rep only themselves). An id out of reach is refused like one that does not exist."""
    if owner_id is None or owner_id == user.pk:
        return user
    owner = assignable_owners(user).filter(pk=owner_id).first()
    if owner is None:
        raise ValueError(f"user {owner_id} is not someone you can give records to (your scope: "
                         f"{'yourself' if user.role == Role.REP else 'your team'})")
    return owner


def text(value, limit: int, label: str, *, required: bool = False) -> str:
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise ValueError(f"{label} is required")
    if problem := text_problem(value, limit, label):
        raise ValueError(problem)
    return value


def money(value, label: str = "the amount") -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{label} must be a number") from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_SAFE_AMOUNT:
        raise ValueError(f"{label} must be 0 or more and below {MAX_SAFE_AMOUNT:,}")
    return amount.quantize(Decimal("0.01"))


def day(value, label: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{label} must be a day like 2026-12-31") from None
    if problem := day_problem(value):
        raise ValueError(f"{label}: {problem}")
    return value


def currency(value, default: str = DEFAULT_CURRENCY) -> str:
    value = (value or default).strip().upper()
    if not CURRENCY.match(value):
        raise ValueError(f"{value[:10]!r} is not a currency code (three letters, e.g. EUR)")
    return value


def visible_account(user: User, account_id: int | None) -> Account | None:
    if account_id is None:
        return None
    account = Account.objects.visible_to(user).filter(pk=account_id).first()
    if account is None:
        raise ValueError(f"account {account_id} not found among the accounts you can see")
    return account


def _unknown(changes: dict, allowed) -> None:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValueError(f"these fields cannot be set here: {', '.join(sorted(unknown))}")


def _editable(queryset, pk: int, label: str, user: User):
    """A record `user` may change: out of reach is NotVisible (404) first, whoever asks; then the role."""
    record = queryset.visible_to(user).filter(pk=pk).first()
    if record is None:
        raise NotVisible(f"{label} {pk} not found")
    require_recorder(user)
    return record


# ---- accounts ------------------------------------------------------------------------------------------

ACCOUNT_FIELDS = ("name", "industry", "region", "country", "employees", "annual_revenue", "currency", "parent_id", "owner_id")


def size_band(employees: int | None) -> str:
    """The size band of a head count, with the bands the import mappings use (imports.mapping)."""
    if employees is None:
        return ""
    return next((band for limit, band in ((50, "small"), (250, "medium"), (1000, "large")) if employees < limit), "enterprise")


def _account_fields(user: User, changes: dict, account: Account | None = None) -> dict:
    _unknown(changes, ACCOUNT_FIELDS)
    fields = {}
    for name, limit in (("name", NAME_LIMIT), ("industry", SHORT_LIMIT), ("region", SHORT_LIMIT), ("country", SHORT_LIMIT)):
        if name in changes:
            fields[name] = text(changes[name], limit, f"the {name}", required=name == "name")
    if "employees" in changes:
        employees = changes["employees"]
        if employees not in (None, "") and (not str(employees).isdigit() or int(employees) > 10_000_000):
            raise ValueError("employees is a head count from 0 to 10,000,000")
        fields["employees"] = int(employees) if employees not in (None, "") else None
        fields["size"] = size_band(fields["employees"])
    if "annual_revenue" in changes:
        fields["annual_revenue"] = money(changes["annual_revenue"], "the annual revenue")
    if "currency" in changes:
        fields["currency"] = currency(changes["currency"])
    if "parent_id" in changes:
        parent = visible_account(user, changes["parent_id"])
        if parent is not None and account is not None and _is_within(parent, account):
            raise ValueError("an account cannot be its own parent, nor sit below one of its subsidiaries")
        fields["parent"] = parent
    if "owner_id" in changes:
        fields["owner"] = owner_for(user, changes["owner_id"])
    return fields


def _is_within(candidate: Account, account: Account) -> bool:
    """Whether `candidate` is `account` or one of its subsidiaries (a parent there would make a loop)."""
    seen = set()
    while candidate is not None and candidate.pk not in seen:
        if candidate.pk == account.pk:
            return True
        seen.add(candidate.pk)
        candidate = candidate.parent
    return False


def similar_accounts(user: User, name: str):
    """Accounts the user can see with this name (case and surrounding spaces aside): shown before a duplicate is made."""
    return Account.objects.visible_to(user).filter(name__iexact=name.strip())


def create_account(user: User, *, allow_duplicate: bool = False, **values) -> Account:
    require_recorder(user)
    values.setdefault("owner_id", None)
    fields = _account_fields(user, values)
    if "name" not in fields:
        raise ValueError("the name is required")
    if not allow_duplicate and (same := similar_accounts(user, fields["name"]).first()):
        raise ValueError(f"an account named “{same.name}” already exists (id {same.pk}): open it, or confirm that this is another one")
    return Account.objects.create(**fields)


def update_account(user: User, account_id: int, *, expected_version: int | None, **changes) -> Account:
    account = _editable(Account.objects, account_id, "Account", user)
    fields = _account_fields(user, changes, account)
    with transaction.atomic():
        save_if_current(account, expected_version, label="account", **fields)
    return account


# ---- contacts ------------------------------------------------------------------------------------------

CONTACT_FIELDS = ("account_id", "first_name", "last_name", "title", "email", "phone", "reports_to_id", "has_left", "owner_id")


def _contact_fields(user: User, changes: dict, contact: Contact | None = None) -> dict:
    _unknown(changes, CONTACT_FIELDS)
    fields = {}
    for name, limit in (("first_name", SHORT_LIMIT), ("last_name", SHORT_LIMIT), ("title", NAME_LIMIT), ("phone", PHONE_LIMIT)):
        if name in changes:
            fields[name] = text(changes[name], limit, f"the {name.replace('_', ' ')}", required=name == "last_name")
    if "email" in changes:
        fields["email"] = text(changes["email"], NAME_LIMIT, "the e-mail address")
        if fields["email"]:
            try:
                validate_email(fields["email"])
            except ValidationError:
                raise ValueError(f"{fields['email'][:80]!r} is not an e-mail address") from None
    if "has_left" in changes:
        fields["has_left"] = bool(changes["has_left"])
    if "account_id" in changes:
        fields["account"] = visible_account(user, changes["account_id"])
        if fields["account"] is None:
            raise ValueError("a contact belongs to an account: choose one")
    if "reports_to_id" in changes:
        boss = None
        if changes["reports_to_id"] is not None:
            boss = Contact.objects.visible_to(user).filter(pk=changes["reports_to_id"]).first()
            account = fields.get("account") or (contact.account if contact else None)
            if boss is None or (account is not None and boss.account_id != account.pk):
                raise ValueError(f"contact {changes['reports_to_id']} is not a contact of this account you can see")
            if contact is not None and boss.pk == contact.pk:
                raise ValueError("a contact cannot report to themselves")
        fields["reports_to"] = boss
    if "owner_id" in changes:
        fields["owner"] = owner_for(user, changes["owner_id"])
    return fields


def create_contact(user: User, *, opportunity_id: int | None = None, role: str | None = None, **values) -> Contact:
    """A new contact; with `opportunity_id`, also their role in that deal's buying group."""
    require_recorder(user)
    values.setdefault("owner_id", None)
    if "account_id" not in values and opportunity_id is None:
        raise ValueError("a contact belongs to an account: choose one")
    with transaction.atomic():
        opportunity = None
        if opportunity_id is not None:
            opportunity = _editable(Opportunity.objects, opportunity_id, "Opportunity", user)
            values.setdefault("account_id", opportunity.account_id)
            if values["account_id"] != opportunity.account_id:
                raise ValueError("the contact's account is not the deal's account")
        fields = _contact_fields(user, values)
        contact = Contact.objects.create(**fields)
        if opportunity is not None:
            set_contact_role(user, opportunity.pk, contact_id=contact.pk, role=role or ContactRole.OTHER)
    return contact


def update_contact(user: User, contact_id: int, *, expected_version: int | None, **changes) -> Contact:
    contact = _editable(Contact.objects, contact_id, "Contact", user)
    fields = _contact_fields(user, changes, contact)
    with transaction.atomic():
        save_if_current(contact, expected_version, label="contact", **fields)
    return contact


def _role(role: str | None) -> str:
    role = (role or ContactRole.OTHER).strip()
    if role not in ContactRole.values:
        raise ValueError(f"{role[:40]!r} is not a buying-group role; one of: {', '.join(ContactRole.values)}")
    return role


def set_contact_role(user: User, opportunity_id: int, *, contact_id: int, role: str | None = None,
                     is_primary: bool = False) -> OpportunityContactRole:
    """Put a contact of the deal's account in its buying group with a role (or change their role)."""
    opportunity = _editable(Opportunity.objects, opportunity_id, "Opportunity", user)
    contact = Contact.objects.visible_to(user).filter(pk=contact_id).first()
    if contact is None or (opportunity.account_id and contact.account_id != opportunity.account_id):
        raise ValueError(f"contact {contact_id} is not a contact of this deal's account you can see")
    role = _role(role)
    with transaction.atomic():
        if is_primary:
            OpportunityContactRole.objects.filter(opportunity=opportunity, is_primary=True).update(is_primary=False)
        entry, _ = OpportunityContactRole.objects.update_or_create(
            opportunity=opportunity, contact=contact, defaults={"role": role, "is_primary": is_primary})
        save_if_current(Opportunity.objects.filter(pk=opportunity.pk), None)  # the deal changed: forms opened before are stale
    return entry


def remove_contact_role(user: User, opportunity_id: int, role_id: int) -> None:
    opportunity = _editable(Opportunity.objects, opportunity_id, "Opportunity", user)
    with transaction.atomic():
        if not OpportunityContactRole.objects.filter(opportunity=opportunity, pk=role_id).delete()[0]:
            raise NotVisible(f"Contact role {role_id} not found on this opportunity")
        save_if_current(Opportunity.objects.filter(pk=opportunity.pk), None)


# ---- opportunities -------------------------------------------------------------------------------------

OPPORTUNITY_CREATE_FIELDS = ("name", "account_id", "stage", "amount", "currency", "close_date", "probability", "source",
                             "forecast_category", "description", "owner_id", "lost_reason", "competitor", "close_comment")


def first_open_stage() -> str:
    """Where a new deal starts when the seller names no stage: the first of the sales leader's stages
    (deals.guided), else where the newest open deal started (two index lookups, whatever the size of
    the pipeline), else Prospecting."""
    from dealpilot.deals.models import SalesStage  # the deals app builds on crm: read its stage order lazily

    if first := SalesStage.objects.order_by("position", "id").values_list("name", flat=True).first():
        return first
    newest = Opportunity.objects.filter(is_closed=False).order_by("-pk").values_list("pk", flat=True).first()
    first = StageHistory.objects.filter(opportunity_id=newest).order_by("changed_at").values_list("stage", flat=True).first()
    return first or "Prospecting"


def create_opportunity(user: User, *, line_items: list[dict] | None = None, **values) -> Opportunity:
    """A new deal (owned by `user` unless they give it to someone in their scope), its first stage
    recorded in the stage history, and its line items (the amount is their total when none is given)."""
    require_recorder(user)
    _unknown(values, OPPORTUNITY_CREATE_FIELDS)
    account = visible_account(user, values.get("account_id"))
    stage = text(values.get("stage") or first_open_stage(), STAGE_MAX, "the stage", required=True)
    fields = {
        "name": text(values.get("name"), NAME_LIMIT, "the name", required=True),
        "account": account,
        "owner": owner_for(user, values.get("owner_id")),
        "stage": stage,
        "amount": money(values.get("amount")),
        "currency": currency(values.get("currency"), account.currency if account else DEFAULT_CURRENCY),
        "close_date": day(values.get("close_date"), "the close date"),
        "probability": _probability(values.get("probability")),
        "source": _source(values.get("source")),
        "forecast_category": text(values.get("forecast_category"), 60, "the forecast category"),
        "description": text(values.get("description"), DESCRIPTION_MAX, "the description"),
        "created_date": timezone.localdate(),
        **{name: text(values.get(name), LINE_MAX if name != "close_comment" else 10_000, name.replace("_", " "))
           for name in ("lost_reason", "competitor", "close_comment")},
    }
    if fields["close_date"] is None:
        raise ValueError("the expected close date is required (the forecast and the velocity read it)")
    fields["is_closed"], fields["is_won"] = stage_outcome(stage)
    items = [_line_item(user, item) for item in (line_items or [])]
    if fields["amount"] is None and items:
        fields["amount"] = sum((i.total_price or Decimal(0)) for i in items)
    if fields["is_closed"]:
        check_close(Opportunity(**{k: v for k, v in fields.items()}), fields)
    with transaction.atomic():
        opportunity = Opportunity.objects.create(**fields)
        for item in items:
            item.opportunity = opportunity
        LineItem.objects.bulk_create(items)
        StageHistory.objects.create(opportunity=opportunity, stage=stage, amount=opportunity.amount,
                                    close_date=opportunity.close_date, probability=opportunity.probability,
                                    changed_at=timezone.now(), changed_by=user)
    return opportunity


def _probability(value) -> Decimal | None:
    if value in (None, ""):
        return None
    probability = money(value, "the probability")
    if probability > 100:
        raise ValueError("the probability is a percentage from 0 to 100")
    return probability


def _source(value) -> str:
    value = (value or "").strip()
    if value not in Source.values:
        raise ValueError(f"{value[:40]!r} is not a source; one of: {', '.join(v for v in Source.values if v)}")
    return value


def _line_item(user: User, item: dict) -> LineItem:
    _unknown(item, ("product_id", "quantity", "unit_price"))
    product = Product.objects.filter(pk=item.get("product_id"), is_active=True).first() if item.get("product_id") else None
    if product is None:
        raise ValueError(f"product {item.get('product_id')} is not an active product")
    quantity = money(item.get("quantity") if item.get("quantity") not in (None, "") else 1, "the quantity")
    if quantity == 0:
        raise ValueError("the quantity must be more than 0")
    unit_price = money(item.get("unit_price"), "the unit price")
    if unit_price is None:
        unit_price = product.list_price
    total = None if unit_price is None else (quantity * unit_price).quantize(Decimal("0.01"))
    if total is not None and total >= MAX_SAFE_AMOUNT:
        raise ValueError(f"the line total must be below {MAX_SAFE_AMOUNT:,}")
    return LineItem(product=product, quantity=quantity, unit_price=unit_price, total_price=total)


def _line_total(opportunity: Opportunity) -> Decimal | None:
    return LineItem.objects.filter(opportunity=opportunity).aggregate(t=Sum("total_price"))["t"]


def add_line_item(user: User, opportunity_id: int, *, expected_version: int | None = None, **item) -> LineItem:
    """A product line on the deal. When the deal's amount was the total of its lines (or empty), it
    follows the new total; an amount the seller set by hand stays."""
    opportunity = _editable(Opportunity.objects, opportunity_id, "Opportunity", user)
    line = _line_item(user, item)
    with transaction.atomic():
        before = _line_total(opportunity)
        line.opportunity = opportunity
        line.save()
        follows = opportunity.amount is None or (before is not None and opportunity.amount == before)
        save_if_current(opportunity, expected_version, label="opportunity",
                        **({"amount": _line_total(opportunity)} if follows else {}))
    return line


def remove_line_item(user: User, opportunity_id: int, line_id: int, *, expected_version: int | None = None) -> None:
    opportunity = _editable(Opportunity.objects, opportunity_id, "Opportunity", user)
    with transaction.atomic():
        before = _line_total(opportunity)
        if not LineItem.objects.filter(opportunity=opportunity, pk=line_id).delete()[0]:
            raise NotVisible(f"Line item {line_id} not found on this opportunity")
        follows = before is not None and opportunity.amount == before
        save_if_current(opportunity, expected_version, label="opportunity",
                        **({"amount": _line_total(opportunity)} if follows else {}))


def active_products():
    return Product.objects.filter(is_active=True).order_by("name")
