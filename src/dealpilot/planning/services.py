"""Write paths of account planning: the scoring model (load, save, YAML in and out) and ratings.

Every function takes the acting user explicitly and checks what they may do; a record they may
not see raises `NotVisible` (pages and API answer 404), bad input raises `SpecError`/`ValueError`
(a 4xx) and nothing is written half-way (each write is one transaction).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dealpilot.concurrency import StaleWrite, hold_if_current

from dealpilot.crm.models import (
    Account,
    Contact,
    ContactRole,
    LineItem,
    Opportunity,
    OpportunityContactRole,
    PlanUnit,
    Product,
    User,
)
from dealpilot.validation import COMMENT_MAX, LINE_MAX, NAME_MAX, NOTE_MAX, SHORT_MAX, STAGE_MAX

from .models import (
    AccountLead,
    AccountPlan,
    AccountRating,
    Action,
    ActionStatus,
    Attitude,
    CellStatus,
    ContactProfile,
    DecisionStyle,
    ElementKind,
    Influence,
    LeadStatus,
    Objective,
    ObjectiveKind,
    PlanComment,
    PlanEvent,
    PlanScope,
    Power,
    ResearchArea,
    ResearchNote,
    ScoringElement,
    ScoringModel,
    Strategy,
    WhiteSpaceCell,
)
from .scoring import ModelSpec, SpecError, default_spec, dump_yaml, parse_yaml


class NotVisible(LookupError):
    """The record does not exist or the caller may not see it (answered as 404)."""


class NotAllowed(PermissionError):
    """The caller may see the record but not do this to it (answered as 404 on pages, like the rest)."""


def can_edit_model(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.sees_everything)


def visible_account(user, account_id: int) -> Account:
    account = Account.objects.visible_to(user).filter(pk=account_id).select_related("owner").first()
    if account is None:
        raise NotVisible(f"Account {account_id} not found")
    return account


# ---- the scoring model ---------------------------------------------------------------------------


def active_model() -> ScoringModel:
    """The organisation's scoring model; the shipped default is loaded the first time."""
    model = ScoringModel.objects.order_by("id").first()
    if model is None:
        with transaction.atomic():
            model = ScoringModel.objects.select_for_update().order_by("id").first()
            if model is None:
                model = ScoringModel.objects.create(name="(loading)")
                _write_spec(model, default_spec(), None)
    return model


def spec_of(model: ScoringModel) -> ModelSpec:
    def threshold(value):
        return "median" if value is None else float(value)

    elements = []
    for e in model.elements.order_by("position", "id"):
        elements.append({"key": e.key, "axis": e.axis, "name": e.name, "description": e.description, "kind": e.kind,
                         "metric": e.metric, "weight": float(e.weight), "levels": e.levels})
    return ModelSpec.model_validate({
        "name": model.name, "description": model.description,
        "thresholds": {"current": threshold(model.current_threshold), "future": threshold(model.future_threshold)},
        "revenue_window_days": model.revenue_window_days, "elements": elements})


def active_spec() -> ModelSpec:
    return spec_of(active_model())


def _write_spec(model: ScoringModel, spec: ModelSpec, user) -> None:
    def threshold(value):
        return None if value == "median" else Decimal(str(value))

    model.name, model.description = spec.name, spec.description
    model.current_threshold = threshold(spec.thresholds["current"])
    model.future_threshold = threshold(spec.thresholds["future"])
    model.revenue_window_days = spec.revenue_window_days
    model.updated_by = user
    model.save()
    model.elements.all().delete()
    ScoringElement.objects.bulk_create([
        ScoringElement(scoring_model=model, key=e.key, axis=e.axis, name=e.name, description=e.description,
                       kind=e.kind, metric=e.metric if e.kind == ElementKind.COMPUTED else "", weight=Decimal(str(e.weight)),
                       levels=[lv.model_dump(exclude_none=True) for lv in e.levels], position=i)
        for i, e in enumerate(spec.elements)])


