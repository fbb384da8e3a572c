"""The kinds of record that go to the recycle bin, and who may delete (and restore) each.

Deleting is editing: a sales record may be deleted by whoever may edit it, which in dealpilot is
whoever may see it (a rep their own opportunities, a manager their team subtree's, leaders and
admins all); an account plan by whoever may see its account; a content module by its owner, its
credited authors, and the authoring roles (enablement, leaders, admins).

Records that others' work hangs on are narrower: an account (its contacts, opportunities and
activities go to the bin with it) by whoever owns it in their scope, and only when no opportunity
in it belongs to someone outside that scope; a contact by whoever owns it or its account; an
activity by whoever sees it. `PARENT_PATHS` says what goes (and comes back) with a record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from django.db import models
from django.db.models import F, Q
from django.urls import reverse


@dataclass(frozen=True)
class BinKind:
    key: str  # in URLs: /api/recycle-bin/{key}/{id}/restore
    label: str
    model_label: str  # app_label.Model
    manageable: Callable[..., models.QuerySet]  # (user) -> the records, deleted or not, the user may delete/restore
    page_url: Callable[[models.Model], str]  # where the record lives once restored
    list_url: str  # where to go after deleting it

    @property
    def model(self) -> type[models.Model]:
        from django.apps import apps

        return apps.get_model(self.model_label)

    def all_records(self) -> models.QuerySet:
        """Every record of the kind, deleted or not, whoever owns it (the purge)."""
        return self.model.all_objects.all()


def _opportunities(user) -> models.QuerySet:
    from dealpilot.crm.models import Opportunity

    return Opportunity.all_objects.visible_to(user)


def _plans(user) -> models.QuerySet:
    from dealpilot.crm.models import Account
    from dealpilot.planning.models import AccountPlan

    return AccountPlan.all_objects.filter(account__in=Account.objects.visible_to(user).values("id"))


def _content(user) -> models.QuerySet:
    from dealpilot.enablement.access import can_author
    from dealpilot.enablement.models import ContentModule

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ContentModule.all_objects.none()
    if can_author(user):
        return ContentModule.all_objects.all()
    mine = ContentModule.all_objects.filter(Q(owner=user) | Q(authors=user)).values("id")
    return ContentModule.all_objects.filter(id__in=mine)


def _accounts(user) -> models.QuerySet:
    from dealpilot.crm.models import Account
    from dealpilot.crm.visibility import EVERYONE, owner_scope

    scope = owner_scope(user)
    return Account.all_objects.all() if scope is EVERYONE else Account.all_objects.filter(owner_id__in=scope)


def _contacts(user) -> models.QuerySet:
    from dealpilot.crm.models import Account, Contact
    from dealpilot.crm.visibility import EVERYONE, owner_scope

    scope = owner_scope(user)
    if scope is EVERYONE:
        return Contact.all_objects.all()
    return Contact.all_objects.filter(Q(owner_id__in=scope) | Q(account__owner_id__in=scope))


def _activities(user) -> models.QuerySet:
    from dealpilot.crm.models import Activity

    return Activity.all_objects.visible_to(user)


# What goes to the bin with what: for each kind, the paths from one of its records to the records
# whose deletion takes it along, and the kind at each path's end. The cascade (which records go, and
# come back, with a record), the bin's list (which records were deleted with a parent) and a restore's
# refusal (which parent to restore instead) are all read from this one table.
PARENT_PATHS: dict[str, dict[str, str]] = {
    "contact": {"account": "account"},
    "opportunity": {"account": "account"},
    "activity": {"account": "account", "contact": "contact", "contact__account": "account"},
}


def went_with(kind: str, record, child_kind: str) -> Q:
    """Records of `child_kind` that hang off `record` (of `kind`), as a filter."""
    link = Q(pk__in=[])
    for path, parent_kind in PARENT_PATHS.get(child_kind, {}).items():
        if parent_kind == kind:
            link |= Q(**{path: record})
    return link


def cascade_kinds(kind: str) -> list[str]:
    """The kinds whose records go to the bin (and come back) with a record of `kind`."""
    return [child for child, paths in PARENT_PATHS.items() if kind in paths.values()]


def children_of(kind: str, record) -> dict[str, models.QuerySet]:
    """The records that go to the bin with `record` (alive ones only), by kind."""
    return {child: KINDS[child].model.objects.filter(went_with(kind, record, child)) for child in cascade_kinds(kind)}


def without_those_deleted_with_a_parent(kind: str, queryset: models.QuerySet) -> models.QuerySet:
    """The bin lists what someone deleted, not what went with it (it comes back with its parent)."""
    same_moment = Q(pk__in=[])
    for path in PARENT_PATHS.get(kind, {}):
        same_moment |= Q(**{f"{path}__deleted_at": F("deleted_at")})
    return queryset.exclude(same_moment)


def parent_in_bin(kind: str, record):
    """The record in the bin that `record` went there with (same moment), or None: such a record
    comes back with its parent, not on its own."""
    if record.deleted_at is None:
        return None
    for path, parent_kind in PARENT_PATHS.get(kind, {}).items():
        parent_id = (type(record).all_objects.filter(pk=record.pk, **{f"{path}__deleted_at": record.deleted_at})
                     .values_list(path, flat=True).first())
        if parent_id is not None:
            return KINDS[parent_kind].model.all_objects.get(pk=parent_id)
    return None


KINDS: dict[str, BinKind] = {
    "opportunity": BinKind("opportunity", "Opportunity", "crm.Opportunity", _opportunities,
                           lambda o: reverse("crm:opportunity_detail", args=[o.pk]), "crm:opportunity_list"),
    "plan": BinKind("plan", "Account plan", "planning.AccountPlan", _plans,
                    lambda p: reverse("planning:plan", args=[p.account_id]), "planning:priorities"),
    "content": BinKind("content", "Content module", "enablement.ContentModule", _content,
                       lambda m: reverse("enablement:module_detail", args=[m.pk]), "enablement:library"),
    "account": BinKind("account", "Account", "crm.Account", _accounts,
                       lambda a: reverse("crm:account_detail", args=[a.pk]), "crm:account_list"),
    "contact": BinKind("contact", "Contact", "crm.Contact", _contacts,
                       lambda c: reverse("crm:account_detail", args=[c.account_id]) if c.account_id else reverse("crm:account_list"),
                       "crm:account_list"),
    "activity": BinKind("activity", "Activity", "crm.Activity", _activities,
                        lambda a: (reverse("crm:opportunity_detail", args=[a.opportunity_id]) if a.opportunity_id else
                                   reverse("crm:account_detail", args=[a.account_id]) if a.account_id else reverse("crm:account_list")),
                        "crm:opportunity_list"),
}
