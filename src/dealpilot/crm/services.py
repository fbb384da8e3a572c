"""Write paths over the CRM records."""

import hashlib
import secrets
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from dealpilot.concurrency import save_if_current
from dealpilot.validation import CODE_MAX, DESCRIPTION_MAX, LINE_MAX, NOTE_MAX, STAGE_MAX, text_problem

from .models import DEFAULT_LOST_REASONS, MAX_SAFE_AMOUNT, ApiToken, LostReason, Opportunity, Role, StageHistory, User


class NotVisible(LookupError):
    """The record does not exist or the caller may not see it (answered 404)."""


class NotAllowed(PermissionError):
    """The caller may see the record but not make this change (answered 403 with the reason)."""


def infer_roles_from_hierarchy() -> int:
    """After an import that brings no roles: people with direct reports are managers, and someone at
    the top of the hierarchy (reporting to nobody) over other managers is a sales leader.

    Only default reps who cannot log in to dealpilot are promoted: a role set in dealpilot is never
    overwritten, and an import never widens what a person with a login sees (an admin does that).
    Returns the number of people promoted.
    """
    has_reports = Exists(User.objects.filter(manager_id=OuterRef("pk")))
    over_managers = Exists(User.objects.filter(manager_id=OuterRef("pk")).filter(
        Exists(User.objects.filter(manager_id=OuterRef("pk")))))
    candidates = User.objects.filter(role=Role.REP, password__startswith="!", is_staff=False, is_superuser=False)
    leaders = candidates.filter(has_reports, over_managers, manager__isnull=True).update(role=Role.LEADER)
    managers = candidates.filter(has_reports).update(role=Role.MANAGER)
    return leaders + managers


# ---- API tokens ---------------------------------------------------------------------------------

TOKEN_PREFIX = "dp_"
LAST_USED_PRECISION = timedelta(minutes=1)  # a token used constantly writes its last use once a minute


def secret_hash(raw: str) -> str:
    """What is stored of a secret dealpilot makes (API tokens, calendar-feed addresses): its SHA-256.
    The secrets are 256 random bits, so no salt or slow hash is needed to make a stolen database
    useless for acting as anyone."""
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the record and the token itself, which is not stored."""
    name = name.strip()
    if not name:
        raise ValueError("a token needs a name (what it is for)")
    if problem := text_problem(name, ApiToken._meta.get_field("name").max_length, "the name"):
        raise ValueError(problem)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:10], key_hash=secret_hash(raw))
    return token, raw


def revoke_api_token(user: User, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False when they have no such active token."""
    return bool(ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).update(revoked_at=timezone.now()))


