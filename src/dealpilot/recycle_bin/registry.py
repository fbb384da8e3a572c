"""The kinds of record that go to the recycle bin, and who may delete (and restore) each.

Deleting is editing: a sales record may be deleted by whoever may edit it, which in dealpilot is
whoever may see it (a rep their own opportunities, a manager their team subtree's, leaders and
admins all); an account plan by whoever may see its account; a content module by its owner, its
credited authors, and the authoring roles (enablement, leaders, admins)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from django.db import models
from django.db.models import Q
from django.urls import reverse


@dataclass(frozen=True)
class BinKind:
    key: str  # in URLs: /api/recycle-bin/{key}/{id}/restore
    label: str
    model_label: str  # app_label.Model
    manageable: Callable[..., models.QuerySet]  # (user) -> the records, deleted or not, the user may delete/restore
    page_url: Callable[[models.Model], str]  # where the record lives once restored
    list_url: str  # where to go after deleting it

    def all_records(self) -> models.QuerySet:
        """Every record of the kind, deleted or not, whoever owns it (the purge)."""
        from django.apps import apps

        return apps.get_model(self.model_label).all_objects.all()


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


KINDS: dict[str, BinKind] = {
    "opportunity": BinKind("opportunity", "Opportunity", "crm.Opportunity", _opportunities,
                           lambda o: reverse("crm:opportunity_detail", args=[o.pk]), "crm:opportunity_list"),
    "plan": BinKind("plan", "Account plan", "planning.AccountPlan", _plans,
                    lambda p: reverse("planning:plan", args=[p.account_id]), "planning:priorities"),
    "content": BinKind("content", "Content module", "enablement.ContentModule", _content,
                       lambda m: reverse("enablement:module_detail", args=[m.pk]), "enablement:library"),
}
