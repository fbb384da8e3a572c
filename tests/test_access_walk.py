"""The access proof: every page and API route that takes a record id, called by every role with
ids it must not reach, answers 404 - exactly what an id that does not exist answers - and writes
nothing.

The routes are not listed here: they come from Django's URL resolver (pages) and the OpenAPI
schema (API), so a route added later is walked without touching this file. Each id parameter's
record type is named by the path segment before it (`/accounts/{account_id}`,
`/plan/units/{unit_id}`), so a route with a collection this file does not know fails the test
and names it, rather than going unwalked.

For every (role, route, method) the walk tries:
- every id parameter in turn set to a record of a home the role may not reach (other reps, other
  teams, drafts of others) while the other ids stay reachable - the nested-id case, e.g. my account
  with another rep's plan item - and all ids out of reach together: 404 expected;
- an id that does not exist: 404 expected;
- (reads only) all ids reachable: anything but 404/5xx, so a route that 404s for everyone cannot
  pass for a safe one.
Who may reach what is written below from the rules in docs/security.md, independently of
`visible_to`, which is what is on trial.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.test import Client
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from dealpilot.api import api
from dealpilot.cadence.recurrence import slots
from dealpilot.cadence.services import create_default_cadence
from dealpilot.crm import activities as crm_activities
from dealpilot.crm import records as crm_records
from dealpilot.crm.models import Opportunity, Role
from dealpilot.crm.services import create_api_token
from dealpilot.crm.visibility import team_subtree_ids
from dealpilot.deals import services as deal_services
from dealpilot.enablement import services as content_services
from dealpilot.imports.models import ImportRun, SyncConflict
from dealpilot.notifications.models import TeamWebhook
from dealpilot.planning import services as plan_services
from dealpilot.recycle_bin.registry import KINDS as BIN_KINDS
from dealpilot.recycle_bin.services import move_to_bin
from tests.enablement.conftest import pdf_bytes
from tests.factories import (build_sample_org, make_account, make_activity, make_contact, make_opportunity, make_plan_unit,
                             make_product)

pytestmark = pytest.mark.django_db

MISSING_ID = 2**31 - 1  # fits every id column; no test creates that many rows
# what hangs off an account is seen by whoever sees the account, which includes reps selling into it
ACCOUNT_KINDS = ("account", "contact", "plan", "plan_scope", "objective", "strategy", "action", "research", "influence", "lead")
REPS = ("rep_emea", "rep_dach", "rep_amer")
ROLES = ("rep_emea", "rep_dach", "rep_amer", "manager_emea", "manager_amer", "leader", "admin", "enablement")

# The collection segment before an id parameter -> the record type of that id.
SEGMENT_KINDS = {
    "accounts": "account", "contacts": "contact", "opportunities": "opportunity", "activities": "activity",
    "deals": "opportunity", "people": "contact", "units": "plan_scope", "objectives": "objective",
    "strategies": "strategy", "actions": "action", "research": "research", "objective": "objective",
    "strategy": "strategy", "action": "action", "influences": "influence", "leads": "lead",
    "call-plans": "call_plan", "plan-steps": "plan_step", "modules": "module", "knowledge": "knowledge", "teams": "team",
    "meetings": "meeting", "imports": "import_run", "tokens": "api_token",
    "conflicts": "sync_conflict",  # a re-import conflict (imports/conflicts/{pk}, /api/imports/conflicts/{conflict_id})
    "webhooks": "webhook",  # a team's chat webhook (notifications/webhooks/{webhook_id}/delete/)
    "users": "user",  # a person whose forecast is read or called (forecast/users/{user_id})
    # the recycle bin's /{kind}/{id}: its kinds
    "opportunity": "opportunity", "plan": "plan", "content": "module", "account": "account", "contact": "contact",
    "activity": "activity",
    "next-steps": "next_step", "line-items": "line_item", "contact-roles": "contact_role",
}
# Page path parameters that pick a kind rather than an id (the API's carry an enum in the schema):
# walked with each value.
PAGE_PARAM_CHOICES = {("recycle-bin", "kind"): tuple(BIN_KINDS)}
# The bin's own routes are where deleted records are reached (tests/test_recycle_bin.py): there a
# deleted record is not out of reach for whoever may restore it.
BIN_ROUTES = ("recycle-bin/", "/api/recycle-bin/")
# Administrators' own routes: any other role is refused by its role (403) before any lookup, so the
# answer is the same for every id and reveals nothing; an administrator gets 404 for a missing id.
ADMIN_ROUTES = ("imports/conflicts/", "/api/imports/conflicts/")
# Path parameters that are not record ids, and the value the walk gives them.
VALUE_PARAMS = {
    "element_key": lambda world, ids: "profitability",
    "fmt": lambda world, ids: "pdf",
    "key": lambda world, ids: world.occurrence_key(ids.get("meeting_id")),
}
# Routes not walked, and why.
NOT_WALKED = {
    "cadence/feed/<str:token>/me.ics": "authenticated by the secret token in its URL, not by a session (tests/cadence/test_pages.py)",
    "cadence/feed/<str:token>/teams/<int:team_id>.ics": "authenticated by the secret token in its URL (tests/cadence/test_pages.py)",
    "notifications/unsubscribe/<str:token>/": "authenticated by the signed token in its URL, not by a session "
                                              "(tests/notifications/test_digests.py)",
    "team/csv/<slug:name>/": "takes a report name, no record id (the team page's role check: tests/performance/test_dashboard.py)",
}


@dataclass
class World:
    """The sample organisation with one record of every type per home, and who may reach which home."""

    org: object
    # kind -> home -> id.  Homes: "rep:<name>" (sales records), "team:<key>", "module:draft|published",
    # "knowledge:<name>", "imports", "token:<name>".
    records: dict[str, dict[str, int]] = field(default_factory=dict)
    # (kind, home) -> people who read it besides the home's own readers: reps selling into another
    # rep's account (and so seeing it and what hangs off it), people invited to another team's meeting
    also_read: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)

    def add(self, kind: str, home: str, pk: int) -> None:
        self.records.setdefault(kind, {})[home] = pk

    def occurrence_key(self, meeting_id) -> str:
        return self.keys.get(meeting_id, "20260105T090000Z")

    def may_read(self, username: str, kind: str, home: str) -> bool:
        user = self.org.user(username)
        family, _, owner = home.partition(":")
        if family == "deleted":  # in the recycle bin: gone for everyone, whoever owned it
            return False
        if family == "admin":  # administrators only (re-import conflicts)
            return user.role == Role.ADMIN or user.is_superuser
        if user.role in (Role.LEADER, Role.ADMIN):
            return family != "token" or owner == username
        if family == "hook":  # a team's chat webhook: the managers of that team or one above it
            return user.role == Role.MANAGER and self.org.teams[owner].pk in team_subtree_ids(user.team_id)
        if any(self._reaches(user, other) for other in self.also_read.get((kind, home), ())):
            return True
        if family == "rep":
            return self._reaches(user, owner)
        if family == "team":
            team = self.org.teams[owner]
            if user.role == Role.MANAGER:
                return team.pk in team_subtree_ids(user.team_id)
            return user.role == Role.REP and team.pk == user.team_id
        if family == "module":
            return owner == "published" or user.role == Role.ENABLEMENT
        if family == "knowledge":
            return True  # shared win/loss knowledge: everyone signed in reads it
        if family == "imports":
            return False
        if family == "token":
            return owner == username
        raise AssertionError(f"unknown home {home}")

    def _reaches(self, user, rep_name: str) -> bool:
        """A sales record of `rep_name` is the user's own or, for a manager, in their team's subtree."""
        if user.role == Role.ENABLEMENT:
            return False
        rep = self.org.user(rep_name)
        return user.username == rep_name or (user.role == Role.MANAGER and rep.team_id in team_subtree_ids(user.team_id))


def build_world() -> World:
    org = build_sample_org()
    world = World(org)
    product = make_product("Platform")
    for name in REPS:
        rep, account = org.user(name), org.accounts[name]
        home = f"rep:{name}"
        opportunity = org.opportunities[name][0]
        champion = org.contacts[name]
        other = make_contact(account, first_name="Ola", last_name=f"{name} second", owner=rep)
        unit = make_plan_unit(account, f"{name} operations")
        plan = plan_services.create_plan(rep, account.pk)
        scope = plan_services.add_unit(rep, account.pk, unit.pk)
        objective = plan_services.add_objective(rep, account.pk, "revenue", "Grow", unit_id=scope.pk, target_amount=1)
        strategy = plan_services.add_strategy(rep, objective.pk, "Pilot")
        action = plan_services.add_action(rep, strategy.pk, "Call the COO")
        note = plan_services.add_research(rep, account.pk, "customer", "Annual report read")
        influence = plan_services.add_influence(rep, account.pk, other.pk, champion.pk)
        lead = plan_services.create_lead(rep, account.pk, plan_unit_id=unit.pk, product_id=product.pk)
        call_plan = deal_services.save_call_plan(opportunity, {"call_date": timezone.localdate(), "objective": "Agree the pilot",
                                                               "our_outcomes": "A date"}, user=rep)
        activity = make_activity(rep, opportunity=opportunity)
        next_step = crm_activities.create_next_step(rep, subject="Send the pilot plan", opportunity_id=opportunity.pk)
        line_item = crm_records.add_line_item(rep, opportunity.pk, product_id=product.pk, unit_price=10)
        contact_role = crm_records.set_contact_role(rep, opportunity.pk, contact_id=champion.pk, role="champion")
        deal_services.save_business_case(opportunity, {"investment": 1000, "period": "quarter", "benefits": [500, 900]}, user=rep)
        plan_step = deal_services.add_plan_step(rep, opportunity, {"title": "Security review", "due_date": timezone.localdate()})
        entry = content_services.save_knowledge(rep, kind="best_practice", title=f"{name} lesson", body="Call high, early.")
        for kind, pk in (("account", account.pk), ("contact", champion.pk), ("opportunity", opportunity.pk), ("plan", plan.pk),
                         ("activity", activity.pk), ("plan_scope", scope.pk), ("objective", objective.pk),
                         ("strategy", strategy.pk), ("action", action.pk), ("research", note.pk),
                         ("influence", influence.pk), ("lead", lead.pk), ("call_plan", call_plan.pk),
                         ("next_step", next_step.pk), ("line_item", line_item.pk), ("contact_role", contact_role.pk),
                         ("plan_step", plan_step.pk)):
            world.add(kind, home, pk)
        world.add("knowledge", f"knowledge:{name}", entry.pk)
        world.add("user", home, rep.pk)  # a person's forecast: theirs, their managers', leaders' and admins'

        sellers = set(Opportunity.objects.filter(account=account).exclude(owner=None).values_list("owner__username", flat=True))
        for kind in ACCOUNT_KINDS:
            world.also_read[(kind, home)] = sellers - {name}
    start = timezone.localdate() - timedelta(days=14)
    for key, manager in (("emea", org.manager_emea), ("dach", org.manager_emea), ("amer", org.manager_amer)):
        team = org.teams[key]
        cadence = create_default_cadence(team, by=manager, starts_on=start, time_zone="UTC")
        meeting = cadence.meetings.order_by("pk").first()
        world.add("team", f"team:{key}", team.pk)
        world.add("meeting", f"team:{key}", meeting.pk)
        now = timezone.now()
        world.keys[meeting.pk] = slots([meeting], now - timedelta(days=14), now + timedelta(days=60))[0].key
        world.also_read[("meeting", f"team:{key}")] = set(meeting.attendees.values_list("username", flat=True))
    world.add("team", "team:sales", org.teams["sales"].pk)
    for name in ("manager_emea", "manager_amer"):  # a manager's forecast: theirs, and the leaders' and admins'
        world.add("user", f"rep:{name}", org.user(name).pk)
    for status in ("draft", "published"):
        module = content_services.save_module(org.enablement, fields={"title": f"A {status} playbook", "kind": "playbook",
                                                                      "status": status, "body": "Downtime."}, tags={},
                                            upload=("playbook.pdf", pdf_bytes("Downtime playbook")))
        world.add("module", f"module:{status}", module.pk)
    error_file = Path(settings.IMPORT_ERRORS_DIR) / f"walk-{timezone.now():%H%M%S%f}.csv"
    error_file.parent.mkdir(parents=True, exist_ok=True)
    error_file.write_text("row,reason\r\n2,missing Id\r\n")
    # records in the recycle bin: a deal with a call plan, and a published module
    deleted_deal = make_opportunity(org.rep_emea, org.accounts["rep_emea"], name="deleted deal", stage="Proposal")
    deleted_call = deal_services.save_call_plan(deleted_deal, {"call_date": timezone.localdate(), "objective": "Demo",
                                                               "our_outcomes": "A date"}, user=org.rep_emea)
    deleted_step = deal_services.add_plan_step(org.rep_emea, deleted_deal, {"title": "Demo", "due_date": timezone.localdate()})
    move_to_bin(org.rep_emea, "opportunity", deleted_deal.pk)
    world.add("opportunity", "deleted:rep_emea", deleted_deal.pk)
    world.add("call_plan", "deleted:rep_emea", deleted_call.pk)
    world.add("plan_step", "deleted:rep_emea", deleted_step.pk)
    module = content_services.save_module(org.enablement, fields={"title": "A retired playbook", "kind": "playbook",
                                                                  "status": "published", "body": "Old."}, tags={})
    move_to_bin(org.enablement, "content", module.pk)
    world.add("module", "deleted:enablement", module.pk)
    # an account in the bin with what went with it, and a contact and an activity deleted on their own
    gone = make_account(org.rep_dach, name="deleted account")
    gone_contact = make_contact(gone, last_name="went with its account", owner=org.rep_dach)
    gone_deal = make_opportunity(org.rep_dach, gone, name="went with its account", stage="Proposal")
    gone_call = make_activity(org.rep_dach, opportunity=gone_deal, contact=gone_contact)
    move_to_bin(org.rep_dach, "account", gone.pk)
    for kind, pk in (("account", gone.pk), ("contact", gone_contact.pk), ("opportunity", gone_deal.pk), ("activity", gone_call.pk)):
        world.add(kind, "deleted:rep_dach", pk)
    lone_contact = make_contact(org.accounts["rep_amer"], last_name="deleted alone", owner=org.rep_amer)
    move_to_bin(org.rep_amer, "contact", lone_contact.pk)
    world.add("contact", "deleted:rep_amer", lone_contact.pk)
    lone_call = make_activity(org.rep_amer, opportunity=org.opportunities["rep_amer"][0])
    move_to_bin(org.rep_amer, "activity", lone_call.pk)
    world.add("activity", "deleted:rep_amer", lone_call.pk)
    run = ImportRun.objects.create(kind="salesforce", source_name="export.zip", source_path="/nowhere", created_by=org.leader,
                                   rows_rejected=1, error_file=str(error_file))
    world.add("import_run", "imports", run.pk)
    conflict = SyncConflict.objects.create(target="opportunity", record_id=org.opportunities["rep_emea"][0].pk, crm_id="O-1",
                                           field="amount", imported_before="1", crm_value="2", dealpilot_value="3",
                                           raw={"crm": "2", "dealpilot": "3"}, kept="crm", import_run=run)
    world.add("sync_conflict", "admin:conflicts", conflict.pk)
    for key in ("emea", "amer"):
        hook = TeamWebhook.objects.create(team=org.teams[key], name=f"#{key}", url=f"https://hooks.example.com/{key}")
        world.add("webhook", f"hook:{key}", hook.pk)
    for name in ROLES:
        token, _raw = create_api_token(org.user(name), "walk")
        world.add("api_token", f"token:{name}", token.pk)
    return world


# ---- the routes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One path template and method; `params` in path order: (name, kind or None for a value param, enum values)."""

    where: str  # "page" or "api"
    template: str  # with {name} placeholders
    method: str
    params: tuple
    body: dict | None = None

    def url(self, values: dict) -> str:
        return "/" + self.template.lstrip("/").format(**values)