def save_spec(user, spec: ModelSpec) -> ScoringModel:
    """Replace the scoring model (leaders and admins). Ratings are kept by element key, so an
    element that keeps its key keeps its ratings."""
    if not can_edit_model(user):
        raise NotAllowed("only sales leaders and administrators change the scoring model")
    with transaction.atomic():
        model = active_model()
        model = ScoringModel.objects.select_for_update().get(pk=model.pk)
        _write_spec(model, spec, user)
    return model


def import_yaml(user, text: str) -> ScoringModel:
    return save_spec(user, parse_yaml(text))


def export_yaml() -> str:
    return dump_yaml(active_spec())


def reset_to_default(user) -> ScoringModel:
    return save_spec(user, default_spec())


# ---- ratings -------------------------------------------------------------------------------------


def rate_account(user, account_id: int, element_key: str, level: str, note: str = "") -> AccountRating | None:
    """Rate one rated element for an account the user may see; an empty level withdraws the rating."""
    account = visible_account(user, account_id)
    element = active_spec().element(element_key)
    if element is None or element.kind != ElementKind.RATED:
        raise SpecError(f"{element_key!r} is not a rated element of the scoring model")
    if level and level not in {lv.level for lv in element.levels}:
        raise SpecError(f"level must be one of {', '.join(lv.level for lv in element.levels)}")
    if len(note) > NOTE_MAX:
        raise SpecError(f"the note is longer than {NOTE_MAX:,} characters")
    with transaction.atomic():
        if not level and not AccountRating.objects.filter(account=account, element_key=element_key).exists():
            return None
        # a removed rating is kept with an empty level: an update, which the ratings' version sees
        # by its time alone (no count over every rating at each page view)
        rating, _ = AccountRating.objects.update_or_create(
            account=account, element_key=element_key, defaults={"level": level, "note": note, "rated_by": user})
    return rating


# ---- account plans ------------------------------------------------------------------------------------

TEXT_LIMIT = NOTE_MAX


