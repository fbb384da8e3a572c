"""Who may see which sales records: the role hierarchy, applied in one place.

- leader, admin (and superusers): every record;
- manager: records owned by anyone in their team and the teams below it, and their own;
- rep: their own records (and accounts they sell into);
- enablement: no sales records (they author content, which has its own rules).

Opportunities in the recycle bin are not in `Opportunity.objects` at all (its default manager hides
them), and their line items, stage history, contact roles and activities leave with them.

Each queryset has `visible_to(user)`; views, API, CLI and reports list records only through it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from .models import User

EVERYONE = None  # scope marker: no owner filter

# The children of an opportunity in the recycle bin leave with it. Their managers do not hide them
# (that would add a join to every query); queries that aggregate children across deals use these.
OPPORTUNITY_NOT_IN_BIN = Q(opportunity__deleted_at__isnull=True)
ACTIVITY_NOT_IN_BIN = Q(opportunity__isnull=True) | Q(opportunity__deleted_at__isnull=True)
# A note is written down, not a touch with the buyer: the "last touch", engagement and activity counts skip it.
BUYER_TOUCH = ~Q(kind="note")


# The team tree, read once per web request (TeamTreePerRequest) instead of at every scope check: a
# manager's page asks for it several times (lists, charts, agendas). Outside a request (CLI, tasks)
# nothing is kept. A team saved or deleted through the ORM, or written by an import, clears it.
_team_tree: ContextVar[dict | None] = ContextVar("dealpilot_team_tree", default=None)


def _team_children() -> dict[int | None, list[int]]:
    from .models import Team

    memo = _team_tree.get()
    if memo is not None and "children" in memo:
        return memo["children"]
    children: dict[int | None, list[int]] = {}
    for tid, parent_id in Team.objects.values_list("id", "parent_id"):
        children.setdefault(parent_id, []).append(tid)
    if memo is not None:
        memo["children"] = children
    return children


def forget_team_tree(*args, **kwargs) -> None:
    """The teams changed: the next scope check reads them again (a signal receiver, and for imports)."""
    memo = _team_tree.get()
    if memo is not None:
        memo.clear()


class TeamTreePerRequest:
    """Middleware: one read of the team tree per request, whatever the page asks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _team_tree.set({})
        try:
            return self.get_response(request)
        finally:
            _team_tree.reset(token)


def team_subtree_ids(team_id: int | None) -> set[int]:
    """The team and every team below it (teams are few, so walk them in memory)."""
    if team_id is None:
        return set()
    children = _team_children()
    found, todo = set(), [team_id]
    while todo:
        tid = todo.pop()
        if tid not in found:
            found.add(tid)
            todo.extend(children.get(tid, []))
    return found


def owner_scope(user: User) -> models.QuerySet | None:
    """The users whose records `user` may see, as a subquery; None means everyone's."""
    from .models import Role, User

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return User.objects.none().values("id")
    if user.sees_everything:
        return EVERYONE
    if user.role == Role.MANAGER:
        teams = team_subtree_ids(user.team_id)
        return User.objects.filter(Q(team_id__in=teams) | Q(id=user.id)).values("id")
    if user.role == Role.REP:
        return User.objects.filter(id=user.id).values("id")
    return User.objects.none().values("id")


class TeamQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> TeamQuerySet:
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.sees_everything:
            return self
        if user.team_id:
            return self.filter(id__in=team_subtree_ids(user.team_id) if user.role == "manager" else {user.team_id})
        return self.none()


class UserQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> UserQuerySet:
        scope = owner_scope(user)
        return self if scope is EVERYONE else self.filter(id__in=scope)


class OwnedQuerySet(models.QuerySet):
    """Records with an `owner`: visible when the owner is in the caller's scope."""

    def visible_to(self, user: User) -> OwnedQuerySet:
        scope = owner_scope(user)
        return self if scope is EVERYONE else self.filter(owner_id__in=scope)


class OpportunityQuerySet(OwnedQuerySet):
    pass


class AccountQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> AccountQuerySet:
        from .models import Opportunity

        scope = owner_scope(user)
        if scope is EVERYONE:
            return self
        sold_into = Opportunity.objects.filter(owner_id__in=scope, account_id__isnull=False).values("account_id")
        return self.filter(Q(owner_id__in=scope) | Q(id__in=sold_into))


class _AccountChildQuerySet(models.QuerySet):
    """Records that hang off an account: visible when the account is."""

    def visible_to(self, user: User):
        from .models import Account

        if owner_scope(user) is EVERYONE:
            return self
        return self.filter(account_id__in=Account.objects.visible_to(user).values("id"))


class PlanUnitQuerySet(_AccountChildQuerySet):
    pass


class ContactQuerySet(_AccountChildQuerySet):
    def visible_to(self, user: User):
        scope = owner_scope(user)
        if scope is EVERYONE:
            return self
        return super().visible_to(user) | self.filter(owner_id__in=scope)


class OpportunityChildQuerySet(models.QuerySet):
    """Line items, stage history, contact roles: visible with their opportunity (so not while it
    is in the recycle bin)."""

    def visible_to(self, user: User):
        scope = owner_scope(user)
        alive = self.filter(OPPORTUNITY_NOT_IN_BIN)
        return alive if scope is EVERYONE else alive.filter(opportunity__owner_id__in=scope)


class ActivityQuerySet(models.QuerySet):
    def visible_to(self, user: User):
        scope = owner_scope(user)
        # an activity logged on an opportunity in the recycle bin goes (and comes back) with it
        alive = self.filter(ACTIVITY_NOT_IN_BIN)
        if scope is EVERYONE:
            return alive
        return alive.filter(Q(owner_id__in=scope) | Q(opportunity__owner_id__in=scope))


class NextStepQuerySet(models.QuerySet):
    def visible_to(self, user: User):
        """A next step is seen by whoever sees its owner's records or its deal's; not while its deal or
        account is in the recycle bin (it comes back with them)."""
        scope = owner_scope(user)
        alive = self.filter(ACTIVITY_NOT_IN_BIN).filter(Q(account__isnull=True) | Q(account__deleted_at__isnull=True))
        if scope is EVERYONE:
            return alive
        return alive.filter(Q(owner_id__in=scope) | Q(opportunity__owner_id__in=scope))
