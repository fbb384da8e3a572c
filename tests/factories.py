"""Plain functions that create CRM records through the ORM, for any test to reuse.

Each `make_*` takes the few arguments a test cares about and fills the rest with sensible,
unique values. `build_sample_org()` creates a small organisation with every role, used by the
visibility tests of pages and API; `build_showcase_org()` a realistic one for screenshots.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from dealpilot.crm.models import (
    Account,
    Activity,
    ContactRole,
    Contact,
    LineItem,
    Opportunity,
    OpportunityContactRole,
    PlanUnit,
    Product,
    Role,
    StageHistory,
    Team,
    User,
)

PASSWORD = "correct-horse-battery-staple"
_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


def aware(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def make_team(name: str | None = None, parent: Team | None = None, **fields) -> Team:
    return Team.objects.create(name=name or f"Team {_n()}", parent=parent, **fields)


def make_user(role: str = Role.REP, *, team: Team | None = None, manager: User | None = None, username: str | None = None,
              full_name: str | None = None, password: str = PASSWORD, **fields) -> User:
    username = username or f"{role}{_n()}"
    user = User(username=username, role=role, team=team, manager=manager, full_name=full_name or username.replace(".", " ").title(),
                **fields)
    user.set_password(password)
    user.save()
    return user


def make_account(owner: User | None = None, *, name: str | None = None, industry: str = "Software", region: str = "EMEA",
                 country: str = "Germany", currency: str = "USD", **fields) -> Account:
    return Account.objects.create(name=name or f"Account {_n()}", owner=owner, industry=industry, region=region, country=country,
                                  currency=currency, **fields)


def make_plan_unit(account: Account, name: str | None = None) -> PlanUnit:
    return PlanUnit.objects.create(account=account, name=name or f"Unit {_n()}")


def make_contact(account: Account | None, *, first_name: str = "Alex", last_name: str | None = None, title: str = "",
                 plan_unit: PlanUnit | None = None, reports_to: Contact | None = None, owner: User | None = None, **fields) -> Contact:
    return Contact.objects.create(account=account, first_name=first_name, last_name=last_name or f"Contact{_n()}", title=title,
                                  plan_unit=plan_unit, reports_to=reports_to, owner=owner, **fields)


def make_product(name: str | None = None, **fields) -> Product:
    return Product.objects.create(name=name or f"Product {_n()}", **fields)


def make_opportunity(owner: User | None, account: Account | None = None, *, name: str | None = None, stage: str = "Qualification",
                     amount: Decimal | int | str | None = Decimal("10000"), status: str = "open", currency: str = "USD",
                     close_date: date | None = None, created_date: date | None = None, **fields) -> Opportunity:
    """`status` is open, won or lost (sets is_closed / is_won)."""
    if status not in ("open", "won", "lost"):
        raise ValueError(status)
    today = timezone.localdate()
    return Opportunity.objects.create(
        owner=owner, account=account, name=name or f"Opportunity {_n()}", stage=stage,
        amount=Decimal(str(amount)) if amount is not None else None, currency=currency,
        is_closed=status != "open", is_won=status == "won",
        close_date=close_date or today + timedelta(days=30), created_date=created_date or today - timedelta(days=60), **fields,
    )


def add_line_item(opportunity: Opportunity, product: Product | None = None, *, quantity: int | str = 1,
                  unit_price: Decimal | int | str = 1000) -> LineItem:
    quantity, unit_price = Decimal(str(quantity)), Decimal(str(unit_price))
    return LineItem.objects.create(opportunity=opportunity, product=product or make_product(), quantity=quantity,
                                   unit_price=unit_price, total_price=quantity * unit_price)


def add_stage_change(opportunity: Opportunity, stage: str, on: date | datetime, *, amount=None, probability=None,
                     changed_by: User | None = None) -> StageHistory:
    changed_at = on if isinstance(on, datetime) else aware(on)
    return StageHistory.objects.create(opportunity=opportunity, stage=stage, changed_at=changed_at,
                                       amount=Decimal(str(amount)) if amount is not None else None,
                                       probability=Decimal(str(probability)) if probability is not None else None,
                                       changed_by=changed_by)


def add_contact_role(opportunity: Opportunity, contact: Contact, role: str = ContactRole.INFLUENCER, *,
                     is_primary: bool = False) -> OpportunityContactRole:
    return OpportunityContactRole.objects.create(opportunity=opportunity, contact=contact, role=role, is_primary=is_primary)


def make_activity(owner: User | None, *, kind: str = "call", opportunity: Opportunity | None = None, account: Account | None = None,
                  contact: Contact | None = None, activity_date: date | None = None, subject: str | None = None, **fields) -> Activity:
    if account is None and opportunity is not None:
        account = opportunity.account
    return Activity.objects.create(owner=owner, kind=kind, opportunity=opportunity, account=account, contact=contact,
                                   activity_date=activity_date or timezone.localdate(), subject=subject or f"Activity {_n()}",
                                   **fields)


# ---- a small organisation with every role -----------------------------------------------------


@dataclass
class SampleOrg:
    """Sales (leader) > EMEA (manager_emea, rep_emea) > DACH (rep_dach); Sales > Americas
    (manager_amer, rep_amer); plus an admin and an enablement author without records.

    Every rep owns one account with an open and a won opportunity, a contact and an activity;
    rep_amer also sells into rep_emea's account (an opportunity of theirs on it); manager_emea
    owns a deal; one deal has no owner and no account."""

    teams: dict[str, Team]
    leader: User
    admin: User
    manager_emea: User
    manager_amer: User
    rep_emea: User
    rep_dach: User
    rep_amer: User
    enablement: User
    accounts: dict[str, Account] = field(default_factory=dict)
    opportunities: dict[str, list[Opportunity]] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    activities: dict[str, Activity] = field(default_factory=dict)

    @property
    def reps(self) -> list[User]:
        return [self.rep_emea, self.rep_dach, self.rep_amer]

    def user(self, name: str) -> User:
        return getattr(self, name)

    def opportunity_ids(self, *owners: str) -> set[int]:
        return {o.pk for name in owners for o in self.opportunities.get(name, [])}

    def all_opportunity_ids(self) -> set[int]:
        return set(Opportunity.objects.values_list("pk", flat=True))

    # who sees which owners' records (the role hierarchy of crm/visibility.py)
    SCOPES = {
        "leader": None,  # everyone
        "admin": None,
        "manager_emea": ("manager_emea", "rep_emea", "rep_dach"),
        "manager_amer": ("manager_amer", "rep_amer"),
        "rep_emea": ("rep_emea",),
        "rep_dach": ("rep_dach",),
        "rep_amer": ("rep_amer",),
        "enablement": (),
    }

    def visible_opportunity_ids(self, viewer: str) -> set[int]:
        scope = self.SCOPES[viewer]
        return self.all_opportunity_ids() if scope is None else self.opportunity_ids(*scope)


def build_sample_org() -> SampleOrg:
    sales = make_team("Sales")
    emea = make_team("EMEA", parent=sales)
    dach = make_team("DACH", parent=emea)
    amer = make_team("Americas", parent=sales)
    leader = make_user(Role.LEADER, team=sales, username="leader", full_name="Lena Leader")
    org = SampleOrg(
        teams={"sales": sales, "emea": emea, "dach": dach, "amer": amer},
        leader=leader,
        admin=make_user(Role.ADMIN, username="admin", full_name="Ada Admin", is_staff=True),
        manager_emea=make_user(Role.MANAGER, team=emea, manager=leader, username="manager_emea", full_name="Emil Manager"),
        manager_amer=make_user(Role.MANAGER, team=amer, manager=leader, username="manager_amer", full_name="Amy Manager"),
        rep_emea=None, rep_dach=None, rep_amer=None,  # type: ignore[arg-type]
        enablement=make_user(Role.ENABLEMENT, username="enablement", full_name="Eve Enablement"),
    )
    org.rep_emea = make_user(Role.REP, team=emea, manager=org.manager_emea, username="rep_emea", full_name="Erik Rep")
    org.rep_dach = make_user(Role.REP, team=dach, manager=org.manager_emea, username="rep_dach", full_name="Dora Rep")
    org.rep_amer = make_user(Role.REP, team=amer, manager=org.manager_amer, username="rep_amer", full_name="Andy Rep")

    regions = {"rep_emea": ("EMEA", "France"), "rep_dach": ("EMEA", "Germany"), "rep_amer": ("Americas", "United States")}
    for name, (region, country) in regions.items():
        rep = org.user(name)
        account = make_account(rep, name=f"{name} account", region=region, country=country, industry="Manufacturing")
        contact = make_contact(account, first_name="Chris", last_name=f"{name} contact", owner=rep)
        open_opp = make_opportunity(rep, account, name=f"{name} open deal", stage="Proposal", amount=50000, probability=60)
        won_opp = make_opportunity(rep, account, name=f"{name} won deal", stage="Closed Won", amount=20000, status="won",
                                   close_date=timezone.localdate() - timedelta(days=10))
        org.accounts[name] = account
        org.contacts[name] = contact
        org.opportunities[name] = [open_opp, won_opp]
        org.activities[name] = make_activity(rep, opportunity=open_opp, contact=contact, subject=f"{name} discovery call")
    # a manager's own deal, and rep_amer selling into rep_emea's account
    org.opportunities["manager_emea"] = [make_opportunity(org.manager_emea, org.accounts["rep_emea"], name="manager_emea own deal",
                                                          stage="Negotiation", amount=5000)]
    org.opportunities["rep_amer"].append(
        make_opportunity(org.rep_amer, org.accounts["rep_emea"], name="rep_amer cross-sell", stage="Qualification", amount=7000)
    )
    # an ownerless deal (e.g. its CRM owner left): only leaders and admins see it
    org.opportunities["unowned"] = [make_opportunity(None, None, name="unowned deal", stage="Prospecting", amount=1000)]
    return org


# ---- a realistic organisation for screenshots and browser tests ----------------------------------

SHOWCASE_ACCOUNTS = [
    # name, industry, region, country, employees, revenue (USD), owner key
    ("Northwind Logistics", "Transportation", "EMEA", "Netherlands", 4200, 1_250_000_000, "sofia"),
    ("Globex Manufacturing", "Manufacturing", "Americas", "United States", 18000, 6_400_000_000, "marcus"),
    ("Initech Financial", "Financial Services", "Americas", "Canada", 2600, 910_000_000, "marcus"),
    ("Helvetia Pharma", "Life Sciences", "EMEA", "Switzerland", 9400, 3_800_000_000, "sofia"),
    ("Umbrella Retail Group", "Retail", "EMEA", "United Kingdom", 12500, 2_100_000_000, "jonas"),
    ("Stark Energy Systems", "Energy", "Americas", "United States", 7300, 4_450_000_000, "priya"),
    ("Tyrell Biotech", "Life Sciences", "APAC", "Singapore", 1900, 480_000_000, "priya"),
    ("Wayne Aerospace", "Manufacturing", "Americas", "United States", 21000, 9_900_000_000, "marcus"),
    ("Nordic Telecom", "Telecommunications", "EMEA", "Sweden", 6800, 2_700_000_000, "jonas"),
    ("Cyberdyne Software", "Technology", "APAC", "Japan", 3100, 760_000_000, "priya"),
]

STAGES = [("Prospecting", 10), ("Qualification", 20), ("Needs Analysis", 35), ("Proposal", 60), ("Negotiation", 80)]
DEAL_NAMES = ["Platform expansion", "Analytics rollout", "Supply chain visibility", "Customer portal", "Data migration",
              "Security upgrade", "Renewal 2026", "Field service pilot", "Global rollout", "Forecasting suite"]


def build_showcase_org() -> dict:
    """A believable sales organisation: a leader, two managers, four reps, ten accounts with plan
    units and contacts, thirty opportunities across every stage, line items, stage history and
    activities. Returns {"leader": user, "opportunity": a rich open deal, "account": its account}."""
    sales = make_team("Global Sales")
    emea = make_team("EMEA", parent=sales)
    amer = make_team("Americas & APAC", parent=sales)
    leader = make_user(Role.LEADER, team=sales, username="claire.leader", full_name="Claire Donovan")
    m_emea = make_user(Role.MANAGER, team=emea, manager=leader, username="henrik.mgr", full_name="Henrik Lund")
    m_amer = make_user(Role.MANAGER, team=amer, manager=leader, username="dana.mgr", full_name="Dana Brooks")
    reps = {
        "sofia": make_user(Role.REP, team=emea, manager=m_emea, username="sofia.rep", full_name="Sofia Marino"),
        "jonas": make_user(Role.REP, team=emea, manager=m_emea, username="jonas.rep", full_name="Jonas Berg"),
        "marcus": make_user(Role.REP, team=amer, manager=m_amer, username="marcus.rep", full_name="Marcus Hale"),
        "priya": make_user(Role.REP, team=amer, manager=m_amer, username="priya.rep", full_name="Priya Raman"),
    }
    products = [
        make_product("Dealpilot Platform", code="PLT-ENT", family="Software", list_price=Decimal("85000")),
        make_product("Analytics Add-on", code="ANA-01", family="Software", list_price=Decimal("24000")),
        make_product("Implementation Services", code="SRV-IMP", family="Services", list_price=Decimal("1800")),
        make_product("Premium Support", code="SUP-PRM", family="Support", list_price=Decimal("12000")),
    ]
    today = timezone.localdate()
    people = [("Olivia", "Chen", "Chief Operating Officer"), ("Daniel", "Okafor", "VP Supply Chain"),
              ("Mia", "Schneider", "Director of IT"), ("Lucas", "Fernandes", "Procurement Manager"),
              ("Emma", "Novak", "Operations Analyst")]
    roles = [ContactRole.DECISION_MAKER, ContactRole.ECONOMIC_BUYER, ContactRole.CHAMPION, ContactRole.GATEKEEPER, ContactRole.USER]
    showcase: dict = {"leader": leader}
    k = 0
    for i, (name, industry, region, country, employees, revenue, owner_key) in enumerate(SHOWCASE_ACCOUNTS):
        owner = reps[owner_key]
        currency = "EUR" if country in ("Netherlands", "Switzerland", "Sweden") else "USD"
        account = make_account(owner, name=name, industry=industry, region=region, country=country, employees=employees,
                               annual_revenue=Decimal(revenue), currency=currency,
                               size="enterprise" if employees >= 5000 else "mid-market")
        units = [make_plan_unit(account, u) for u in ("Operations", "Information Technology", "Finance")]
        contacts = []
        for j, (first, last, title) in enumerate(people):
            contacts.append(make_contact(account, first_name=first, last_name=last, title=title, plan_unit=units[j % 3],
                                         reports_to=contacts[0] if j else None, owner=owner,
                                         email=f"{first.lower()}.{last.lower()}@{name.split()[0].lower()}.example"))
        for d in range(3):
            k += 1
            stage_index = (i + d * 2) % (len(STAGES) + 2)
            status = "open" if stage_index < len(STAGES) else ("won" if (i + d) % 3 else "lost")
            stage, prob = STAGES[stage_index] if status == "open" else (("Closed Won", 100) if status == "won" else ("Closed Lost", 0))
            created = today - timedelta(days=40 + 9 * k)
            close = today + timedelta(days=12 * (d + 1) + i * 3) if status == "open" else today - timedelta(days=5 * k)
            opp = make_opportunity(
                owner, account, name=f"{name.split()[0]} {DEAL_NAMES[(i + d) % len(DEAL_NAMES)].lower()}", stage=stage,
                amount=Decimal(35000 + ((i * 7 + d * 13) % 11) * 18500), currency=currency, status=status,
                probability=Decimal(prob), created_date=created, close_date=close,
                source=["inbound", "outbound", "referral", "partner", "existing"][(i + d) % 5],
                forecast_category=("Commit" if prob >= 60 else "Pipeline") if status == "open" else ("Closed" if status == "won" else "Omitted"),
                lost_reason="Lost to a competitor on price" if status == "lost" else "",
                description="The customer wants to cut order-to-delivery time by 20% before the peak season." if d != 1 else "",
            )
            add_line_item(opp, products[0], quantity=1, unit_price=opp.amount * Decimal("0.6"))
            add_line_item(opp, products[2], quantity=40, unit_price=opp.amount * Decimal("0.4") / 40)
            reached = STAGES[: min(stage_index, len(STAGES) - 1) + 1] if status == "open" else STAGES[:4]
            for s, (sname, sprob) in enumerate(reached):
                add_stage_change(opp, sname, created + timedelta(days=9 * s), amount=opp.amount, probability=sprob, changed_by=owner)
            if status != "open":
                add_stage_change(opp, stage, close, amount=opp.amount, probability=prob, changed_by=owner)
            for c, contact in enumerate(contacts[: 3 + d % 3]):
                add_contact_role(opp, contact, roles[c], is_primary=c == 0)
            for a, (kind, subject) in enumerate([("meeting", "Discovery workshop"), ("call", "Follow-up on business case"),
                                                 ("email", "Sent proposal and ROI summary")][: 1 + d % 3]):
                make_activity(owner, kind=kind, opportunity=opp, contact=contacts[a], subject=subject,
                              activity_date=created + timedelta(days=7 * (a + 1)), direction="outbound")
            if i == 0 and d == 2:  # Northwind, in negotiation
                showcase["opportunity"], showcase["account"] = opp, account
    return showcase
