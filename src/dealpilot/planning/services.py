"""Write paths of account planning: the scoring model (load, save, YAML in and out) and ratings.

Every function takes the acting user explicitly and checks what they may do; a record they may
not see raises `NotVisible` (pages and API answer 404), bad input raises `SpecError`/`ValueError`
(a 4xx) and nothing is written half-way (each write is one transaction).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from dealpilot.crm.models import Account

from .models import AccountRating, ElementKind, ScoringElement, ScoringModel
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
    """Rate one rated element for an account the user may see; an empty level removes the rating."""
    account = visible_account(user, account_id)
    element = active_spec().element(element_key)
    if element is None or element.kind != ElementKind.RATED:
        raise SpecError(f"{element_key!r} is not a rated element of the scoring model")
    if level and level not in {lv.level for lv in element.levels}:
        raise SpecError(f"level must be one of {', '.join(lv.level for lv in element.levels)}")
    if len(note) > 2000:
        raise SpecError("the note is longer than 2,000 characters")
    with transaction.atomic():
        if not level:
            AccountRating.objects.filter(account=account, element_key=element_key).delete()
            return None
        rating, _ = AccountRating.objects.update_or_create(
            account=account, element_key=element_key, defaults={"level": level, "note": note, "rated_by": user})
    return rating