def _param_kind(segments: list[str], index: int, enum_choice: dict) -> str | None:
    name = segments[index].strip("{}")
    if name in VALUE_PARAMS or name in enum_choice:
        return None
    before = segments[index - 1]
    if before.startswith("{"):  # /plan/{kind}/{item_id}: the kind parameter names it
        before = enum_choice[before.strip("{}")]
    if before not in SEGMENT_KINDS:
        raise AssertionError(f"{'/'.join(segments)}: the id '{name}' follows '{before}', which this walk does not know; "
                             "add it to SEGMENT_KINDS (or VALUE_PARAMS if it is not a record id)")
    return SEGMENT_KINDS[before]


def _split(template: str) -> list[str]:
    return [s for s in re.split(r"/", template) if s]


def _walk_resolver(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk_resolver(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def page_routes(*, with_ids_only: bool = True) -> list[Route]:
    routes = []
    for pattern in _walk_resolver(get_resolver().url_patterns):
        if pattern.startswith(("api/", "admin/")) or ("<" not in pattern and with_ids_only) or pattern in NOT_WALKED:
            continue
        template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern)
        # "export.<fmt>" and "<team_id>.ics" keep their suffix in the segment; the parameter is what matters
        segments = [re.sub(r"^(\w*)\.?\{(\w+)\}.*$", r"{\2}", s) if "{" in s else s for s in _split(template)]
        choices = [{}]
        for name in (s.strip("{}") for s in segments if s.startswith("{")):
            values = PAGE_PARAM_CHOICES.get((segments[0], name), ())
            choices = [{**c, name: v} for c in choices for v in values] if values else choices
        for choice in choices:
            chosen = [choice.get(s.strip("{}"), s) for s in segments]
            params = tuple((s.strip("{}"), _param_kind(chosen, i, choice), ()) for i, s in enumerate(chosen) if s.startswith("{"))
            filled = template
            for name, value in choice.items():
                filled = filled.replace("{" + name + "}", value)
            for method in ("get", "post"):
                routes.append(Route("page", filled, method, params))
    return routes


def _minimal(schema: dict, components: dict):
    """The smallest value that validates against a JSON schema (required fields only)."""
    if "$ref" in schema:
        return _minimal(components[schema["$ref"].rsplit("/", 1)[1]], components)
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            options = [s for s in schema[combinator] if s.get("type") != "null"]
            return _minimal(options[0], components)
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object":
        return {name: _minimal(schema["properties"][name], components) for name in schema.get("required", [])}
    if kind == "array":
        return [_minimal(schema["items"], components) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if schema.get("format") == "date":
        return timezone.localdate().isoformat()
    if schema.get("format") in ("time", "partial-time"):
        return "09:00:00"
    if schema.get("format") == "date-time":
        return timezone.now().isoformat()
    return "x" * max(1, schema.get("minLength", 1))


def api_routes(*, with_ids_only: bool = True) -> list[Route]:
    schema = api.get_openapi_schema()
    components = schema.get("components", {}).get("schemas", {})
    routes = []
    for path, operations in schema["paths"].items():
        if "{" not in path and with_ids_only:
            continue
        segments = _split(path)
        for method, operation in operations.items():
            path_params = [p for p in operation.get("parameters", []) if p["in"] == "path"]
            enums = {p["name"]: p["schema"]["enum"] for p in path_params if "enum" in p["schema"]}
            body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            body = _minimal(body_schema, components) if body_schema else None
            # an enum path parameter (the kind of a plan item) is walked with each of its values
            choices = [{}]
            for name, values in enums.items():
                choices = [{**c, name: v} for c in choices for v in values]
            for choice in choices:
                template = path
                for name, value in choice.items():
                    template = template.replace("{" + name + "}", value)
                chosen = [s if s.strip("{}") not in choice else choice[s.strip("{}")] for s in segments]
                params = tuple((s.strip("{}"), _param_kind(chosen, i, choice), ()) for i, s in enumerate(chosen)
                               if s.startswith("{"))
                routes.append(Route("api", template, method, params, body))
    return routes


# ---- the walk ---------------------------------------------------------------------------------------


def _call(client, route: Route, values: dict):
    url = route.url(values)
    if route.where == "api":
        data = json.dumps(route.body) if route.body is not None else None
        return client.generic(route.method.upper(), url, data=data or "", content_type="application/json")
    return client.get(url) if route.method == "get" else client.post(url, {})


def _reachable_home(world: World, username: str, kind: str) -> str | None:
    homes = world.records.get(kind, {})
    own = [h for h in homes if h.endswith(":" + username)]
    for home in own + sorted(homes):
        if world.may_read(username, kind, home):
            return home
    return None


def reachable_values(world, route, username: str) -> dict:
    """A route's path parameters filled with records `username` reaches (and the non-id values)."""
    values = {}
    for name, kind, _ in route.params:
        if kind is not None:
            home = _reachable_home(world, username, kind)
            values[name] = world.records[kind][home] if home else MISSING_ID  # a route of another role's
    for name, kind, _ in route.params:
        if kind is None:
            values[name] = VALUE_PARAMS[name](world, values)
    return values


def _cases(world: World, username: str, route: Route):
    """(label, values, expect_404) for one role and route."""
    ids = [(name, kind) for name, kind, _ in route.params if kind]
    reachable = {name: _reachable_home(world, username, kind) for name, kind in ids}

    def values(chosen: dict[str, int]) -> dict:
        out = dict(chosen)
        for name, kind, _ in route.params:
            if kind is None:
                out[name] = VALUE_PARAMS[name](world, out)
        return out

    base = {name: world.records[kind][home] for (name, kind) in ids if (home := reachable[name])}
    for name, kind in ids:
        for home, pk in world.records[kind].items():
            if world.may_read(username, kind, home) or (home.startswith("deleted:") and route.template.startswith(BIN_ROUTES)):
                continue
            # the other ids from their reachable home, or, where the role reaches none, from this one
            chosen = {other: base.get(other, world.records[okind].get(home, MISSING_ID)) for other, okind in ids}
            chosen[name] = pk
            yield f"{name}={kind}@{home}", values(chosen), True
        chosen = {other: base.get(other, MISSING_ID) for other, _ in ids}
        chosen[name] = MISSING_ID
        yield f"{name}=missing", values(chosen), True
    if route.method == "get" and all(reachable.values()):
        yield "reachable", values(base), False


def _snapshot() -> dict[str, list]:
    """Every row of the app's tables (sessions and login throttling aside): what a refused write must leave alone."""
    out = {}
    for model in apps.get_models():
        if model._meta.app_label in ("sessions", "axes", "admin", "contenttypes", "auth", "django_tasks_database"):
            continue
        columns = [f.attname for f in model._meta.concrete_fields if f.name != "last_login"]  # force_login sets it
        out[model._meta.label] = sorted(map(repr, model._base_manager.values_list(*columns)))
    return out


def test_every_route_with_an_id_answers_404_for_records_out_of_reach(client, capsys):
    world = build_world()
    routes = page_routes() + api_routes()
    before = _snapshot()
    leaks, tried, reachable_checked, unsupported = [], 0, 0, set()
    reads_ok: list[tuple[str, Route, dict]] = []
    for username in ROLES:
        client.force_login(world.org.user(username))
        for route in routes:
            for label, vals, expect_404 in _cases(world, username, route):
                if not expect_404:
                    reads_ok.append((username, route, vals))
                    continue
                response = _call(client, route, vals)
                if response.status_code == 405:  # a page that does not take this method, whatever the id
                    unsupported.add((route.template, route.method))
                    break
                tried += 1
                refused_by_role = (response.status_code == 403 and route.template.startswith(ADMIN_ROUTES)
                                   and not world.may_read(username, "sync_conflict", "admin:conflicts"))
                if response.status_code != 404 and not refused_by_role:
                    leaks.append(f"{username} {route.method.upper()} {route.url(vals)} [{label}] -> {response.status_code}")
    after = _snapshot()
    changed = [label for label in before if before[label] != after[label]]
    # Reads of what the role may reach, last (some pages record a view). An API read answers 200 to
    # everyone who reaches the record; a page may still be for some roles only (an edit page for
    # authors), but each page must answer somebody - a route that 404s for all proves nothing.
    answered: dict[str, bool] = {}
    for username, route, vals in reads_ok:
        client.force_login(world.org.user(username))
        response = _call(client, route, vals)
        reachable_checked += 1
        ok = response.status_code == 200 if route.where == "api" else response.status_code < 400
        answered[route.template] = answered.get(route.template, False) or ok
        if response.status_code >= 500 or (route.where == "api" and not ok):
            leaks.append(f"{username} GET {route.url(vals)} [reachable] -> {response.status_code} (expected 200)")
    leaks += [f"GET {template}: no role got a page for a record it reaches" for template, ok in answered.items() if not ok]
    with capsys.disabled():
        walked = {(r.template, r.method) for r in routes} - unsupported
        print(f"\naccess walk: {tried} requests for records out of reach or missing, {reachable_checked} reads of reachable "
              f"records, over {len(walked)} route/method pairs and {len(ROLES)} roles; {len(leaks)} wrong answers")
    assert not changed, f"refused requests changed rows of: {changed}"
    assert not leaks, "\n".join(leaks)
    assert tried > 1000  # the walk really walked


def test_every_form_and_api_write_refuses_a_session_post_without_the_csrf_token():
    """A forged cross-site POST carries the victim's session cookie but not the CSRF token: every
    page that takes a POST and every unsafe API operation (for session callers) refuses it with 403,
    and nothing changes. Walked as the leader, who reaches every record, so no 404 hides a missing check."""
    world = build_world()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.org.leader)
    routes = [r for r in page_routes(with_ids_only=False) if r.method == "post"]
    routes += [r for r in api_routes(with_ids_only=False) if r.method in ("post", "put", "patch", "delete")]
    before = _snapshot()
    wrong, tried = [], 0
    for route in routes:
        values = reachable_values(world, route, "leader")
        response = _call(browser, route, values)
        if response.status_code == 405:  # a page that takes no POST
            continue
        tried += 1
        if response.status_code != 403:
            wrong.append(f"{route.method.upper()} {route.url(values)} -> {response.status_code}")
    assert _snapshot() == before
    assert not wrong, "accepted without a CSRF token:\n" + "\n".join(wrong)
    assert tried > 50, tried
