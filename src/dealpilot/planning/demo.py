"""The demo organisation's records of this app, added by `dealpilot demo` after the CRM import.

`seed_demo()` runs at every `dealpilot demo` start, inside a transaction, and must be idempotent
(it adds what is missing and leaves what a user changed alone): the scoring model is loaded,
owners' ratings of the rated elements are added once (when nobody has rated anything yet), and
account plans for the top A accounts are built once (when no plan exists yet).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

PLANNED_ACCOUNTS = 2
RATED_SHARE = 0.6  # the share of accounts their owners have rated


def _pick(account_id: int, salt: str, options: list[str]) -> str:
    digest = hashlib.sha256(f"{account_id}:{salt}".encode()).digest()
    return options[digest[0] % len(options)]


def _seed_ratings() -> None:
    from dealpilot.crm.models import Account

    from .models import AccountRating
    from .services import active_spec

    if AccountRating.objects.exists():
        return
    rated = [e for e in active_spec().elements if e.kind == "rated"]
    ratings = []
    for account_id, owner_id in Account.objects.filter(owner__isnull=False).order_by("id").values_list("id", "owner_id"):
        if int(hashlib.sha256(str(account_id).encode()).hexdigest(), 16) % 100 >= RATED_SHARE * 100:
            continue
        for element in rated:
            level = _pick(account_id, element.key, [lv.level for lv in element.levels])
            ratings.append(AccountRating(account_id=account_id, element_key=element.key, level=level, rated_by_id=owner_id,
                                         note="Rated at the last account review"))
    AccountRating.objects.bulk_create(ratings, ignore_conflicts=True)


def _seed_plans() -> None:
    from dealpilot.crm.models import Account, Opportunity

    from . import services
    from .models import AccountPlan
    from .selectors import priority_rows

    if AccountPlan.objects.exists():
        return
    candidates = [r for r in priority_rows(None) if r["quadrant"] == "A"]
    today = timezone.localdate()
    made = 0
    for row in candidates:
        account = Account.objects.select_related("owner").get(pk=row["account_id"])
        units = list(account.plan_units.order_by("name")[:3])
        if account.owner is None or len(units) < 2:
            continue
        rep = account.owner
        services.create_plan(rep, account.pk, title=f"{account.name}: account plan {today.year}")
        open_pipeline = sum((o or Decimal(0)) for o in Opportunity.objects.filter(account=account, is_closed=False)
                            .values_list("amount", flat=True))
        services.update_plan(rep, account.pk, review_date=today + timedelta(days=21),
                             pipeline_goal=(Decimal(open_pipeline) * Decimal("1.5")).quantize(Decimal(1000)) or Decimal(100000),
                             summary="Grow from one buying unit to the whole operations organisation.")
        services.add_research(rep, account.pk, "customer", "New COO since spring; a cost-reduction programme across sites.")
        services.add_research(rep, account.pk, "competitor", "The incumbent's contract ends next year; their support is weak.")
        services.add_research(rep, account.pk, "company", "Our reference in the same industry cut cycle times by 18%.")
        first = None
        for i, unit in enumerate(units[:2]):
            scope = services.add_unit(rep, account.pk, unit.pk, strategic=i == 0)
            services.update_unit(rep, scope.pk, goals="Cut order-to-delivery time by 20%", pressures="Margin pressure from larger rivals",
                                 initiatives="Consolidate regional systems" if i == 0 else "",
                                 obstacles="Budget frozen until Q2" if i == 0 else "")
            first = first or scope
        target = (Decimal(row["won_revenue"]) * Decimal("1.2")).quantize(Decimal(1000)) or Decimal(100000)
        revenue = services.add_objective(rep, account.pk, "revenue", f"Grow {first.plan_unit.name}", unit_id=first.pk,
                                         target_amount=target)
        services.add_objective(rep, account.pk, "account", "Become the reference partner for operations")
        strategy = services.add_strategy(rep, revenue.pk, "Land a pilot with the COO's programme team")
        services.add_action(rep, strategy.pk, "Workshop on the cost-reduction programme", owner_id=rep.pk,
                            due_date=today + timedelta(days=10))
        services.add_action(rep, strategy.pk, "Send the industry reference case", owner_id=rep.pk,
                            due_date=today - timedelta(days=3))
        _seed_people(rep, account)
        made += 1
        if made == PLANNED_ACCOUNTS:
            break


def _seed_people(rep, account) -> None:
    """What the account team knows about the top of the account's organisation."""
    from dealpilot.crm.models import Contact

    from . import services

    heads = list(Contact.objects.filter(account=account, reports_to__isnull=True, has_left=False).order_by("id")[:6])
    looks = [("decision_maker", "high", "supporter", "analytical"), ("economic_buyer", "high", "sceptic", "driver"),
             ("champion", "medium", "champion", "expressive"), ("influencer", "medium", "neutral", "amiable"),
             ("technical_buyer", "low", "supporter", "analytical"), ("gatekeeper", "low", "opponent", "driver")]
    for contact, (role, power, attitude, style) in zip(heads, looks):
        services.update_profile(rep, account.pk, contact.pk, decision_role=role, power=power, attitude=attitude,
                                decision_style=style, key_person=power == "high")
    if len(heads) >= 3:
        services.add_influence(rep, account.pk, heads[2].pk, heads[0].pk, "Trusted adviser on operations")
        services.add_influence(rep, account.pk, heads[3 % len(heads)].pk, heads[1].pk, "")


def seed_demo() -> None:
    from .services import active_model

    active_model()
    _seed_ratings()
    _seed_plans()