def user_for_api_token(raw: str) -> User | None:
    """The active user an active token belongs to, or None."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    token = (ApiToken.objects.select_related("user")
             .filter(key_hash=secret_hash(raw), revoked_at__isnull=True, user__is_active=True).first())
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# ---- opportunity edits ----------------------------------------------------------------------------

# What a seller may change on an opportunity in dealpilot; everything else comes from the CRM import.
# The owner is separate: only managers (within their team), sales leaders and administrators reassign.
OPPORTUNITY_FIELDS = ("stage", "amount", "close_date", "probability", "forecast_category", "lost_reason", "description")
REASSIGNING_ROLES = (Role.MANAGER, Role.LEADER, Role.ADMIN)
_LIMITS = {"stage": STAGE_MAX, "forecast_category": CODE_MAX, "lost_reason": LINE_MAX, "description": DESCRIPTION_MAX}


def can_reassign(user: User) -> bool:
    return bool(user.is_active and (user.is_superuser or user.role in REASSIGNING_ROLES))


def assignable_owners(user: User):
    """The people `user` may hand an opportunity to: active sales people within their reach."""
    return User.objects.visible_to(user).filter(is_active=True).exclude(role=Role.ENABLEMENT)


def editable_opportunity(user: User, opportunity_id: int) -> Opportunity:
    """An opportunity `user` may edit: whoever may see it (a rep their own; enablement none)."""
    opportunity = Opportunity.objects.visible_to(user).filter(pk=opportunity_id).select_related("account", "owner").first()
    if opportunity is None or (user.role == Role.ENABLEMENT and not user.sees_everything):
        raise NotVisible(f"Opportunity {opportunity_id} not found")
    return opportunity


def stage_outcome(stage: str) -> tuple[bool, bool]:
    """(is_closed, is_won) for a stage: as the imported records with that stage say (the CRM's own
    mapping, e.g. Salesforce IsClosed/IsWon), else by its name (Closed Won / Won / closedwon ...)."""
    seen = (Opportunity.objects.filter(stage=stage).order_by().values("is_closed", "is_won")
            .annotate(n=Count("id")).order_by("-n").first())
    if seen is not None:
        return seen["is_closed"], seen["is_won"]
    name = " ".join(stage.lower().replace("_", " ").replace("-", " ").split())
    if name in ("won", "closed won", "closedwon"):
        return True, True
    if name in ("lost", "closed lost", "closedlost"):
        return True, False
    return False, False


# What a close needs besides the stage (domain brief §9-10: "a lost reason is required when a deal is
# closed lost"), with their maximum lengths.
CLOSING_FIELDS = {"competitor": LINE_MAX, "close_comment": NOTE_MAX}


def active_lost_reasons():
    """The reasons offered when closing a deal lost (crm.apps writes the defaults after migrate)."""
    return LostReason.objects.filter(is_active=True)


def ensure_default_lost_reasons(**kwargs) -> None:
    """The domain brief's lost reasons, when the list is empty: after every migrate and every flush
    (Django sends post_migrate after both), so a new database, and one emptied by tests, has them."""
    if not LostReason.objects.exists():
        LostReason.objects.bulk_create(
            [LostReason(label=label, needs_competitor=needs, position=i) for i, (label, needs) in enumerate(DEFAULT_LOST_REASONS)],
            ignore_conflicts=True)


def check_close(current: Opportunity, fields: dict, today=None) -> None:
    """A deal moving to a closed stage must say how it ended. Lost: a lost reason from the leader's
    list (normalised to its label), the competitor when the reason names one, and a comment. Won:
    the amount won and the day (not in the future). Raises ValueError with what is missing."""
    value = lambda name: fields[name] if name in fields else getattr(current, name)  # noqa: E731
    if fields.get("is_won"):
        problems = []
        if not value("amount") or value("amount") <= 0:
            problems.append("the amount won")
        won_on = value("close_date")
        if won_on is None or won_on > (today or timezone.localdate()):
            problems.append("the day it was won (today or earlier)")
        if problems:
            raise ValueError(f"Closing a deal as won needs {' and '.join(problems)}.")
        return
    reasons = {r.label.casefold(): r for r in active_lost_reasons()}
    reason = reasons.get((value("lost_reason") or "").strip().casefold())
    if reason is None:
        raise ValueError("Closing a deal as lost needs a lost reason, one of: "
                         f"{', '.join(r.label for r in reasons.values()) or 'none (a sales leader sets the list)'}.")
    fields["lost_reason"] = reason.label
    if reason.needs_competitor and not (value("competitor") or "").strip():
        raise ValueError(f"“{reason.label}” needs the competitor who won the deal.")
    if not (value("close_comment") or "").strip():
        raise ValueError("Closing a deal as lost needs a comment: what decided it, in a sentence or two.")


def _clean_opportunity_changes(changes: dict) -> dict:
    unknown = set(changes) - set(OPPORTUNITY_FIELDS) - set(CLOSING_FIELDS)
    if unknown:
        raise ValueError(f"these fields cannot be changed here: {', '.join(sorted(unknown))}")
    clean = {}
    for name, value in changes.items():
        if name in CLOSING_FIELDS:
            value = (value or "").strip()
            if len(value) > CLOSING_FIELDS[name]:
                raise ValueError(f"{name.replace('_', ' ')} is longer than {CLOSING_FIELDS[name]:,} characters")
            clean[name] = value
            continue
        if name in _LIMITS:
            value = (value or "").strip() if name != "description" else (value or "")
            if name == "stage" and not value:
                raise ValueError("the stage cannot be empty")
            if len(value) > _LIMITS[name]:
                raise ValueError(f"{name.replace('_', ' ')} is longer than {_LIMITS[name]:,} characters")
        elif name in ("amount", "probability") and value is not None:
            try:
                value = Decimal(str(value))
            except InvalidOperation:
                raise ValueError(f"{name} must be a number") from None
            if not value.is_finite() or value < 0 or (name == "probability" and value > 100) or value >= MAX_SAFE_AMOUNT:
                raise ValueError("probability is a percentage from 0 to 100" if name == "probability"
                                 else f"the amount must be 0 or more and below {MAX_SAFE_AMOUNT:,}")
            value = value.quantize(Decimal("0.01"))
        clean[name] = value
    return clean


def update_opportunity(user: User, opportunity_id: int, *, expected_version: int | None, owner_id: int | None = None,
                       stage_reason: str = "", **changes) -> Opportunity:
    """Change an opportunity's sales fields (and owner, for those who may reassign), only if it is
    still at `expected_version` (None: last write wins). A stage change is recorded in the stage
    history (changed by `user`) and sets is_closed/is_won as the stage means; moving forward past
    open exit criteria needs `stage_reason` (deals.guided.check_stage_move). Raises NotVisible
    (404), NotAllowed (403), ValueError (400) or StaleWrite (409); nothing is written then."""
    opportunity = editable_opportunity(user, opportunity_id)
    fields = _clean_opportunity_changes(changes)
    if owner_id is not None:
        if not can_reassign(user):
            raise NotAllowed("Only managers, sales leaders and administrators reassign opportunities; ask your manager.")
        owner = assignable_owners(user).filter(pk=owner_id).first()
        if owner is None:  # the same answer for an id that does not exist and one out of reach
            raise ValueError(f"user {owner_id} is not someone you can assign opportunities to")
        fields["owner"] = owner
    with transaction.atomic():
        before = Opportunity.objects.select_for_update().filter(pk=opportunity.pk).values("stage").first()
        if before is None:
            raise NotVisible(f"Opportunity {opportunity_id} not found")
        stage_changed = "stage" in fields and fields["stage"] != before["stage"]
        if stage_changed:
            fields["is_closed"], fields["is_won"] = stage_outcome(fields["stage"])
            if fields["is_closed"]:
                check_close(opportunity, fields)
            from dealpilot.deals.guided import check_stage_move  # the leader's exit criteria (guided selling)

            check_stage_move(user, opportunity, from_stage=before["stage"], to_stage=fields["stage"],
                             is_closed=fields["is_closed"], is_won=fields["is_won"], reason=stage_reason)
        save_if_current(opportunity, expected_version, label="opportunity", **fields)
        if stage_changed:
            StageHistory.objects.create(opportunity=opportunity, stage=opportunity.stage, amount=opportunity.amount,
                                        close_date=opportunity.close_date, probability=opportunity.probability,
                                        changed_at=timezone.now(), changed_by=user)
    return opportunity