def _text(value: str, label: str, *, required: bool = False, limit: int = TEXT_LIMIT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValueError(f"{label} is required")
    if len(value) > limit:
        raise ValueError(f"{label} is longer than {limit:,} characters")
    return value


def _log(plan: AccountPlan, user, summary: str, *, bump: bool = True) -> None:
    """Every change of a plan or its parts comes through here: the history event and a new version
    of the whole plan (so forms and API callers holding an older one are refused, see plan_change)."""
    PlanEvent.objects.create(plan=plan, actor=user if getattr(user, "pk", None) else None, summary=summary[:300])
    AccountPlan.objects.filter(pk=plan.pk).update(updated_at=timezone.now(), **({"version": F("version") + 1} if bump else {}))


@contextmanager
def plan_change(plan: AccountPlan, expected_version: int | None):
    """Wrap the service calls of one change to a plan: when the caller names the version they saw,
    the plan must still be at it, and stays held until the change is committed (a StaleWrite,
    with who changed it last, otherwise: nothing is written). The services bump the version."""
    with transaction.atomic():
        try:
            hold_if_current(AccountPlan.objects.filter(pk=plan.pk), expected_version, label="account plan")
        except StaleWrite as exc:
            last = PlanEvent.objects.filter(plan_id=plan.pk).select_related("actor").first()
            if last is not None:
                exc.changed_by, exc.changed_at = last.actor, last.at
            raise StaleWrite(exc.label, current_version=exc.current_version, expected_version=exc.expected_version,
                             changed_at=exc.changed_at, changed_by=exc.changed_by) from None
        yield


def visible_plan(user, account_id: int) -> AccountPlan:
    """The plan of an account the user may see (NotVisible when either is missing)."""
    account = visible_account(user, account_id)
    plan = AccountPlan.objects.filter(account=account).select_related("account").first()
    if plan is None:
        raise NotVisible(f"Account {account_id} has no plan")
    return plan


def _plan_child(user, model, pk: int, plan_path: str):
    """A plan's record (unit, objective, ...) whose account the user may see."""
    from dealpilot.crm.models import Account

    visible = Account.objects.visible_to(user).values("id")
    obj = model.objects.filter(pk=pk, **{f"{plan_path}__account_id__in": visible}).first()
    if obj is None:
        raise NotVisible(f"{model._meta.verbose_name.capitalize()} {pk} not found")
    return obj


def default_period(today: date | None = None) -> tuple[date, date]:
    today = today or timezone.localdate()
    return date(today.year, 1, 1), date(today.year, 12, 31)


def create_plan(user, account_id: int, *, title: str = "", period_start: date | None = None,
                period_end: date | None = None) -> AccountPlan:
    account = visible_account(user, account_id)
    start, end = default_period()
    start, end = period_start or start, period_end or end
    if end < start:
        raise ValueError("the plan period ends before it starts")
    with transaction.atomic():
        existing = AccountPlan.all_objects.filter(account=account).first()
        if existing is not None and existing.deleted_at is not None:
            raise ValueError("the account's plan is in the recycle bin: restore it from there (or wait until it is purged)")
        if existing is not None:
            raise ValueError("the account has a plan already")
        plan = AccountPlan.objects.create(account=account, title=_text(title, "Title", limit=NAME_MAX) or f"{account.name} account plan",
                                          period_start=start, period_end=end, currency=account.currency, created_by=user)
        _log(plan, user, "Plan created", bump=False)  # a new plan is version 1
    return plan


PLAN_FIELDS = ("title", "period_start", "period_end", "review_date", "pipeline_goal", "summary")


def update_plan(user, account_id: int, **changes) -> AccountPlan:
    plan = visible_plan(user, account_id)
    unknown = set(changes) - set(PLAN_FIELDS)
    if unknown:
        raise ValueError(f"unknown plan fields: {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        if name == "title":
            value = _text(value, "Title", required=True, limit=NAME_MAX)
        elif name == "summary":
            value = _text(value, "Summary")
        elif name in ("period_start", "period_end") and value is None:
            raise ValueError("the plan period needs a start and an end")  # null in a PATCH must not erase one
        elif name == "pipeline_goal" and value is not None:
            value = Decimal(str(value))
            if value < 0:
                raise ValueError("the pipeline goal is negative")
        setattr(plan, name, value)
    if plan.period_end < plan.period_start:
        raise ValueError("the plan period ends before it starts")
    with transaction.atomic():
        plan.save(update_fields=[*changes, "updated_at"])  # never the version: _log bumps it
        _log(plan, user, "Plan changed: " + ", ".join(n.replace("_", " ") for n in changes))
    return plan


def add_unit(user, account_id: int, plan_unit_id: int, *, strategic: bool = False) -> PlanScope:
    plan = visible_plan(user, account_id)
    unit = PlanUnit.objects.filter(pk=plan_unit_id, account_id=plan.account_id).first()
    if unit is None:
        raise ValueError("choose one of the account's plan units")
    with transaction.atomic():
        scope, created = PlanScope.objects.get_or_create(plan=plan, plan_unit=unit, defaults={"strategic": strategic})
        if created:
            _log(plan, user, f"Unit added: {unit.name}")
    return scope


UNIT_FIELDS = ("strategic", "goals", "pressures", "initiatives", "obstacles")


def update_unit(user, scope_id: int, **changes) -> PlanScope:
    scope = _plan_child(user, PlanScope, scope_id, "plan")
    unknown = set(changes) - set(UNIT_FIELDS)
    if unknown:
        raise ValueError(f"unknown unit fields: {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(scope, name, bool(value) if name == "strategic" else _text(value, name.title()))
    with transaction.atomic():
        scope.save()
        _log(scope.plan, user, f"Unit {scope.plan_unit.name}: " + ", ".join(changes))
    return scope


def remove_unit(user, scope_id: int) -> None:
    scope = _plan_child(user, PlanScope, scope_id, "plan")
    with transaction.atomic():
        _log(scope.plan, user, f"Unit removed: {scope.plan_unit.name}")
        scope.delete()


def add_research(user, account_id: int, area: str, text: str) -> ResearchNote:
    plan = visible_plan(user, account_id)
    if area not in ResearchArea.values:
        raise ValueError(f"area must be one of {', '.join(ResearchArea.values)}")
    with transaction.atomic():
        note = ResearchNote.objects.create(plan=plan, area=area, text=_text(text, "The note", required=True), author=user)
        _log(plan, user, f"Research note ({area})")
    return note


def add_objective(user, account_id: int, kind: str, title: str, *, unit_id: int | None = None,
                  target_amount=None) -> Objective:
    plan = visible_plan(user, account_id)
    if kind not in ObjectiveKind.values:
        raise ValueError(f"kind must be one of {', '.join(ObjectiveKind.values)}")
    unit = None
    if unit_id:
        unit = PlanScope.objects.filter(pk=unit_id, plan=plan).first()
        if unit is None:
            raise ValueError("the unit is not one of the plan's units")
    if kind in (ObjectiveKind.REVENUE, ObjectiveKind.BUSINESS_DEVELOPMENT) and unit is None:
        raise ValueError("a revenue or business-development objective is for one plan unit")
    amount = None if target_amount in (None, "") else Decimal(str(target_amount))
    if amount is not None and amount < 0:
        raise ValueError("the target is negative")
    if kind == ObjectiveKind.REVENUE and amount is None:
        raise ValueError("a revenue objective needs a target amount")
    with transaction.atomic():
        objective = Objective.objects.create(plan=plan, kind=kind, unit=unit, title=_text(title, "Title", required=True, limit=SHORT_MAX),
                                             target_amount=amount)
        _log(plan, user, f"Objective added: {objective.title}")
    return objective


def add_strategy(user, objective_id: int, text: str) -> Strategy:
    objective = _plan_child(user, Objective, objective_id, "plan")
    with transaction.atomic():
        strategy = Strategy.objects.create(objective=objective, text=_text(text, "The strategy", required=True, limit=COMMENT_MAX))
        _log(objective.plan, user, f"Strategy added: {strategy.text}")
    return strategy


def _owner(user, owner_id: int | None):
    if owner_id is None:
        return None
    owner = User.objects.filter(pk=owner_id, is_active=True).first()
    if owner is None:
        raise ValueError("the action's owner is not an active user")
    return owner


def add_action(user, strategy_id: int, title: str, *, owner_id: int | None = None, due_date: date | None = None) -> Action:
    strategy = _plan_child(user, Strategy, strategy_id, "objective__plan")
    with transaction.atomic():
        action = Action.objects.create(strategy=strategy, title=_text(title, "The action", required=True, limit=SHORT_MAX),
                                       owner=_owner(user, owner_id), due_date=due_date)
        _log(strategy.objective.plan, user, f"Action added: {action.title}")
    return action


def update_action(user, action_id: int, *, status: str | None = None, due_date: date | None = None,
                  owner_id: int | None = None) -> Action:
    action = _plan_child(user, Action, action_id, "strategy__objective__plan")
    if status is not None:
        if status not in ActionStatus.values:
            raise ValueError(f"status must be one of {', '.join(ActionStatus.values)}")
        action.status = status
    if due_date is not None:
        action.due_date = due_date
    if owner_id is not None:
        action.owner = _owner(user, owner_id)
    with transaction.atomic():
        action.save()
        _log(action.strategy.objective.plan, user, f"Action {action.title}: {action.get_status_display()}")
    return action


def delete_plan_item(user, kind: str, pk: int) -> None:
    """Remove a research note, objective, strategy or action of a plan the user may see."""
    paths = {"research": (ResearchNote, "plan"), "objective": (Objective, "plan"),
             "strategy": (Strategy, "objective__plan"), "action": (Action, "strategy__objective__plan")}
    if kind not in paths:
        raise ValueError(f"kind must be one of {', '.join(paths)}")
    model, path = paths[kind]
    obj = _plan_child(user, model, pk, path)
    plan = AccountPlan.objects.get(pk=_plan_id(obj, path))
    with transaction.atomic():
        _log(plan, user, f"Removed a {kind}")
        obj.delete()


def _plan_id(obj, path: str) -> int:
    for part in path.split("__")[:-1]:
        obj = getattr(obj, part)
    return obj.plan_id


# ---- people and influence -------------------------------------------------------------------------------


def _account_contact(user, account_id: int, contact_id: int) -> Contact:
    account = visible_account(user, account_id)
    contact = Contact.objects.filter(pk=contact_id, account=account).first()
    if contact is None:
        raise NotVisible(f"Contact {contact_id} not found")
    return contact


def update_profile(user, account_id: int, contact_id: int, *, decision_role: str = "", power: str = "", attitude: str = "",
                   decision_style: str = "", key_person: bool = False) -> ContactProfile:
    contact = _account_contact(user, account_id, contact_id)
    for value, allowed, label in ((decision_role, ContactRole.values, "decision role"), (power, Power.values, "power"),
                                  (attitude, Attitude.values, "attitude"), (decision_style, DecisionStyle.values, "decision style")):
        if value and value not in allowed:
            raise ValueError(f"{label} must be one of {', '.join(allowed)}")
    with transaction.atomic():
        profile, _ = ContactProfile.objects.update_or_create(
            contact=contact, defaults={"decision_role": decision_role, "power": power, "attitude": attitude,
                                       "decision_style": decision_style, "key_person": bool(key_person), "updated_by": user})
    return profile


def add_influence(user, account_id: int, source_id: int, target_id: int, note: str = "") -> Influence:
    source = _account_contact(user, account_id, source_id)
    target = _account_contact(user, account_id, target_id)
    if source.pk == target.pk:
        raise ValueError("a person does not influence themselves here")
    with transaction.atomic():
        influence, _ = Influence.objects.update_or_create(source=source, target=target,
                                                          defaults={"note": _text(note, "The note", limit=SHORT_MAX)})
    return influence


def remove_influence(user, account_id: int, influence_id: int) -> None:
    account = visible_account(user, account_id)
    deleted, _ = Influence.objects.filter(pk=influence_id, source__account=account).delete()
    if not deleted:
        raise NotVisible(f"Influence {influence_id} not found")


# ---- white space and account leads -----------------------------------------------------------------------


def set_cell(user, account_id: int, plan_unit_id: int, product_id: int, status: str, note: str = "") -> WhiteSpaceCell | None:
    """Set a white-space cell by hand; an empty status goes back to what the opportunities say."""
    account = visible_account(user, account_id)
    unit = PlanUnit.objects.filter(pk=plan_unit_id, account=account).first()
    product = Product.objects.filter(pk=product_id).first()
    if unit is None or product is None:
        raise ValueError("choose one of the account's plan units and a product")
    if status and status not in CellStatus.values:
        raise ValueError(f"status must be one of {', '.join(CellStatus.values)}")
    with transaction.atomic():
        if not status:
            WhiteSpaceCell.objects.filter(plan_unit=unit, product=product).delete()
            return None
        cell, _ = WhiteSpaceCell.objects.update_or_create(plan_unit=unit, product=product,
                                                          defaults={"status": status, "note": _text(note, "The note", limit=SHORT_MAX),
                                                                    "updated_by": user})
    return cell


def create_lead(user, account_id: int, *, title: str = "", description: str = "", plan_unit_id: int | None = None,
                product_id: int | None = None) -> AccountLead:
    account = visible_account(user, account_id)
    unit = PlanUnit.objects.filter(pk=plan_unit_id, account=account).first() if plan_unit_id else None
    product = Product.objects.filter(pk=product_id).first() if product_id else None
    if (plan_unit_id and unit is None) or (product_id and product is None):
        raise ValueError("choose one of the account's plan units and a product")
    title = _text(title, "Title", limit=LINE_MAX) or " · ".join(x for x in (product.name if product else "", unit.name if unit else "") if x)
    if not title:
        raise ValueError("Title is required")
    with transaction.atomic():
        lead = AccountLead.objects.create(account=account, plan_unit=unit, product=product, title=title,
                                          description=_text(description, "Description"), created_by=user)
    return lead


def _visible_lead(user, lead_id: int) -> AccountLead:
    lead = AccountLead.objects.filter(pk=lead_id, account__in=Account.objects.visible_to(user)).select_related(
        "account", "plan_unit", "product").first()
    if lead is None:
        raise NotVisible(f"Lead {lead_id} not found")
    return lead


def convert_lead(user, lead_id: int, *, amount=None, close_date: date | None = None, stage: str = "Prospecting") -> Opportunity:
    """Turn an open lead into a CRM opportunity owned by the user (with the product as a line and
    a contact of the unit, so the opportunity counts for that plan unit)."""
    lead = _visible_lead(user, lead_id)
    if lead.status != LeadStatus.OPEN:
        raise ValueError("the lead is not open")
    amount = None if amount in (None, "") else Decimal(str(amount))
    if amount is not None and amount < 0:
        raise ValueError("the amount is negative")
    stage = _text(stage, "Stage", required=True, limit=STAGE_MAX)
    today = timezone.localdate()
    with transaction.atomic():
        opportunity = Opportunity.objects.create(
            name=lead.title[:255], account=lead.account, owner=user, stage=stage, amount=amount, currency=lead.account.currency,
            created_date=today, close_date=close_date or today + timedelta(days=90), source="existing",
            description=lead.description)
        if lead.product:
            LineItem.objects.create(opportunity=opportunity, product=lead.product, quantity=Decimal(1), unit_price=amount,
                                    total_price=amount)
        if lead.plan_unit:
            contact = Contact.objects.filter(plan_unit=lead.plan_unit, has_left=False).order_by("id").first()
            if contact:
                OpportunityContactRole.objects.create(opportunity=opportunity, contact=contact, is_primary=True)
        lead.status, lead.opportunity = LeadStatus.CONVERTED, opportunity
        lead.save(update_fields=["status", "opportunity"])
    return opportunity


def drop_lead(user, lead_id: int) -> AccountLead:
    lead = _visible_lead(user, lead_id)
    if lead.status != LeadStatus.OPEN:
        raise ValueError("the lead is not open")
    lead.status = LeadStatus.DROPPED
    lead.save(update_fields=["status"])
    return lead


# ---- discussion ------------------------------------------------------------------------------------------

MENTION = re.compile(r"(?<![\w.])@([\w.+-]{1,150})")


def mentioned_users(text: str, account: Account) -> list:
    """The active people named as @username who may see the account (others are not notified)."""
    names = {m.rstrip(".") for m in MENTION.findall(text)}
    found = []
    for person in User.objects.filter(username__in=names, is_active=True):
        if Account.objects.visible_to(person).filter(pk=account.pk).exists():
            found.append(person)
    return found


def add_comment(user, account_id: int, text: str) -> PlanComment:
    plan = visible_plan(user, account_id)
    text = _text(text, "The comment", required=True, limit=NOTE_MAX)
    with transaction.atomic():
        comment = PlanComment.objects.create(plan=plan, author=user, text=text)
        comment.mentions.set(mentioned_users(text, plan.account))
    return comment
