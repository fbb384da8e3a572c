"""Write paths of the enablement app: plain functions with explicit arguments, each in one
transaction, each checking the caller's rights. A record the caller may not see raises
NotVisible (404 at the edges); a rule that refuses raises NotAllowed (403); bad input raises
ValidationError (400), and nothing is half written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from dealpilot.concurrency import save_if_current
from dealpilot.crm.models import MAX_SAFE_AMOUNT, ContactRole, Opportunity, Role, User
from dealpilot.validation import COMMENT_MAX, SHORT_MAX, text_problem

from . import fulltext
from .access import can_author, can_change_settings, can_read
from .files import check_upload
from .tasks import extract_module_text
from .messages import validate_template
from .models import (
    ContentEvent,
    ContentKind,
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
from .vptest import clean_answers


class NotVisible(Exception):
    """The record does not exist for this caller."""


class NotAllowed(Exception):
    """The caller may see the record but the rules refuse the action; the message says why."""


def tag_key(value: str) -> str:
    return " ".join(str(value).lower().split())


MODULE_FIELDS = ("title", "kind", "summary", "body", "message_template", "value_proposition", "language", "status", "review_date")


def save_module(user: User, *, module: ContentModule | None = None, fields: dict, tags: dict[str, Iterable[str]] | None = None,
                author_ids: Iterable[int] | None = None, upload: tuple[str, bytes] | None = None, remove_file: bool = False,
                vp_answers: dict | None = None, expected_version: int | None = None) -> ContentModule:
    """Create (module=None) or update a content module. Only the listed fields are read from `fields`.

    An update is refused with StaleWrite (nothing written) when the module is no longer at
    `expected_version`, the version the editor loaded; None accepts it whatever the version."""
    if not can_author(user):
        raise NotAllowed("Only enablement authors, sales leaders and administrators write content.")
    data = {k: fields[k] for k in MODULE_FIELDS if k in fields}
    errors: dict[str, list[str]] = {}
    title = str(data.get("title", module.title if module else "")).strip()
    if not title:
        errors.setdefault("title", []).append("A title is required.")
    if "kind" in data and data["kind"] not in ContentKind.values:
        errors.setdefault("kind", []).append("Unknown content type.")
    if module is None and "kind" not in data:
        errors.setdefault("kind", []).append("A content type is required.")
    if "status" in data and data["status"] not in ContentStatus.values:
        errors.setdefault("status", []).append("Unknown status.")
    if data.get("message_template"):
        try:
            validate_template(data["message_template"])
        except ValidationError as exc:
            errors["message_template"] = exc.messages
    if isinstance(data.get("review_date"), str):
        try:
            data["review_date"] = dt.date.fromisoformat(data["review_date"]) if data["review_date"] else None
        except ValueError:
            errors.setdefault("review_date", []).append("Use a date like 2026-12-31.")
    clean_tags = _clean_tags(tags or {}, errors) if tags is not None else None
    checked = None
    if upload is not None:
        try:
            checked = check_upload(*upload)
        except ValidationError as exc:
            errors["file"] = exc.messages
    authors = None
    if author_ids is not None:
        ids = {int(i) for i in author_ids}
        authors = list(User.objects.filter(pk__in=ids, is_active=True))
        if len(authors) != len(ids):
            errors.setdefault("authors", []).append("Unknown author.")
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        if module is None:
            module = ContentModule(owner=user)
        else:
            # check-and-bump first, in one conditional UPDATE; then work on the module as it is now
            save_if_current(ContentModule.objects.filter(pk=module.pk), expected_version, label="content module")
            module.refresh_from_db()
        for key, value in data.items():
            setattr(module, key, value.strip() if isinstance(value, str) and key != "body" else value)
        module.title = title[:200]
        if vp_answers is not None:
            module.vp_answers = clean_answers(vp_answers)
        if module.status == ContentStatus.PUBLISHED and module.published_at is None:
            module.published_at = timezone.now()
        if remove_file and module.file:
            module.file.delete(save=False)
            module.file_name = module.file_type = module.extracted_text = module.text_status = module.text_error = ""
            module.file_size = None
        if checked is not None:
            if module.file:
                module.file.delete(save=False)
            module.file.save(checked.name, ContentFile(checked.data), save=False)
            module.file_name, module.file_type, module.file_size = checked.name, checked.file_type, checked.size
            module.extracted_text, module.text_status, module.text_error = "", "pending", ""
        module.save()
        if checked is not None:
            # In the same transaction: the worker sees the task only once the module is committed.
            extract_module_text.enqueue(module.pk, module.file.name)
        if authors is not None:
            module.authors.set(authors or [user])
        elif not module.authors.exists():
            module.authors.add(user)
        if clean_tags is not None:
            module.tags.all().delete()
            ContentTag.objects.bulk_create(ContentTag(module=module, dimension=d, value=v, key=tag_key(v)) for d, v in clean_tags)
    return module


_ROLE_CODES = {**{tag_key(label): code for code, label in ContactRole.choices}, **{code: code for code in ContactRole.values}}


def _clean_tags(tags: dict[str, Iterable[str]], errors: dict) -> list[tuple[str, str]]:
    out, seen = [], set()
    for dimension, values in tags.items():
        if dimension not in TagDimension.values:
            errors.setdefault("tags", []).append(f"Unknown tag dimension {dimension!r}.")
            continue
        if isinstance(values, str):
            values = values.split(",")
        for value in values:
            value = " ".join(str(value).split())[:200]
            if not value:
                continue
            if dimension == TagDimension.BUYER_ROLE:
                value = _ROLE_CODES.get(tag_key(value), value)
            if dimension == TagDimension.PHASE and value not in JourneyPhase.values:
                errors.setdefault("tags", []).append(f"Unknown journey phase {value!r}.")
                continue
            if (dimension, tag_key(value)) not in seen:
                seen.add((dimension, tag_key(value)))
                out.append((dimension, value))
    return out


def set_status(user: User, module: ContentModule, status: str) -> ContentModule:
    return save_module(user, module=module, fields={"status": status})


# ---- events and ratings ---------------------------------------------------------------------------


def readable_module(user: User, module_id: int) -> ContentModule:
    module = ContentModule.objects.visible_to(user).filter(pk=module_id).first()
    if module is None:
        raise NotVisible(f"Content module {module_id} not found")
    return module


def visible_opportunity(user: User, opportunity_id: int | None) -> Opportunity | None:
    if opportunity_id is None:
        return None
    opportunity = Opportunity.objects.visible_to(user).filter(pk=opportunity_id).first()
    if opportunity is None:
        raise NotVisible(f"Opportunity {opportunity_id} not found")
    return opportunity


def record_event(user: User, module: ContentModule, kind: str, *, opportunity_id: int | None = None, note: str = "") -> ContentEvent:
    """A view, download, use with a customer (needs a deal the user may see) or share."""
    if not can_read(user):
        raise NotAllowed("Sign in first.")
    if kind not in EventKind.values:
        raise ValidationError({"kind": ["Unknown event kind."]})
    if not ContentModule.objects.visible_to(user).filter(pk=module.pk).exists():
        raise NotVisible(f"Content module {module.pk} not found")
    if kind == EventKind.USE and opportunity_id is None:
        raise ValidationError({"opportunity_id": ["Say which deal you used it with."]})
    if problem := text_problem(str(note), SHORT_MAX, "The note"):
        raise ValidationError({"note": [problem + "."]})
    opportunity = visible_opportunity(user, opportunity_id)
    return ContentEvent.objects.create(module=module, user=user, kind=kind, opportunity=opportunity, note=str(note))


def rating_refusal(user: User, module: ContentModule, settings: EnablementSettings | None = None) -> str | None:
    """Why `user` may not rate `module`, or None when they may (the rules of domain brief section 7)."""
    settings = settings or EnablementSettings.current()
    if not can_read(user):
        return "Sign in first."
    if module.status != ContentStatus.PUBLISHED:
        return "Only published content can be rated."
    if module.owner_id == user.pk or module.authors.filter(pk=user.pk).exists():
        return "Authors do not rate their own content."
    if user.role not in settings.rating_roles:
        allowed = ", ".join(Role(r).label.lower() + "s" for r in settings.rating_roles if r in Role.values) or "nobody"
        return f"Ratings count only from {allowed}."
    if not ContentEvent.objects.filter(module=module, user=user, kind=EventKind.USE).exists():
        return "Record a use with a customer first: ratings count only from people who used the content."
    return None


def rate_module(user: User, module: ContentModule, *, stars: int, comment: str = "") -> ContentRating:
    """Rate (or re-rate) a module after the rules allow it."""
    if not ContentModule.objects.visible_to(user).filter(pk=module.pk).exists():
        raise NotVisible(f"Content module {module.pk} not found")
    try:
        stars = int(stars)
    except (TypeError, ValueError):
        raise ValidationError({"stars": ["Give 1 to 5 stars."]}) from None
    if not 1 <= stars <= 5:
        raise ValidationError({"stars": ["Give 1 to 5 stars."]})
    comment = str(comment).strip()
    if problem := text_problem(comment, COMMENT_MAX, "The comment"):
        raise ValidationError({"comment": [problem + "."]})
    if reason := rating_refusal(user, module):
        raise NotAllowed(reason)
    with transaction.atomic():
        rating, _ = ContentRating.objects.update_or_create(module=module, user=user,
                                                           defaults={"stars": stars, "comment": comment})
    return rating


# ---- win/loss knowledge ----------------------------------------------------------------------------


def save_knowledge(user: User, *, entry: KnowledgeEntry | None = None, kind: str, title: str, body: str,
                   opportunity_id: int | None = None, author_ids: Iterable[int] | None = None) -> KnowledgeEntry:
    """Write a win/loss analysis or best practice; the linked deal must be one the writer may see.
    Only its authors (or leaders/admins) may change an entry later."""
    if not can_read(user):
        raise NotAllowed("Sign in first.")
    if entry is not None and not (user.sees_everything or entry.authors.filter(pk=user.pk).exists() or entry.created_by_id == user.pk):
        raise NotAllowed("Only the entry's authors change it.")
    errors: dict[str, list[str]] = {}
    if kind not in KnowledgeKind.values:
        errors["kind"] = ["Unknown kind."]
    title, body = " ".join(str(title).split())[:200], str(body).strip()
    if not title:
        errors["title"] = ["A title is required."]
    if not body:
        errors["body"] = ["Write the analysis."]
    authors = None
    if author_ids is not None:
        ids = {int(i) for i in author_ids}
        authors = list(User.objects.filter(pk__in=ids, is_active=True))
        if len(authors) != len(ids):
            errors["authors"] = ["Unknown author."]
    if errors:
        raise ValidationError(errors)
    opportunity = visible_opportunity(user, opportunity_id)
    if kind == KnowledgeKind.WIN_LOSS and opportunity is None and entry is None:
        raise ValidationError({"opportunity_id": ["A win/loss analysis is about a deal: choose one."]})
    with transaction.atomic():
        if entry is None:
            entry = KnowledgeEntry(created_by=user)
        entry.kind, entry.title, entry.body = kind, title, body
        if opportunity is not None:
            entry.opportunity = opportunity
            entry.outcome = opportunity.status if opportunity.is_closed else ""
            entry.industry = opportunity.account.industry if opportunity.account_id else ""
        entry.save()
        if authors is not None:
            entry.authors.set(authors or [user])
        elif not entry.authors.exists():
            entry.authors.add(user)
        fulltext.index_entry(entry)
    return entry


def delete_knowledge(user: User, entry: KnowledgeEntry) -> None:
    if not (user.sees_everything or entry.authors.filter(pk=user.pk).exists()):
        raise NotAllowed("Only the entry's authors delete it.")
    with transaction.atomic():
        fulltext.unindex_entry(entry.pk)
        entry.delete()


# ---- settings ---------------------------------------------------------------------------------------


def update_settings(user: User, *, stage_phases: dict | None = None, default_phase: str | None = None,
                    rating_roles: Iterable[str] | None = None, large_deal_amount=None, large_deal_days=None) -> EnablementSettings:
    if not can_change_settings(user):
        raise NotAllowed("Only sales leaders and administrators change the enablement settings.")
    settings = EnablementSettings.current()
    errors: dict[str, list[str]] = {}
    if stage_phases is not None:
        clean = {}
        for stage, phase in stage_phases.items():
            if phase not in JourneyPhase.values:
                errors.setdefault("stage_phases", []).append(f"{stage}: unknown phase {phase!r}.")
            elif " ".join(str(stage).lower().split()):
                clean[" ".join(str(stage).lower().split())] = phase
        settings.stage_phases = clean
    if default_phase is not None:
        if default_phase not in JourneyPhase.values:
            errors["default_phase"] = ["Unknown phase."]
        settings.default_phase = default_phase
    if rating_roles is not None:
        roles = [r for r in rating_roles]
        if any(r not in Role.values for r in roles):
            errors["rating_roles"] = ["Unknown role."]
        settings.rating_roles = roles
    if large_deal_amount is not None:
        try:
            amount = Decimal(str(large_deal_amount))
            if not amount.is_finite() or amount < 0 or amount >= MAX_SAFE_AMOUNT:
                raise InvalidOperation
            settings.large_deal_amount = amount
        except (InvalidOperation, ValueError):
            errors["large_deal_amount"] = [f"Give a positive amount below {MAX_SAFE_AMOUNT:,}."]
    if large_deal_days is not None:
        try:
            days = int(large_deal_days)
            if not 1 <= days <= 3650:
                raise ValueError
            settings.large_deal_days = days
        except (TypeError, ValueError):
            errors["large_deal_days"] = ["Give a number of days between 1 and 3650."]
    if errors:
        raise ValidationError(errors)
    settings.save()
    return settings
